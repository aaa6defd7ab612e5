"""Sample quality before and after ablating unit sets, on fresh samples, with confidence intervals.

KID: the samples and the reference images are split into ``blocks`` disjoint blocks; the
blocks' KIDs are independent unbiased estimates, so their mean has a t-interval, and the
change (after - before, same latents, same reference block) a paired t-interval. FID is
computed on the whole set; its change gets a paired percentile bootstrap interval.
Discriminator logits get t-intervals of per-sample means and paired differences.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ganscope.artifacts.scoring import Scored, Scorer
from ganscope.budget import MAX_RESAMPLES, check_count, check_memory, check_span
from ganscope.edits import ablation
from ganscope.errors import GanscopeError
from ganscope.experiment import ExperimentResult, Schema
from ganscope.intervene.confidence import mean_ci
from ganscope.metrics import fid, kid_blocks
from ganscope.progress import ProgressCallback
from ganscope.session import Cut


class Estimate(Schema):
    value: float
    ci: list[float]  # 95 %


class SetQuality(Schema):
    name: str
    units: list[int]
    kid: Estimate  # after ablation
    kid_change: Estimate  # after - before (negative = closer to the reference)
    fid: float
    fid_change: Estimate
    discriminator: Estimate | None  # mean logit after ablation
    discriminator_change: Estimate | None


class QualityResult(ExperimentResult):
    FILE = "quality.json"
    layer: str
    seed: int
    start: int  # fresh samples [start, start + samples)
    samples: int
    blocks: int
    bootstrap: int
    kid: Estimate  # unedited samples
    fid: float
    discriminator: Estimate | None
    sets: list[SetQuality]


def _estimate(values: torch.Tensor) -> Estimate:
    mean, ci = mean_ci(values)
    return Estimate(value=mean, ci=ci)


def _fid_change(before: torch.Tensor, after: torch.Tensor, reference: torch.Tensor, boots: int,
                seed: int) -> Estimate:
    """FID(after) - FID(before) and a paired percentile bootstrap interval (samples and reference resampled)."""
    g = torch.Generator().manual_seed(seed)
    diffs = []
    for _ in range(boots):
        rows = torch.randint(len(before), (len(before),), generator=g)
        ref = reference[torch.randint(len(reference), (len(reference),), generator=g)]
        diffs.append(fid(after[rows], ref) - fid(before[rows], ref))
    d = torch.tensor(diffs, dtype=torch.float64)
    change = fid(after, reference) - fid(before, reference)
    return Estimate(value=change, ci=[float(d.quantile(0.025)), float(d.quantile(0.975))])


@torch.no_grad()
def ablation_quality(cut: Cut, unit_sets: dict[str, Sequence[int]], scorer: Scorer, *, blocks: int = 10,
                     bootstrap: int = 50, samples: int, start: int = 0,
                     progress: bool | ProgressCallback = False) -> QualityResult:
    """Score samples (seed, i), i in [start, start + samples), unedited and with each unit set of the cut's layer
    ablated."""
    if not unit_sets:
        raise GanscopeError("no unit set to ablate", argument="unit_sets")
    check_span("samples", start, samples)
    check_count("bootstrap", bootstrap, MAX_RESAMPLES, least=0)
    width = scorer.reference.features.shape[1]
    check_memory("samples", samples * (len(unit_sets) + 1), 4 * width + 4 * samples // max(1, blocks),
                 "features and KID kernel entries")
    if samples < 2 * blocks or len(scorer.reference.features) < 2 * blocks:
        raise GanscopeError(f"samples and the reference need at least {2 * blocks} images for {blocks} KID blocks",
                            argument="samples")
    seed, layer = cut.seed, cut.layer
    edits = {name: ablation(layer, units) for name, units in unit_sets.items()}
    parts: dict[str, list[Scored]] = {name: [] for name in ["", *edits]}
    for _, prefix in cut.prefixes(range(start, start + samples), progress, "ablation quality"):
        parts[""].append(scorer(cut.finish(prefix)))
        for name, edit in edits.items():
            parts[name].append(scorer(cut.edited(prefix, edit)))
    scored = {name: Scored.concat(p) for name, p in parts.items()}
    ref = scorer.reference.features
    base = scored.pop("")
    base_kid = kid_blocks(base.features, ref, blocks)
    sets = []
    for name, after in scored.items():
        after_kid = kid_blocks(after.features, ref, blocks)
        disc = change = None
        if after.logits is not None:
            disc, change = _estimate(after.logits), _estimate(after.logits - base.logits)
        sets.append(SetQuality(name=name, units=list(edits[name].units), kid=_estimate(after_kid),
                               kid_change=_estimate(after_kid - base_kid), fid=fid(after.features, ref),
                               fid_change=_fid_change(base.features, after.features, ref, bootstrap, seed),
                               discriminator=disc, discriminator_change=change))
    base_disc = None if base.logits is None else _estimate(base.logits)
    return QualityResult(layer=layer, seed=seed, start=start, samples=samples, blocks=blocks, bootstrap=bootstrap,
                         kid=_estimate(base_kid), fid=fid(base.features, ref), discriminator=base_disc, sets=sets)
