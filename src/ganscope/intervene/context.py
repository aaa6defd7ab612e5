"""Context: does inserting the same units succeed everywhere? Success by the concept that was there before.

Each sample is edited at every position of a grid of ``size`` x ``size`` feature cells
(stride ``size``: the tiles cover the map). The concept "before" is the most common
label of the unedited image inside the tile's pixels; the insertion succeeds when at
least ``min_fraction`` of those pixels show the concept afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from ganscope.budget import check_memory, check_span
from ganscope.edits import Intervention
from ganscope.errors import GanscopeError
from ganscope.regions import Region
from ganscope.session import Cut, fractions


@dataclass
class ContextRow:
    before: str
    trials: int
    successes: int
    rate: float
    mean_fraction: float  # mean concept fraction in the tile after insertion


@dataclass
class ContextResult:
    concept: str
    layer: str
    units: list[int]
    samples: int
    tile: int
    min_fraction: float
    rows: list[ContextRow]  # most trials first

    def to_json(self) -> dict:
        return asdict(self)


def tiles(h: int, w: int, size: int) -> list[torch.Tensor]:
    """Cell maps (h, w) of the non-overlapping ``size`` x ``size`` tiles covering the grid."""
    if not 1 <= size <= min(h, w):
        raise GanscopeError(f"tile must be between 1 and {min(h, w)} cells for a {w}x{h} layer, got {size}",
                            argument="tile")
    out = []
    for y in range(0, h - size + 1, size):
        for x in range(0, w - size + 1, size):
            cells = torch.zeros(h, w)
            cells[y : y + size, x : x + size] = 1
            out.append(cells)
    return out


@torch.no_grad()
def context(cut: Cut, units: Sequence[int], concept: str, *, samples: int, values: torch.Tensor | float,
            tile: int = 2, min_fraction: float = 0.25) -> ContextResult:
    """Insert ``units`` in every tile of samples [0, samples); success rates grouped by the concept before."""
    check_span("samples", 0, samples)
    check_memory("samples", samples, 8 * 4096, "per-tile shares")  # at most 4096 tiles a sample (64 x 64 cells)
    c = cut.concept(concept)
    trials: dict[int, list[float]] = defaultdict(list)
    for _, prefix in cut.prefixes(range(samples)):
        before = cut.labels(cut.finish(prefix))
        for cells in tiles(*prefix.acts.shape[2:], tile):
            edit = Intervention(cut.layer, list(units), values, Region(cells > 0))
            after = cut.labels(cut.finish(prefix, edit(prefix.acts)))
            pixels = torch.nn.functional.interpolate(cells[None, None], size=after.shape[1:], mode="nearest")[0, 0]
            pixels = pixels.to(after.device)
            majority = before[:, pixels > 0].mode(dim=1).values
            for label, share in zip(majority.tolist(), fractions(after == c, pixels).tolist()):
                trials[label].append(share)
    rows = [ContextRow(cut.concepts[label], len(shares), sum(s >= min_fraction for s in shares),
                       sum(s >= min_fraction for s in shares) / len(shares), sum(shares) / len(shares))
            for label, shares in trials.items()]
    rows.sort(key=lambda row: (-row.trials, row.before))
    return ContextResult(concept, cut.layer, list(units), samples, tile, min_fraction, rows)
