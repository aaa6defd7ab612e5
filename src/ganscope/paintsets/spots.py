"""Where a brush stroke for a concept is plausible: dabs to draw it, strokes to remove it.

A draw dab for a concept goes where the concept belongs (its *context*): trees on grass,
doors on walls, domes on top of a wall. A :class:`Context` names the labels the dab lands
on and its placement: ``"on"`` (the dab lies mostly on those labels) or ``"top"`` (the dab
is centred on their top edge, half above it), and the labels where the concept does not
belong (``avoid``: doors in open sky), where a good paint set should mostly fail, as the
generator refuses, as GAN Dissection found. A remove stroke covers the concept's own pixels,
grown by a small margin as a brush would.

The demo world's contexts are written down (:data:`WORLD_CONTEXTS`); for any other
segmenter a concept's context is learned from samples: the label most common in a ring
just outside the concept's pixels, and to avoid, the common label (>= 5 % of the pixels)
least often found there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

DAB_RADIUS = 8.0  # a 16-pixel dab
MIN_CONTEXT = 0.5  # an "on" dab lies at least half on its context
REMOVE_MARGIN = 2  # pixels a remove stroke reaches beyond the concept


@dataclass(frozen=True)
class Context:
    """Where a concept is drawn: on (or on the top edge of) any of ``labels``."""

    labels: tuple[str, ...]
    placement: Literal["on", "top"] = "on"
    avoid: tuple[str, ...] = ()

    def describe(self) -> str:
        where = "on" if self.placement == "on" else "on top of"
        return f"{where} {' or '.join(self.labels)}"

    def elsewhere(self) -> Context | None:
        """Where the concept does not belong, as a context to place dabs in; None if none is known."""
        return Context(self.avoid) if self.avoid else None


WORLD_CONTEXTS: dict[str, Context] = {
    "sky": Context(("cloud",), avoid=("grass",)),
    "cloud": Context(("sky",), avoid=("grass",)),
    "grass": Context(("road",), avoid=("sky",)),
    "road": Context(("grass",), avoid=("sky",)),
    "tree": Context(("grass",), avoid=("building",)),
    "building": Context(("grass",), "top", avoid=("sky",)),
    "brick": Context(("building",), avoid=("sky",)),
    "roof": Context(("building", "brick"), "top", avoid=("grass",)),
    "dome": Context(("building", "brick"), "top", avoid=("grass",)),
    "door": Context(("building", "brick"), avoid=("sky",)),
    "window": Context(("building", "brick"), avoid=("sky",)),
}


def disc(radius: float) -> torch.Tensor:
    """The boolean disc of ``radius`` pixels (odd side), as a brush dab rasterises it."""
    r = int(np.ceil(radius))
    y, x = torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij")
    return (x.float() ** 2 + y.float() ** 2) <= radius**2


def dab_mask(centre: tuple[int, int], size: Sequence[int], radius: float = DAB_RADIUS) -> torch.Tensor:
    """Boolean (H, W) mask of a dab centred at pixel (y, x)."""
    h, w = size
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return ((x - centre[1]).float() ** 2 + (y - centre[0]).float() ** 2) <= radius**2


def _share(mask: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Per pixel, the share of a dab centred there that falls on ``mask`` (B, H, W)."""
    k = kernel.float()[None, None]
    pad = kernel.shape[0] // 2
    return F.conv2d(mask.float()[:, None], k, padding=pad)[:, 0] / k.sum()


def candidate_centres(labels: torch.Tensor, concept: int, context: Context, names: Sequence[str],
                      radius: float = DAB_RADIUS) -> torch.Tensor:
    """Boolean (B, H, W): pixels where a draw dab for ``concept`` is plausible in each labelled image.

    The dab must not already be mostly the concept (drawing there shows nothing new).
    """
    on = torch.zeros_like(labels, dtype=torch.bool)
    for name in context.labels:
        on |= labels == names.index(name)
    kernel = disc(radius)
    if context.placement == "on":
        ok = (_share(on, kernel) >= MIN_CONTEXT) & on
    else:  # the top edge: a context pixel whose neighbour above is neither context nor the concept
        above = F.pad(on, (0, 0, 1, 0))[:, :-1] | F.pad(labels == concept, (0, 0, 1, 0))[:, :-1]
        above[:, 0] = True
        ok = on & ~above & (_share(on, kernel) >= 0.25)
    h, w = labels.shape[1:]
    r = int(np.ceil(radius / 2))
    inside = torch.zeros(h, w, dtype=torch.bool)
    inside[r : h - r, r : w - r] = True  # keep most of the dab inside the image
    return ok & inside & (_share(labels == concept, kernel) < 0.5)


def pick_centre(candidates: torch.Tensor, rng: np.random.Generator) -> tuple[int, int] | None:
    """One candidate pixel (y, x) of a (H, W) map, drawn uniformly; None when there is none."""
    ys, xs = torch.nonzero(candidates, as_tuple=True)
    if len(ys) == 0:
        return None
    k = int(rng.integers(len(ys)))
    return int(ys[k]), int(xs[k])


def remove_mask(labels: torch.Tensor, concept: int, margin: int = REMOVE_MARGIN) -> torch.Tensor:
    """Boolean (B, H, W): a stroke over the concept's pixels, grown by ``margin`` pixels."""
    hits = (labels == concept).float()[:, None]
    return F.max_pool2d(hits, 2 * margin + 1, stride=1, padding=margin)[:, 0] > 0


def learned_contexts(labels: torch.Tensor, names: Sequence[str], ring: int = 3) -> dict[str, Context]:
    """Each concept's context from labelled samples: the other label most common just outside its pixels."""
    out = {}
    for c, name in enumerate(names):
        if c == 0:
            continue
        hits = labels == c
        if not hits.any():
            continue
        grown = F.max_pool2d(hits.float()[:, None], 2 * ring + 1, stride=1, padding=ring)[:, 0] > 0
        around = labels[grown & ~hits]
        counts = torch.bincount(around, minlength=len(names))
        counts[0] = counts[c] = 0
        if counts.sum() > 0:
            home = int(counts.argmax())
            out[name] = Context((names[home],), avoid=_avoid(labels, counts, {0, c, home}, names))
    return out


def _avoid(labels: torch.Tensor, ring: torch.Tensor, skip: set[int], names: Sequence[str]) -> tuple[str, ...]:
    """The common label (>= 5 % of all pixels) least often found around a concept, or none."""
    share = torch.bincount(labels.flatten(), minlength=len(names)).float() / labels.numel()
    common = [k for k in range(len(names)) if k not in skip and share[k] >= 0.05]
    return (names[min(common, key=lambda k: int(ring[k]))],) if common else ()


def contexts_for(names: Sequence[str], labels: torch.Tensor | None = None,
                 given: Mapping[str, Context] | None = None) -> dict[str, Context]:
    """The contexts to draw each concept in: ``given``, then the world's, then learned from ``labels``."""
    known = WORLD_CONTEXTS if set(WORLD_CONTEXTS) <= set(names) else {}
    learned = learned_contexts(labels, names) if labels is not None else {}
    out = {**learned, **known, **(given or {})}
    return {name: out[name] for name in names[1:] if name in out}
