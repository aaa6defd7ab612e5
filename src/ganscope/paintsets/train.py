"""Train a concept's paint set: the n units (and their levels) whose edit in a brush region best draws or removes it.

The set is trained where it will be used: each step edits one plausible dab per sample
(draw) or a stroke over the concept's own pixels (remove), the regions max-pooled onto the
layer's grid as the paint page does. The loss is the segmenter's soft concept fraction inside
the painted pixels (raised for draw, lowered for remove). The edit in every step is the hard
set of the n units with the largest score (straight-through gradients, as in
``intervene.optimize``), so the trained set is the one later applied.

Draw sets the chosen units to per-unit levels: the unit's mean activation on the concept's
cells (``concept_levels``) times a trained gain in [``MIN_GAIN``, ``max_gain``], which keeps a
drawn tree close to how the generator draws trees (a gain of at most 1 stays within the activations
the concept has; more draws harder, also where the concept does not belong). Remove sets them to 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from ganscope.edits import Intervention
from ganscope.errors import GanscopeError
from ganscope.intervene.optimize import _straight_through
from ganscope.paintsets.measure import dab_centres
from ganscope.paintsets.spots import Context, dab_mask, remove_mask
from ganscope.resume import Prefix
from ganscope.session import Cut, held_prefixes

MIN_GAIN = 0.5
Mode = Literal["draw", "remove"]


@dataclass
class Batch:
    """A training batch: the prefix at the layer, its unedited labels, and each sample's painted pixels."""

    prefix: Prefix
    labels: torch.Tensor  # (B, H, W)
    pixels: torch.Tensor  # (B, H, W) float: where the brush painted
    cells: torch.Tensor  # (B, 1, h, w): the painted pixels max-pooled onto the layer


@torch.no_grad()
def concept_levels(cut: Cut, indices: Sequence[int]) -> torch.Tensor:
    """(concepts, units): each unit's mean activation over the layer cells at least half covered by a concept.

    A concept with no such cell gets the unit's overall mean.
    """
    sums, counts, total, cells = None, None, None, 0
    for _, prefix in cut.prefixes(indices):
        acts = prefix.acts.float()
        labels = cut.labels(cut.finish(prefix))
        share = F.adaptive_avg_pool2d(F.one_hot(labels, len(cut.concepts)).permute(0, 3, 1, 2).float(),
                                      acts.shape[2:])
        covered = (share >= 0.5).float()
        batch_sums = torch.einsum("bchw,buhw->cu", covered, acts)
        sums = batch_sums if sums is None else sums + batch_sums
        counts = covered.sum((0, 2, 3)) if counts is None else counts + covered.sum((0, 2, 3))
        total = acts.sum((0, 2, 3)) if total is None else total + acts.sum((0, 2, 3))
        cells += acts.shape[0] * acts.shape[2] * acts.shape[3]
    mean = total / cells
    levels = sums / counts.clamp(min=1)[:, None]
    return torch.where(counts[:, None] > 0, levels, mean[None])


@torch.no_grad()
def batches(cut: Cut, indices: range, concept: str, mode: Mode, context: Context) -> list[Batch]:
    """Training batches with one brush region per sample (empty where a sample has no plausible spot)."""
    c = cut.concept(concept)
    out = []
    for prefix in held_prefixes(cut, indices):
        labels = cut.labels(cut.finish(prefix))
        if mode == "draw":
            centres = dab_centres(cut.session, list(prefix.samples), labels, concept, context)
            empty = torch.zeros(labels.shape[1:], dtype=torch.bool)
            pixels = torch.stack([empty if xy is None else dab_mask(xy, labels.shape[1:]) for xy in centres])
        else:
            pixels = remove_mask(labels, c)
        if pixels.any():
            cells = F.adaptive_max_pool2d(pixels.float()[:, None], prefix.acts.shape[2:])
            out.append(Batch(prefix, labels, pixels.float(), cells))
    return out


def train_set(cut: Cut, concept: str, mode: Mode, context: Context, levels: torch.Tensor, *, size: int,
              samples: range, steps: int = 60, lr: float = 0.1, max_gain: float = 1.0,
              data: list[Batch] | None = None,
              on_step: Callable[[int, float], None] | None = None) -> tuple[list[int], list[float]]:
    """The trained set of ``size`` units (best first) and each unit's level (0 for remove).

    ``data`` is ``batches(cut, samples, concept, mode, context)`` when the caller already has it (candidates
    of one button at one layer share it)."""
    probabilities = getattr(cut.segmenter, "probabilities", None)
    if not callable(probabilities):
        raise GanscopeError("paint sets need a segmenter with probabilities(images) (soft labels for gradients)")
    c = cut.concept(concept)
    data = batches(cut, samples, concept, mode, context) if data is None else data
    if not data:
        raise GanscopeError(f"no sample offers a place to {mode} {concept!r} ({context.describe()})",
                            argument="samples")
    units = data[0].prefix.acts.shape[1]
    score = torch.zeros(units, requires_grad=True)
    gain = torch.zeros(units, requires_grad=mode == "draw")
    optimiser = torch.optim.Adam([score, gain] if mode == "draw" else [score], lr=lr)
    sign = -1.0 if mode == "draw" else 1.0
    for step in range(steps):
        batch = data[step % len(data)]
        hard = _straight_through(score.sigmoid(), size)
        target = levels[c] * _gain(gain, max_gain) if mode == "draw" else None
        edited = Intervention(cut.layer, list(range(units)), target, None, hard)(batch.prefix.acts)
        acts = batch.prefix.acts + batch.cells * (edited - batch.prefix.acts)
        soft = probabilities(cut.finish(batch.prefix, acts))[:, c]
        area = batch.pixels.flatten(1).sum(1)
        share = (soft * batch.pixels).flatten(1).sum(1) / area.clamp(min=1)
        loss = sign * share[area > 0].mean()
        if not loss.requires_grad:  # the layer does not reach the image: nothing to train (the set scores 0)
            break
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if on_step is not None:
            on_step(step + 1, loss.item())
    chosen = score.detach().argsort(descending=True, stable=True)[:size].tolist()
    values = (levels[c] * _gain(gain.detach(), max_gain))[chosen].tolist() if mode == "draw" else [0.0] * size
    return chosen, values


def _gain(raw: torch.Tensor, max_gain: float) -> torch.Tensor:
    """A gain in [MIN_GAIN, max_gain], 1 at raw = 0."""
    return torch.where(raw >= 0, 1 + (max_gain - 1) * torch.tanh(raw), 1 + (1 - MIN_GAIN) * torch.tanh(raw))
