"""``artifacts.json``: what ``ganscope artifacts`` writes (one validated result), and its views for the report
and the unit browser.

Both views are optional extras on top of a dissection, so an absent or invalid file means
"no candidates to show", never an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from ganscope.artifacts.quality import QualityResult
from ganscope.artifacts.rank import RankingResult
from ganscope.errors import GanscopeError
from ganscope.experiment import ExperimentResult

ARTIFACTS_FILE = "artifacts.json"


class ArtifactsResult(ExperimentResult):
    """The artifact ranking of one layer, the before/after quality of ablating candidates, and how they were
    measured (``Scorer.describe``)."""

    FILE = ARTIFACTS_FILE
    model: str
    results: str  # the dissection whose top samples were ranked
    dissection_samples: int
    features: str
    reference: str
    reference_samples: int
    reference_seed: int
    discriminator: bool
    reference_discriminator: float | None
    top: int = Field(ge=1)  # candidates shown
    ranking: RankingResult
    quality: QualityResult | None


def _read(directory: Path) -> ArtifactsResult | None:
    try:
        return ArtifactsResult.load(directory / ARTIFACTS_FILE)
    except GanscopeError:
        return None


def artifact_summary(directory: Path) -> dict[str, Any] | None:
    """What the report shows of ``directory/artifacts.json``; None when absent or invalid (optional section)."""
    data = _read(directory)
    if data is None:
        return None
    ranking = data.ranking
    return {"features": data.features, "reference": data.reference, "layer": ranking.layer, "score": ranking.score,
            "top_samples": ranking.top_samples, "random_kid": ranking.random_kid,
            "units": [u.model_dump() for u in ranking.units[: data.top]],
            "quality": None if data.quality is None else data.quality.model_dump(),
            "grid": (directory / "candidates.png").is_file(), "plot": (directory / "artifacts.png").is_file()}


def candidate_ranking(directory: Path, layer: str) -> dict[str, Any] | None:
    """The unit browser's view: ``layer``'s units, worst first, with rank, KID and discriminator logit.

    None when ``directory/artifacts.json`` is absent, invalid or ranks another layer
    (``ganscope artifacts`` ranks one layer per run). ``top`` is how many of them the run
    showed as candidates.
    """
    data = _read(directory)
    if data is None or data.ranking.layer != layer:
        return None
    units = [{"unit": u.unit, "rank": rank, "kid": u.kid, "discriminator": u.discriminator}
             for rank, u in enumerate(data.ranking.units, 1)]
    return {"layer": layer, "score": data.ranking.score, "features": data.features, "top": data.top, "units": units}
