"""Rank a layer's units by how bad the samples are on which they fire strongest.

A unit's samples are its top-activating samples from the dissection (``topk_indices``).
Its KID is the distance between their features and the reference images' features
(higher = less like real images); its discriminator score is the mean logit on them
(lower = less real). Units are ranked worst first by the chosen score.

A set of k similar images scores a higher KID than k diverse ones of the same quality,
so each unit is also compared with the null: KIDs of random k-subsets of the ranked samples.
"""

from __future__ import annotations

import torch

from ganscope.artifacts.scoring import Scored, Scorer
from ganscope.errors import GanscopeError
from ganscope.experiment import ExperimentResult, Schema
from ganscope.metrics import kid
from ganscope.progress import ProgressCallback, progress_bar
from ganscope.results import Results
from ganscope.session import Cut

SCORES = ("kid", "discriminator")
NULL_SETS = 200


class UnitScore(Schema):
    unit: int
    kid: float
    discriminator: float | None  # mean logit on the unit's top samples
    label: str  # the dissection's label, for reading the ranking
    iou: float
    samples: list[int]  # the unit's top-activating sample indices


class RankingResult(ExperimentResult):
    FILE = "ranking.json"
    layer: str
    score: str
    seed: int
    top_samples: int  # samples per unit
    baseline_kid: float  # all ranked samples pooled
    baseline_discriminator: float | None
    random_kid: list[float]  # mean and 95th percentile of KID over random k-subsets of the ranked samples
    units: list[UnitScore]  # worst first

    def ranked(self, n: int | None = None) -> list[int]:
        return [u.unit for u in self.units[:n]]


def top_indices(results: Results, layer: str) -> torch.Tensor:
    """Each unit's top-activating sample indices (units, k) from the dissection tables."""
    results.layer(layer)
    key = f"{layer}/topk_indices"
    if key not in results.tables:
        raise GanscopeError(f"the results have no {key} table (tables.safetensors missing?); re-run the dissection")
    indices = results.tables[key].long()
    if indices.shape[1] < 2:
        raise GanscopeError(f"KID needs at least 2 top samples per unit; the dissection kept {indices.shape[1]}")
    return indices


@torch.no_grad()
def rank_units(cut: Cut, results: Results, scorer: Scorer, *, score: str = "kid",
               progress: bool | ProgressCallback = False) -> RankingResult:
    """Score every unit of the cut's layer on its top samples in ``results`` (the dissection fixed which
    samples those are: each is generated once) and sort worst first."""
    if score not in SCORES:
        raise GanscopeError(f"unknown score {score!r}; use {' or '.join(SCORES)}", argument="score")
    if score == "discriminator" and scorer.discriminator is None:
        raise GanscopeError("score discriminator needs a discriminator", argument="score")
    layer = cut.layer
    top = top_indices(results, layer)
    union = top.unique()
    samples = cut.session.with_options(seed=results.seed)
    parts, done = [], 0
    with progress_bar(progress, "rank units", len(union)) as update:
        for batch, images in samples.iter_images(union.tolist()):
            parts.append(scorer(images))
            done += len(batch)
            update(done)
    scored = Scored.concat(parts)
    rows = torch.searchsorted(union, top)  # (units, k) rows of ``scored``
    reference = scorer.reference.features
    units = []
    for u, unit_rows in enumerate(rows):
        mine = scored.subset(unit_rows)
        stats = results.layers[layer].units[u]
        disc = None if mine.logits is None else float(mine.logits.double().mean())
        units.append(UnitScore(unit=u, kid=kid(mine.features, reference), discriminator=disc, label=stats.label,
                               iou=stats.iou, samples=top[u].tolist()))
    worst = (lambda s: -s.kid) if score == "kid" else (lambda s: s.discriminator)
    units.sort(key=worst)
    disc_all = None if scored.logits is None else float(scored.logits.double().mean())
    null = random_subset_kids(scored.features, reference, top.shape[1], NULL_SETS, results.seed)
    return RankingResult(layer=layer, score=score, seed=results.seed, top_samples=top.shape[1],
                         baseline_kid=kid(scored.features, reference), baseline_discriminator=disc_all,
                         random_kid=[float(null.mean()), float(null.quantile(0.95))], units=units)


def random_subset_kids(features: torch.Tensor, reference: torch.Tensor, k: int, count: int, seed: int) -> torch.Tensor:
    """KID of ``count`` random k-subsets of ``features``: what a unit's score would be by chance."""
    g = torch.Generator().manual_seed(seed)
    return torch.tensor([kid(features[torch.randperm(len(features), generator=g)[:k]], reference)
                         for _ in range(count)], dtype=torch.float64)
