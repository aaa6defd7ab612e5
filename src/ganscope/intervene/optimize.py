"""Optimised unit sets: a continuous mask alpha in [0, 1]^U trained with Adam.

h' = (1 - alpha) h + alpha k (insertion; ablation is k = 0). The loss is
-delta_alpha + lambda ||alpha||_2, where delta_alpha is the mean soft concept fraction
after the edit (the baseline is a constant, so it drops out of the gradient). Soft
fractions need ``segmenter.probabilities(images) -> (B, concepts, H, W)``, because the
hard labels of ``segment`` carry no gradient. Sign: for ablation the target is to
remove the concept, so delta_alpha is minus the fraction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from ganscope.edits import Intervention
from ganscope.errors import GanscopeError
from ganscope.intervene.effect import ace
from ganscope.regions import Region
from ganscope.session import Cut, fractions


@dataclass
class Optimised:
    concept: str
    layer: str
    mode: str
    steps: int
    penalty: float
    losses: list[float]
    alpha: list[float]
    ranking: list[int]  # units by alpha, largest first

    def to_json(self) -> dict:
        return asdict(self)


def optimise_alpha(cut: Cut, concept: str, *, samples: int, values: torch.Tensor, steps: int = 200,
                   penalty: float = 0.05, lr: float = 0.05, mode: str = "insert", region: Region | None = None,
                   on_step: Callable[[int, float], None] | None = None) -> Optimised:
    """Train alpha over samples [0, samples) (cycling their batches); returns alpha and the ranking."""
    if mode not in ("insert", "ablate"):
        raise GanscopeError(f"mode must be insert or ablate, got {mode!r}", argument="mode")
    probabilities = getattr(cut.segmenter, "probabilities", None)
    if not callable(probabilities):
        raise GanscopeError("optimize needs a segmenter with probabilities(images) (soft labels for gradients)")
    if samples < 1 or steps < 1:
        raise GanscopeError(f"samples and steps must be >= 1, got {samples} and {steps}", argument="samples")
    c = cut.concept(concept)
    prefixes = [prefix for _, prefix in cut.prefixes(range(samples))]
    units = prefixes[0].acts.shape[1]
    values = torch.as_tensor(values, dtype=torch.float32, device=cut.device).expand(units)
    target = values if mode == "insert" else None
    sign = 1.0 if mode == "insert" else -1.0
    alpha = torch.full((units,), 0.05, device=cut.device, requires_grad=True)
    optimiser = torch.optim.Adam([alpha], lr=lr)
    losses = []
    for step in range(steps):
        prefix = prefixes[step % len(prefixes)]
        edit = Intervention(cut.layer, list(range(units)), target, region, alpha)
        acts = edit(prefix.acts)
        soft = probabilities(cut.finish(prefix, acts))[:, c]
        footprint = None if region is None else region.cells(*acts.shape[2:])
        delta = sign * fractions(soft, footprint).mean()
        loss = -delta + penalty * alpha.norm()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            alpha.clamp_(0, 1)
        losses.append(loss.item())
        if on_step is not None:
            on_step(step + 1, losses[-1])
    final = alpha.detach().cpu()
    ranking = final.argsort(descending=True, stable=True).tolist()
    return Optimised(concept, cut.layer, mode, steps, penalty, losses, final.tolist(), ranking)


@dataclass
class Comparison:
    """ACE of the top-n units by alpha and by IoU, on held-out samples."""

    sizes: list[int]
    alpha_ace: list[float]
    alpha_ci: list[list[float]]
    iou_ace: list[float]
    iou_ci: list[list[float]]
    held_out: list[int]  # [start, stop) sample indices

    def to_json(self) -> dict:
        return asdict(self)


def compare_rankings(cut: Cut, concept: str, *, samples: int, values: torch.Tensor, alpha_ranking: Sequence[int],
                     iou_ranking: Sequence[int], sizes: Sequence[int], start: int) -> Comparison:
    """ACE (insert minus ablate) of the top-n of each ranking over samples [start, start + samples)."""
    values = torch.as_tensor(values, dtype=torch.float32)
    out = {"alpha": ([], []), "iou": ([], [])}
    for n in sizes:
        for name, ranking in (("alpha", alpha_ranking), ("iou", iou_ranking)):
            top = list(ranking[:n])
            result = ace(cut, top, concept, samples=samples, values=values[top], start=start)
            out[name][0].append(result.ace)
            out[name][1].append(result.ace_ci)
    return Comparison(list(sizes), *out["alpha"], *out["iou"], [start, start + samples])
