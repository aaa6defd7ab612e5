"""The paint-set file: one validated JSON file in the results directory (``paint_sets.json``).

It holds, for each concept and each of draw and remove, the layer, units and per-unit levels
the paint buttons edit, with the settings and figures that chose them and the fingerprint of
the weights they were computed for. A file computed for other weights is refused on load
(stale sets would paint the wrong units).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ganscope.errors import GanscopeError
from ganscope.experiment import ExperimentResult, Schema

PAINT_SETS_FILE = "paint_sets.json"
Mode = Literal["draw", "remove"]
Ranking = Literal["trained", "iou"]


class Candidate(Schema):
    """One candidate set tried for a button, and its score on the selection samples."""

    layer: str
    ranking: Ranking
    size: int = Field(ge=1)
    gain: float = Field(gt=0, description="the largest gain on the draw levels (1: the concept's own activations)")
    score: float = Field(ge=0, le=1)
    elsewhere: float | None = Field(None, ge=0, le=1, description="draw success where the concept does not belong")


class PaintSet(Schema):
    """What one paint button edits: ``units`` of ``layer`` set to ``levels`` (0 for remove)."""

    concept: str
    mode: Mode
    layer: str
    ranking: Ranking
    units: list[int] = Field(min_length=1)
    levels: list[float]
    score: float = Field(ge=0, le=1, description="draw success or removed share on the selection samples")
    context: str = Field(description="where the draw dabs were placed when choosing")
    candidates: list[Candidate]

    @model_validator(mode="after")
    def _consistent(self) -> PaintSet:
        if len(self.levels) != len(self.units):
            raise ValueError(f"{self.concept} {self.mode}: {len(self.units)} units but {len(self.levels)} levels")
        if len(set(self.units)) != len(self.units) or min(self.units) < 0:
            raise ValueError(f"{self.concept} {self.mode}: units must be distinct and >= 0")
        return self


class Settings(Schema):
    """Everything that determines the sets (a re-run with the same settings and weights reproduces them)."""

    layers: list[str] = Field(min_length=1)
    sizes: list[int] = Field(min_length=1)
    gains: list[float] = Field(min_length=1, description="candidate largest gains of trained draw sets")
    steps: int = Field(ge=1)
    lr: float = Field(gt=0)
    train: list[int] = Field(description="[start, stop) of the training samples")
    selection: list[int] = Field(description="[start, stop) of the samples that choose among candidates")
    seed: int = Field(ge=0)
    dissection: int = Field(ge=1, description="samples of the dissection whose IoU ranking the candidates include")


class PaintSets(ExperimentResult):
    """The result of ``compute_paint_sets``: every button's set, the settings that chose them, the weights."""

    FILE = PAINT_SETS_FILE
    WHAT = "paint sets"
    ARGUMENT = "paint_sets"
    MISSING = "; compute them with `ganscope paint-sets`"
    model: str
    segmenter: str
    weights: str = Field(description="fingerprint of the generator's and segmenter's weights")
    settings: Settings
    sets: list[PaintSet]
    complete: bool = Field(description="false while a run is still adding sets (a re-run resumes it)")

    def get(self, concept: str, mode: Mode) -> PaintSet | None:
        return next((s for s in self.sets if s.concept == concept and s.mode == mode), None)

    def check(self, weights: str, layers: dict[str, int]) -> PaintSets:
        """These sets, if they were computed for ``weights`` and fit the layers' unit counts; else a clear error."""
        if weights != self.weights:
            raise GanscopeError(f"the paint sets were computed for other weights ({self.weights}, these are "
                                f"{weights}); recompute them with `ganscope paint-sets`", argument="paint_sets")
        for s in self.sets:
            if s.layer not in layers or max(s.units) >= layers[s.layer]:
                raise GanscopeError(f"the paint set for {s.mode} {s.concept!r} edits layer {s.layer!r} units "
                                    "this model does not have; recompute them with `ganscope paint-sets`",
                                    argument="paint_sets")
        return self


def find(directory: str | Path | None) -> Path | None:
    """The results directory's paint-set file, if it has one."""
    if directory is None:
        return None
    path = Path(directory) / PAINT_SETS_FILE
    return path if path.is_file() else None
