"""Numbers the report shows, computed once from ``Results`` so pages and plots agree."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ganscope.results import LayerResult, Results, UnitResult
from ganscope.segmenters import CATEGORY_NAMES


def slug(name: str) -> str:
    """A file-name-safe form of a layer or concept name (names like ``features.3`` stay readable)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip(".") or "_"


@dataclass
class LayerSummary:
    """Interpretable units of one layer: per category and per concept."""

    name: str
    units: int
    shape: list[int]
    by_category: dict[str, int]
    by_concept: dict[str, int]  # label -> interpretable units, most first

    @property
    def interpretable(self) -> int:
        return sum(self.by_category.values())


@dataclass
class ConceptUnit:
    """A unit whose IoU with a concept exceeds the cutoff (not necessarily its best label)."""

    layer: str
    unit: UnitResult
    iou: float


@dataclass
class Summary:
    """Everything the report derives from one dissection."""

    results: Results
    categories: list[str]
    concept_category: dict[str, str]
    layers: list[LayerSummary]
    concept_units: dict[str, list[ConceptUnit]] = field(default_factory=dict)

    @property
    def cutoff(self) -> float:
        return self.results.iou_cutoff


def interpretable(unit: UnitResult, cutoff: float) -> bool:
    return unit.iou > cutoff


def sorted_units(layer: LayerResult) -> list[UnitResult]:
    """Units by IoU, best first; ties by unit number so the order is stable."""
    return sorted(layer.units, key=lambda u: (-u.iou, u.unit))


def summarize_layer(layer: LayerResult, categories: list[str], cutoff: float) -> LayerSummary:
    good = [u for u in layer.units if interpretable(u, cutoff)]
    by_category = Counter(u.category for u in good)
    by_concept = Counter(u.label for u in good)
    return LayerSummary(
        name=layer.name, units=len(layer.units), shape=list(layer.shape),
        by_category={c: by_category.get(c, 0) for c in categories},
        by_concept=dict(sorted(by_concept.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def summarize(results: Results) -> Summary:
    concept_category = {c.name: c.category for c in results.concepts[1:]}
    present = set(concept_category.values())
    categories = [c for c in CATEGORY_NAMES if c in present] + sorted(present - set(CATEGORY_NAMES))
    layers = [summarize_layer(layer, categories, results.iou_cutoff) for layer in results.layers.values()]
    concept_units: dict[str, list[ConceptUnit]] = {name: [] for name in concept_category}
    for name, layer in results.layers.items():
        for unit in layer.units:
            for concept, iou in unit.top_concepts:
                if iou > results.iou_cutoff and concept in concept_units:
                    concept_units[concept].append(ConceptUnit(name, unit, iou))
    for units in concept_units.values():
        units.sort(key=lambda cu: (-cu.iou, cu.layer, cu.unit.unit))
    return Summary(results, categories, concept_category, layers, concept_units)
