"""The paint benchmark: draw dabs and remove strokes at plausible spots, through the paint page's path.

Each trial builds the edit exactly as the paint page does (a pixel mask, max-pooled onto the
layer by ``painting.pooled``, the units from ``painting.paint``) and asks the session for the
edited image. A draw dab succeeds when at least ``DRAW_SHARE`` of its pixels show the concept
afterwards, and at least ``DRAW_GAIN`` more than before. A remove stroke's score is the share
of the concept's pixels under it that are gone; rates pool all strokes.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel

from ganscope.edits import Intervention
from ganscope.intervene.confidence import ratio_ci, wilson
from ganscope.paintsets.spots import Context, candidate_centres, dab_mask, pick_centre, remove_mask
from ganscope.progress import progress_bar
from ganscope.session import Session

DRAW_SHARE = 0.25
DRAW_GAIN = 0.10
Painter = Callable[[str, Literal["draw", "remove"], np.ndarray], Intervention]  # (concept, mode, mask) -> edit


class ConceptScore(BaseModel):
    """One concept's paint benchmark: draw success and removal, with 95 % intervals."""

    concept: str
    context: str
    draw_trials: int
    draw_success: float
    draw_ci: list[float]
    remove_strokes: int
    removed: float
    removed_ci: list[float]
    outside_change: float  # mean absolute pixel change outside the painted cells, in [0, 1] units
    outside_relabelled: float  # share of pixels outside the painted cells whose label changed


def dab_centres(session: Session, indices: Sequence[int], labels: torch.Tensor, concept: str,
                context: Context) -> list[tuple[int, int] | None]:
    """One plausible dab centre per sample (None where there is none); sample i's depends only on (seed, i)."""
    c = session.concepts.index(concept)
    ok = candidate_centres(labels, c, context, session.concepts)
    key = zlib.crc32(concept.encode())
    return [pick_centre(ok[k], np.random.default_rng([session.seed, i, key])) for k, i in enumerate(indices)]


def score_concept(session: Session, painter: Painter, concept: str, context: Context, indices: Sequence[int],
                  images: torch.Tensor, labels: torch.Tensor, grids: Mapping[str, tuple[int, int]]) -> ConceptScore:
    """Draw and remove ``concept`` on each sample, as the paint page would."""
    draws, outside = draw_trials(session, painter, concept, context, indices, images, labels, grids)
    was, gone = _removals(session, painter, concept, indices, labels)
    removed, removed_ci = ratio_ci(gone, was)
    change, relabelled = np.mean(outside, axis=0).tolist() if outside else (0.0, 0.0)
    return ConceptScore(concept=concept, context=context.describe(), draw_trials=len(draws),
                        draw_success=float(np.mean(draws)) if draws else 0.0,
                        draw_ci=list(wilson(sum(draws), len(draws))), remove_strokes=len(was), removed=removed,
                        removed_ci=removed_ci, outside_change=change, outside_relabelled=relabelled)


def draw_trials(session: Session, painter: Painter, concept: str, context: Context, indices: Sequence[int],
                images: torch.Tensor, labels: torch.Tensor, grids: Mapping[str, tuple[int, int]] | None = None,
                ) -> tuple[list[bool], list[tuple[float, float]]]:
    """Per dab: success; and (with ``grids``) the change outside the painted cells."""
    c = session.concepts.index(concept)
    draws, outside = [], []
    for k, centre in enumerate(dab_centres(session, indices, labels, concept, context)):
        if centre is None:
            continue
        mask = dab_mask(centre, labels.shape[1:])
        edit = painter(concept, "draw", mask.numpy())
        after = _edited(session, indices[k], edit)
        share = (after[1][mask] == c).float().mean()
        draws.append(bool(share >= DRAW_SHARE and share - (labels[k][mask] == c).float().mean() >= DRAW_GAIN))
        if grids is not None:
            outside.append(_outside(images[k], labels[k], after, edit, grids[edit.layer]))
    return draws, outside


def removed_share(session: Session, painter: Painter, concept: str, indices: Sequence[int],
                  labels: torch.Tensor) -> float:
    """The pooled share of the concept's pixels under the remove strokes that the edits took away."""
    was, gone = _removals(session, painter, concept, indices, labels)
    return float(gone.sum() / was.sum().clamp(min=1))


def _removals(session: Session, painter: Painter, concept: str, indices: Sequence[int],
              labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per remove stroke: the concept's pixels under it before, and how many of them are gone after."""
    c = session.concepts.index(concept)
    strokes = remove_mask(labels, c)
    was, gone = [], []
    for k, i in enumerate(indices):
        under = (labels[k] == c) & strokes[k]
        if under.any():
            after = _edited(session, i, painter(concept, "remove", strokes[k].numpy()))
            was.append(float(under.sum()))
            gone.append(float((under & (after[1] != c)).sum()))
    return torch.tensor(was), torch.tensor(gone)


def _edited(session: Session, index: int, edit: Intervention) -> tuple[torch.Tensor, torch.Tensor]:
    image = session.images([index], edits=[edit])
    return image[0], session.labels(image)[0]


def _outside(image: torch.Tensor, labels: torch.Tensor, after: tuple[torch.Tensor, torch.Tensor],
             edit: Intervention, grid: tuple[int, int]) -> tuple[float, float]:
    """Mean absolute change and relabelled share of the pixels outside the edit's cells."""
    h, w = labels.shape
    cells = edit.region.cells(*grid)
    inside = torch.nn.functional.interpolate(cells[None, None].float(), size=(h, w), mode="nearest")[0, 0] > 0
    out = ~inside
    change = ((after[0] - image).abs() / 2).mean(0)[out]
    return float(change.mean()), float((after[1] != labels)[out].float().mean())


def benchmark(session: Session, painter: Painter, contexts: Mapping[str, Context], indices: Iterable[int],
              grids: Mapping[str, tuple[int, int]], *,
              progress: bool | Callable[[float, float], None] = False) -> list[ConceptScore]:
    """Score every concept in ``contexts`` on samples ``indices``."""
    indices = list(indices)
    images = torch.cat([session.images(b) for b in session.batches(indices)])
    labels = session.labels(images)
    scores = []
    with progress_bar(progress, "paint benchmark", len(contexts)) as update:
        for k, (concept, context) in enumerate(contexts.items()):
            scores.append(score_concept(session, painter, concept, context, indices, images, labels, grids))
            update(k + 1, concept)
    return scores
