"""Causal effects: ACE of a unit set on a concept, and the top-n removal curve.

ACE = E[s_c(inserted)] - E[s_c(ablated)]; the ablation effect is E[s_c(original)] -
E[s_c(ablated)]. s_c is the fraction of pixels labelled c, inside the region's footprint
when a region is given. Intervals are 95 % t-intervals of the paired per-sample differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from ganscope.budget import check_memory, check_span
from ganscope.edits import ablation, insertion
from ganscope.errors import GanscopeError
from ganscope.intervene.confidence import mean_ci
from ganscope.regions import Region
from ganscope.session import Cut

CURVE_SIZES = (1, 2, 4, 8, 16, 32, 64)


@dataclass
class AceResult:
    concept: str
    layer: str
    units: list[int]
    samples: int
    seed: int
    region: bool
    baseline: float  # mean concept pixel fraction of the unedited images
    ablated: float
    inserted: float
    ace: float  # inserted - ablated
    ace_ci: list[float]
    ablation_effect: float  # baseline - ablated
    ablation_ci: list[float]

    def to_json(self) -> dict:
        return asdict(self)


def _check_samples(samples: int, least: int = 1, start: int = 0, per_sample: int = 12) -> None:
    """A valid span of sample indices whose per-sample fractions (``per_sample`` bytes each) fit in memory."""
    check_span("samples", start, samples, least)
    check_memory("samples", samples, per_sample, "per-sample concept fractions")


@torch.no_grad()
def ace(cut: Cut, units: Sequence[int], concept: str, *, samples: int, values: torch.Tensor | float,
        region: Region | None = None, start: int = 0) -> AceResult:
    """The average causal effect of ``units`` on ``concept`` over samples [start, start + samples)."""
    _check_samples(samples, 2, start)
    c = cut.concept(concept)
    edits = ablation(cut.layer, units, region), insertion(cut.layer, units, values, region)
    base, abl, ins = [], [], []
    for _, prefix in cut.prefixes(range(start, start + samples)):
        footprint = _footprint(region, prefix.acts)
        base.append(cut.fractions(cut.finish(prefix), c, footprint))
        abl.append(cut.fractions(cut.finish(prefix, edits[0](prefix.acts)), c, footprint))
        ins.append(cut.fractions(cut.finish(prefix, edits[1](prefix.acts)), c, footprint))
    b, a, i = torch.cat(base), torch.cat(abl), torch.cat(ins)
    effect, effect_ci = mean_ci(i - a)
    drop, drop_ci = mean_ci(b - a)
    return AceResult(concept, cut.layer, list(edits[0].units), samples, cut.seed, region is not None,
                     float(b.double().mean()), float(a.double().mean()), float(i.double().mean()),
                     effect, effect_ci, drop, drop_ci)


def _footprint(region: Region | None, acts: torch.Tensor) -> torch.Tensor | None:
    return None if region is None else region.cells(*acts.shape[2:])


@dataclass
class CurvePoint:
    n: int
    units: list[int]
    ablated: float  # mean concept fraction with the top-n units ablated
    drop: float  # relative: 1 - ablated / baseline
    effect: float  # absolute: baseline - ablated
    effect_ci: list[float]


@dataclass
class Curve:
    concept: str
    layer: str
    samples: int
    seed: int
    ranking: str
    baseline: float
    points: list[CurvePoint]

    def to_json(self) -> dict:
        return asdict(self)


@torch.no_grad()
def removal_curve(cut: Cut, ranked_units: Sequence[int], concept: str, *, samples: int,
                  sizes: Sequence[int] = CURVE_SIZES, ranking: str = "iou", start: int = 0) -> Curve:
    """Ablate the first n of ``ranked_units`` for each n in ``sizes`` (capped at the ranking's length)."""
    _check_samples(samples, 2, start, 4 * (len(sizes) + 1))
    c = cut.concept(concept)
    sizes = sorted({min(n, len(ranked_units)) for n in sizes if n >= 1})
    if not sizes:
        raise GanscopeError("the ranking is empty")
    base, drops = [], {n: [] for n in sizes}
    for _, prefix in cut.prefixes(range(start, start + samples)):
        base.append(cut.fractions(cut.finish(prefix), c))
        for n in sizes:
            edited = ablation(cut.layer, ranked_units[:n])(prefix.acts)
            drops[n].append(cut.fractions(cut.finish(prefix, edited), c))
    b = torch.cat(base)
    baseline = float(b.double().mean())
    points = []
    for n in sizes:
        a = torch.cat(drops[n])
        effect, ci = mean_ci(b - a)
        ablated = float(a.double().mean())
        points.append(CurvePoint(n, list(ranked_units[:n]), ablated, 1 - ablated / baseline if baseline else 0.0,
                                 effect, ci))
    return Curve(concept, cut.layer, samples, cut.seed, ranking, baseline, points)
