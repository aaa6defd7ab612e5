"""Request and response models of the HTTP API (they also make the OpenAPI schema at /docs)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ganscope.results import UnitResult
from ganscope.server.limits import MAX_COORD, MAX_EDITS, MAX_IMAGES, MAX_POINTS, MAX_UNITS

Coordinate = Annotated[float, Field(ge=-MAX_COORD, le=MAX_COORD)]


class Strict(BaseModel):
    """Unknown fields are errors, so a misspelt option is reported instead of silently ignored."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Finite(BaseModel):
    """The original format's models: extra keys are ignored (old clients send more), numbers must be finite."""

    model_config = ConfigDict(allow_inf_nan=False)


def _either(first: object, second: object, names: str) -> None:
    """Exactly one of two optional fields is set."""
    if (first is None) == (second is None):
        raise ValueError(f"give either {names}")


class LayerInfo(BaseModel):
    name: str
    units: int
    shape: list[int] = Field(description="units, height, width of the layer's output")
    interpretable: dict[str, int] = Field(description="interpretable units per concept category")


class ConceptInfo(BaseModel):
    name: str
    category: str
    units: dict[str, list[int]] = Field(description="per layer: units labelled with this concept, best IoU first")


class PaintButton(BaseModel):
    layer: str
    units: int = Field(description="how many units the button edits")
    source: Literal["paint set", "IoU"]


class PaintDefaults(BaseModel):
    layer: str = Field(description="layer edited by IoU when an edit names none and there is no paint set")
    units: int = Field(description="top units (by IoU) used for a concept without a paint set")
    source: Literal["paint set", "IoU"] = Field(description="what a concept's buttons edit")
    note: str | None = Field(description="why the buttons fall back to the IoU ranking, or null")
    buttons: dict[str, dict[str, PaintButton]] = Field(description="per concept, per mode: what the button edits")


class Info(BaseModel):
    model: str
    segmenter: str
    seed: int
    image_size: list[int]
    paint: PaintDefaults
    layers: list[LayerInfo]
    concepts: list[ConceptInfo]
    marking: bool = Field(description="whether units can be marked as artifacts (the server knows its results "
                                      "directory, where marked_units.json is kept)")


class Sample(BaseModel):
    index: int
    url: str


class SampleList(BaseModel):
    seed: int
    samples: list[Sample]


class UnitSummary(BaseModel):
    unit: int
    label: str
    category: str
    iou: float = Field(description="IoU with the unit's label (or with the requested concept)")
    strip: str = Field(description="URL of the unit's top samples with its region outlined")


class UnitDetail(UnitResult):
    """A unit of results.json (the one results schema), with where it sits and where its images are."""

    model_config = ConfigDict(strict=False)

    layer: str
    strip: str


class MarkedUnits(BaseModel):
    layer: str
    units: list[int] = Field(description="units marked as artifacts, ascending; `ganscope artifacts --marked` "
                                         "ablates them")


class Candidate(BaseModel):
    unit: int
    rank: int = Field(description="1 = the unit whose top samples look least real")
    kid: float | None = Field(description="KID of the unit's top samples against the reference images")
    discriminator: float | None = Field(description="mean discriminator logit on them (lower = less real)")


class Candidates(BaseModel):
    """The artifact ranking of `ganscope artifacts` for one layer, read from the results directory."""

    layer: str
    score: str | None = Field(description="what the units are ranked by (kid or discriminator); null: no ranking")
    features: str | None = Field(description="feature space of the KIDs")
    top: int = Field(description="how many of the ranked units the run showed as candidates (0: no ranking)")
    units: list[Candidate] = Field(description="every ranked unit, worst first; empty when the results directory "
                                               "holds no ranking of this layer")


class Stroke(Strict):
    points: list[tuple[Coordinate, Coordinate]] = Field(min_length=1, max_length=MAX_POINTS,
                                              description="(x, y) in image pixels")
    radius: float = Field(gt=0, le=4096, description="brush radius in image pixels")


class Mask(Finite):
    """The original GAN Dissection mask record."""

    bitstring: str = Field(description="'0'/'1' per pixel of the bitbounds box, row by row, or a PNG data URL")
    shape: list[int] | None = Field(None, description="[height, width]; default: the PNG's or the image's size")
    bitbounds: list[int] | None = Field(None, description="[y0, x0, y1, x1]; default: the whole shape")


class Edit(Strict):
    """Draw (insert) or remove (ablate) units inside a region; the units come from a concept or a list."""

    mode: Literal["draw", "remove"]
    concept: str | None = Field(None, description="use the concept's paint set (its top units by IoU when the "
                                "results have no paint sets, or when layer or top is given)")
    units: list[int] | None = Field(None, min_length=1, max_length=MAX_UNITS)
    values: list[float] | None = Field(None, max_length=MAX_UNITS, description="draw levels, one per unit "
                                       "(with units; default: each unit's 99.5th percentile)")
    top: int | None = Field(None, ge=1, le=MAX_UNITS, description="how many top units of the concept")
    layer: str | None = Field(None, description="paint the concept's top units by IoU at this layer")
    strength: float = Field(1.0, ge=0, le=1, description="blend: 0 = unchanged, 1 = full edit")
    strokes: list[Stroke] | None = Field(None, max_length=MAX_EDITS)
    mask: Mask | None = None

    @model_validator(mode="after")
    def _one_unit_source(self) -> Edit:
        _either(self.concept, self.units, "concept or units")
        if self.strokes is not None and self.mask is not None:
            raise ValueError("give strokes or mask, not both (neither: everywhere)")
        return self


class InterveneRequest(Strict):
    index: int = Field(ge=0, le=2**31 - 1, description="sample index: latent(seed, index)")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="default: the dissection's seed")
    edits: list[Edit] = Field(default_factory=list, max_length=MAX_EDITS, description="applied in order")


class ImageResponse(BaseModel):
    image: str = Field(description="PNG data URL")
    width: int
    height: int


class Ablation(Finite):
    """One unit's edit in the original format: h' = (1 - alpha) h + alpha value (extra keys ignored)."""

    layer: str
    unit: int
    alpha: float | None = 1.0
    value: float | None = 0.0


class LegacyIntervention(Finite):
    ablations: list[Ablation] = Field(default_factory=list, max_length=MAX_UNITS)
    mask: Mask | None = None
    maskpooling: Literal["max", "mean"] = "max"


class GenerateRequest(Finite):
    """The original GAN Dissection ``/api/generate`` request (``project`` and other keys are ignored)."""

    ids: list[Annotated[int, Field(ge=0, le=2**31 - 1)]] | None = Field(None, max_length=MAX_IMAGES)
    zs: list[list[float]] | None = Field(None, max_length=MAX_IMAGES)
    interventions: list[LegacyIntervention] | None = Field(None, max_length=MAX_EDITS)
    project: str | None = None

    @model_validator(mode="after")
    def _ids_or_zs(self) -> GenerateRequest:
        _either(self.ids, self.zs, "ids or zs")
        if self.ids is not None and any(i < 0 for i in self.ids):
            raise ValueError("ids must be >= 0")
        return self


class GeneratedImage(BaseModel):
    id: int | None = None
    d: str = Field(description="PNG data URL")


class GenerateResponse(BaseModel):
    request: GenerateRequest
    res: list[GeneratedImage]
