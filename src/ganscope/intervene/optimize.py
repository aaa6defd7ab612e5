"""Optimised unit sets: a continuous mask alpha in [0, 1]^U trained with Adam.

h' = (1 - alpha) h + alpha k (insertion; ablation is k = 0). The loss is
-delta_alpha + lambda ||alpha||_2, where delta_alpha is the mean soft concept fraction
after the edit (the baseline is a constant, so it drops out of the gradient). Soft
fractions need ``segmenter.probabilities(images) -> (B, concepts, H, W)``, because the
hard labels of ``segment`` carry no gradient. Sign: for ablation the target is to
remove the concept, so delta_alpha is minus the fraction.

With ``size=n`` the edit in each step is the hard set of the n units with the largest
alpha (alpha = 1 on them, 0 elsewhere), and the gradient reaches alpha = sigmoid(score)
straight through (Bengio et al. 2013). That trains the set that is later applied, the top-n at full
strength, rather than a soft mask whose top-n may act quite differently; the set size is
the constraint, so there is no norm penalty.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ganscope.budget import MAX_STEPS, check_count
from ganscope.edits import Intervention
from ganscope.errors import GanscopeError
from ganscope.experiment import ExperimentResult
from ganscope.intervene.effect import ace
from ganscope.progress import ProgressCallback, progress_bar
from ganscope.regions import Region
from ganscope.session import Cut, fractions, held_prefixes


class ComparisonResult(ExperimentResult):
    """The effect of the top-n units by alpha and by IoU, on held-out samples.

    ``measure`` is what the mode optimised: "ace" (inserted - ablated) for insertion,
    "removed" (baseline - ablated) for ablation; ``baseline`` is the unedited fraction.
    """

    FILE = "comparison.json"
    measure: str
    baseline: float
    sizes: list[int]
    alpha_effect: list[float]
    alpha_ci: list[list[float]]
    iou_effect: list[float]
    iou_ci: list[list[float]]
    held_out: list[int]  # [start, stop) sample indices


class OptimiseResult(ExperimentResult):
    FILE = "optimize.json"
    concept: str
    layer: str
    mode: str
    steps: int
    penalty: float
    size: int | None  # the fixed set size trained straight through, or None for the soft mask
    samples: int | None = None  # trained on samples [start, start + samples) (None: written before this was kept)
    start: int = 0
    losses: list[float]
    alpha: list[float]
    ranking: list[int]  # units by alpha, largest first
    comparison: ComparisonResult | None = None  # the held-out comparison, when one was run (``ganscope optimize``)


def optimise_alpha(cut: Cut, concept: str, *, values: torch.Tensor, steps: int = 200, penalty: float | None = None,
                   lr: float = 0.05, mode: str = "insert", size: int | None = None, region: Region | None = None,
                   samples: int, start: int = 0, progress: bool | ProgressCallback = False) -> OptimiseResult:
    """Train alpha over samples [start, start + samples) (cycling their batches); returns alpha and the ranking.

    ``penalty`` (lambda) defaults to 0.05 for the soft mask; a sized set (``size``) takes none.
    """
    if mode not in ("insert", "ablate"):
        raise GanscopeError(f"mode must be insert or ablate, got {mode!r}", argument="mode")
    if size is not None and penalty is not None:
        raise GanscopeError("a sized unit set (size) is trained without a norm penalty: give size or penalty",
                            argument="penalty")
    penalty = (0.05 if size is None else 0.0) if penalty is None else penalty
    probabilities = getattr(cut.segmenter, "probabilities", None)
    if not callable(probabilities):
        raise GanscopeError("optimize needs a segmenter with probabilities(images) (soft labels for gradients)")
    check_count("steps", steps, MAX_STEPS)
    c = cut.concept(concept)
    prefixes = held_prefixes(cut, range(start, start + samples))
    units = prefixes[0].acts.shape[1]
    if size is not None and not 1 <= size <= units:
        raise GanscopeError(f"size must be between 1 and the layer's {units} units, got {size}", argument="size")
    values = torch.as_tensor(values, dtype=torch.float32, device=cut.device).expand(units)
    target = values if mode == "insert" else None
    sign = 1.0 if mode == "insert" else -1.0
    # a sized set trains an unbounded score with alpha = sigmoid(score): clamped alphas would tie at 1 and leave
    # the top-n to the unit order
    param = torch.full((units,), 0.05 if size is None else 0.0, device=cut.device, requires_grad=True)
    optimiser = torch.optim.Adam([param], lr=lr)
    losses = []
    with progress_bar(progress, "optimize", steps) as update:
        for step in range(steps):
            prefix = prefixes[step % len(prefixes)]
            alpha = param if size is None else param.sigmoid()
            edit = Intervention(cut.layer, list(range(units)), target, region, _straight_through(alpha, size))
            acts = edit(prefix.acts)
            soft = probabilities(cut.finish(prefix, acts))[:, c]
            footprint = None if region is None else region.cells(*acts.shape[2:])
            loss = -sign * fractions(soft, footprint).mean() + penalty * alpha.norm()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if size is None:
                with torch.no_grad():
                    param.clamp_(0, 1)
            losses.append(loss.item())
            update(step + 1, f"loss {losses[-1]:.4f}")
    final = (param if size is None else param.sigmoid()).detach().cpu()
    ranking = param.detach().cpu().argsort(descending=True, stable=True).tolist()
    return OptimiseResult(concept=concept, layer=cut.layer, mode=mode, steps=steps, penalty=penalty, size=size,
                          samples=samples, start=start, losses=losses, alpha=final.tolist(), ranking=ranking)


def _straight_through(alpha: torch.Tensor, size: int | None) -> torch.Tensor:
    """alpha itself, or the 0/1 mask of its top ``size`` entries with alpha's gradient."""
    if size is None:
        return alpha
    hard = torch.zeros_like(alpha).scatter(0, alpha.detach().topk(size).indices, 1.0)
    return hard + alpha - alpha.detach()


def compare_rankings(cut: Cut, concept: str, *, values: torch.Tensor, alpha_ranking: Sequence[int],
                     iou_ranking: Sequence[int], sizes: Sequence[int], mode: str = "insert", samples: int,
                     start: int = 0, progress: bool | ProgressCallback = False) -> ComparisonResult:
    """The top-n of each ranking over samples [start, start + samples): ACE for insert, removal for ablate."""
    values = torch.as_tensor(values, dtype=torch.float32)
    out: dict[str, tuple[list, list]] = {"alpha": ([], []), "iou": ([], [])}
    baseline = 0.0
    with progress_bar(progress, "compare rankings", 2 * len(sizes)) as update:
        for k, n in enumerate(sizes):
            for j, (name, ranking) in enumerate((("alpha", alpha_ranking), ("iou", iou_ranking))):
                top = list(ranking[:n])
                result = ace(cut, top, concept, samples=samples, values=values[top], start=start)
                out[name][0].append(result.ace if mode == "insert" else result.ablation_effect)
                out[name][1].append(result.ace_ci if mode == "insert" else result.ablation_ci)
                baseline = result.baseline
                update(2 * k + j + 1, f"top {n} by {name}")
    return ComparisonResult(measure="ace" if mode == "insert" else "removed", baseline=baseline, sizes=list(sizes),
                            alpha_effect=out["alpha"][0], alpha_ci=out["alpha"][1], iou_effect=out["iou"][0],
                            iou_ci=out["iou"][1], held_out=[start, start + samples])
