"""Views of ``artifacts.json`` for the report and the unit browser, if the file is there.

Both are optional extras on top of a dissection, so an absent or unreadable file means
"no candidates to show", never an error.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

ARTIFACTS_FILE = "artifacts.json"


def _read(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / ARTIFACTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def artifact_summary(directory: Path) -> dict[str, Any] | None:
    """What the report shows of ``directory/artifacts.json``; None when absent or unreadable (optional section)."""
    data = _read(directory)
    if data is None:
        return None
    try:
        ranking, quality = data["ranking"], data.get("quality")
        return {"features": data["features"], "reference": data["reference"], "layer": ranking["layer"],
                "score": ranking["score"], "top_samples": ranking["top_samples"],
                "random_kid": ranking["random_kid"], "units": ranking["units"][: data.get("top", 20)],
                "quality": quality, "grid": (directory / "candidates.png").is_file(),
                "plot": (directory / "artifacts.png").is_file()}
    except (KeyError, TypeError):
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        else None


def candidate_ranking(directory: Path, layer: str) -> dict[str, Any] | None:
    """The unit browser's view: ``layer``'s units, worst first, with rank, KID and discriminator logit.

    None when ``directory/artifacts.json`` is absent, unreadable or ranks another layer
    (``ganscope artifacts`` ranks one layer per run). ``top`` is how many of them the run
    showed as candidates.
    """
    data = _read(directory)
    if data is None:
        return None
    try:
        ranking = data["ranking"]
        if ranking["layer"] != layer:
            return None
        if not all(type(u["unit"]) is int for u in ranking["units"]):
            return None
        units = [{"unit": u["unit"], "rank": rank, "kid": _number(u.get("kid")),
                  "discriminator": _number(u.get("discriminator"))}
                 for rank, u in enumerate(ranking["units"], 1)]
        top = data.get("top", 20)
        return {"layer": layer, "score": str(ranking["score"]), "features": str(data.get("features", "")),
                "top": top if type(top) is int and top >= 1 else 20, "units": units}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
