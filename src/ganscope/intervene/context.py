"""Context: does inserting the same units succeed everywhere? Success by the concept that was there before.

Each sample is edited at every position of a grid of ``size`` x ``size`` feature cells
(stride ``size``: the tiles cover the map). The concept "before" is the most common
label of the unedited image inside the tile's pixels; the insertion succeeds when at
least ``min_fraction`` of those pixels show the concept afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch

from ganscope.budget import check_memory, check_span
from ganscope.edits import Intervention
from ganscope.errors import GanscopeError
from ganscope.experiment import ExperimentResult, Schema
from ganscope.progress import ProgressCallback
from ganscope.regions import Region
from ganscope.session import Cut, fractions


class ContextRow(Schema):
    before: str
    trials: int
    successes: int
    rate: float
    mean_fraction: float  # mean concept fraction in the tile after insertion


class ContextResult(ExperimentResult):
    FILE = "context.json"
    concept: str
    layer: str
    units: list[int]
    samples: int
    start: int = 0
    tile: int
    min_fraction: float
    rows: list[ContextRow]  # most trials first


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
def context(cut: Cut, units: Sequence[int], concept: str, *, values: torch.Tensor | float, tile: int = 2,
            min_fraction: float = 0.25, samples: int, start: int = 0,
            progress: bool | ProgressCallback = False) -> ContextResult:
    """Insert ``units`` in every tile of samples [start, start + samples); success rates grouped by the concept
    before."""
    check_span("samples", start, samples)
    check_memory("samples", samples, 8 * 4096, "per-tile shares")  # at most 4096 tiles a sample (64 x 64 cells)
    c = cut.concept(concept)
    trials: dict[int, list[float]] = defaultdict(list)
    for _, prefix in cut.prefixes(range(start, start + samples), progress, "context"):
        before = cut.labels(cut.finish(prefix))
        for cells in tiles(*prefix.acts.shape[2:], tile):
            edit = Intervention(cut.layer, list(units), values, Region(cells > 0))
            after = cut.labels(cut.finish(prefix, edit(prefix.acts)))
            pixels = torch.nn.functional.interpolate(cells[None, None], size=after.shape[1:], mode="nearest")[0, 0]
            pixels = pixels.to(after.device)
            majority = before[:, pixels > 0].mode(dim=1).values
            for label, share in zip(majority.tolist(), fractions(after == c, pixels).tolist()):
                trials[label].append(share)
    rows = []
    for label, shares in trials.items():
        hits = sum(s >= min_fraction for s in shares)
        rows.append(ContextRow(before=cut.concepts[label], trials=len(shares), successes=hits,
                               rate=hits / len(shares), mean_fraction=sum(shares) / len(shares)))
    rows.sort(key=lambda row: (-row.trials, row.before))
    return ContextResult(concept=concept, layer=cut.layer, units=list(units), samples=samples, start=start, tile=tile,
                         min_fraction=min_fraction, rows=rows)
