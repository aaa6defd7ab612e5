"""The report's view of ``artifacts.json``: the top candidates and the before/after rows, if the file is there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ARTIFACTS_FILE = "artifacts.json"


def artifact_summary(directory: Path) -> dict[str, Any] | None:
    """What the report shows of ``directory/artifacts.json``; None when absent or unreadable (optional section)."""
    path = directory / ARTIFACTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ranking, quality = data["ranking"], data.get("quality")
        return {"features": data["features"], "reference": data["reference"], "layer": ranking["layer"],
                "score": ranking["score"], "top_samples": ranking["top_samples"],
                "random_kid": ranking["random_kid"], "units": ranking["units"][: data.get("top", 20)],
                "quality": quality, "grid": (directory / "candidates.png").is_file(),
                "plot": (directory / "artifacts.png").is_file()}
    except (OSError, ValueError, KeyError, TypeError):
        return None
