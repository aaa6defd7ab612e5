"""Causal effects: ACE of a unit set on a concept, and the top-n removal curve.

ACE = E[s_c(inserted)] - E[s_c(ablated)]; the ablation effect is E[s_c(original)] -
E[s_c(ablated)]. s_c is the fraction of pixels labelled c, inside the region's footprint
when a region is given. Intervals are 95 % t-intervals of the paired per-sample differences.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ganscope.budget import check_memory, check_span
from ganscope.edits import ablation, insertion
from ganscope.errors import GanscopeError
from ganscope.experiment import ExperimentResult, Schema
from ganscope.intervene.confidence import mean_ci
from ganscope.progress import ProgressCallback
from ganscope.regions import Region
from ganscope.session import Cut

CURVE_SIZES = (1, 2, 4, 8, 16, 32, 64)


class AceResult(ExperimentResult):
    FILE = "ace.json"
    concept: str
    layer: str
    units: list[int]
    samples: int
    start: int = 0
    seed: int
    region: bool
    baseline: float  # mean concept pixel fraction of the unedited images
    ablated: float
    inserted: float
    ace: float  # inserted - ablated
    ace_ci: list[float]
    ablation_effect: float  # baseline - ablated
    ablation_ci: list[float]


def _check_samples(samples: int, least: int = 1, start: int = 0, per_sample: int = 12) -> None:
    """A valid span of sample indices whose per-sample fractions (``per_sample`` bytes each) fit in memory."""
    check_span("samples", start, samples, least)
    check_memory("samples", samples, per_sample, "per-sample concept fractions")


@torch.no_grad()
def ace(cut: Cut, units: Sequence[int], concept: str, *, values: torch.Tensor | float, region: Region | None = None,
        samples: int, start: int = 0, progress: bool | ProgressCallback = False) -> AceResult:
    """The average causal effect of ``units`` on ``concept`` over samples [start, start + samples)."""
    _check_samples(samples, 2, start)
    cut.concept(concept)
    edits = ablation(cut.layer, units, region), insertion(cut.layer, units, values, region)
    base, abl, ins = [], [], []
    for _, prefix in cut.prefixes(range(start, start + samples), progress, "ace"):
        footprint = _footprint(region, prefix.acts)
        base.append(cut.fractions(cut.finish(prefix), concept, footprint))
        abl.append(cut.fractions(cut.finish(prefix, edits[0](prefix.acts)), concept, footprint))
        ins.append(cut.fractions(cut.finish(prefix, edits[1](prefix.acts)), concept, footprint))
    b, a, i = torch.cat(base), torch.cat(abl), torch.cat(ins)
    effect, effect_ci = mean_ci(i - a)
    drop, drop_ci = mean_ci(b - a)
    return AceResult(concept=concept, layer=cut.layer, units=list(edits[0].units), samples=samples, start=start,
                     seed=cut.seed, region=region is not None, baseline=float(b.double().mean()),
                     ablated=float(a.double().mean()), inserted=float(i.double().mean()), ace=effect,
                     ace_ci=effect_ci, ablation_effect=drop, ablation_ci=drop_ci)


def _footprint(region: Region | None, acts: torch.Tensor) -> torch.Tensor | None:
    return None if region is None else region.cells(*acts.shape[2:])


class CurvePoint(Schema):
    n: int
    units: list[int]
    ablated: float  # mean concept fraction with the top-n units ablated
    drop: float  # relative: 1 - ablated / baseline
    effect: float  # absolute: baseline - ablated
    effect_ci: list[float]


class CurveResult(ExperimentResult):
    FILE = "curve.json"
    concept: str
    layer: str
    samples: int
    start: int = 0
    seed: int
    ranking: str
    baseline: float
    points: list[CurvePoint]


@torch.no_grad()
def removal_curve(cut: Cut, ranked_units: Sequence[int], concept: str, *, sizes: Sequence[int] = CURVE_SIZES,
                  ranking: str = "iou", samples: int, start: int = 0,
                  progress: bool | ProgressCallback = False) -> CurveResult:
    """Ablate the first n of ``ranked_units`` for each n in ``sizes`` (capped at the ranking's length)."""
    _check_samples(samples, 2, start, 4 * (len(sizes) + 1))
    cut.concept(concept)
    sizes = sorted({min(n, len(ranked_units)) for n in sizes if n >= 1})
    if not sizes:
        raise GanscopeError("the ranking is empty", argument="ranked_units")
    base, drops = [], {n: [] for n in sizes}
    for _, prefix in cut.prefixes(range(start, start + samples), progress, "removal curve"):
        base.append(cut.fractions(cut.finish(prefix), concept))
        for n in sizes:
            edited = ablation(cut.layer, ranked_units[:n])(prefix.acts)
            drops[n].append(cut.fractions(cut.finish(prefix, edited), concept))
    b = torch.cat(base)
    baseline = float(b.double().mean())
    points = []
    for n in sizes:
        a = torch.cat(drops[n])
        effect, ci = mean_ci(b - a)
        ablated = float(a.double().mean())
        points.append(CurvePoint(n=n, units=list(ranked_units[:n]), ablated=ablated,
                                 drop=1 - ablated / baseline if baseline else 0.0, effect=effect, effect_ci=ci))
    return CurveResult(concept=concept, layer=cut.layer, samples=samples, start=start, seed=cut.seed,
                       ranking=ranking, baseline=baseline, points=points)
