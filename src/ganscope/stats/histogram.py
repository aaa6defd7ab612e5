"""Joint histogram of upsampled unit activations and concept labels.

For every unit u, activation bin j and concept c it counts the pixels (over all
samples) whose bilinearly upsampled activation falls in bin j and whose label is c.
From these integer counts, for any threshold at a bin edge, |A & C| is a suffix sum,
|A| a suffix sum over concepts, and |C| a label count, so both threshold rules and
every dataset-level IoU come from one pass over the data.

Bins per unit: ``0`` holds values below ``lo`` (not counted pixel by pixel: derived
from the label counts), ``1..bins`` split ``[lo, hi)`` evenly, ``bins + 1`` holds values
>= ``hi``. Edge ``j`` (1 <= j <= bins + 1) is the value ``lo + (j - 1) * width``.
Thresholds are always reported at edges, where every count is exact (up to float32
rounding of values within a few ulps of an edge); the distance between a reported
quantile threshold and the exact quantile is at most one bin width.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from ganscope.stats.kernels import joint_counts

_CHUNK_ELEMENTS = 1 << 20  # upsampled values processed at once: bounds memory, stays near the cache
_SUB_BLOCK = 4  # side of the sub-blocks bounded (and skipped) as a whole


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear (align_corners=False) upsampling of maps (N, h, w) to (N, *size)."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps.float()
    return F.interpolate(maps[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]


def tail_blocks(acts: torch.Tensor, labels: torch.Tensor, lo: torch.Tensor,
                pad_label: int = -1) -> Iterator[tuple[torch.Tensor, ...]]:
    """The upsampled activations that may reach ``lo``, as (units, values, labels) chunks.

    Bilinear upsampling never exceeds the largest of the (up to four) source values it
    mixes, so only those parts of the upsampled map need computing. When the scale is
    an even integer (4 -> 64, 8 -> 256, ...), output pixels fall into blocks that share
    the same four source values (cells of a replicate-padded map); only cells with a
    corner that may reach ``lo`` are looked at, and within them only the 4 x 4
    sub-blocks whose bounding rectangle has such a corner (a bilinear patch peaks at a
    corner). Values follow F.interpolate's bilinear formula up to float rounding. Other
    scales upsample whole maps whose peak may reach ``lo``. Padding pixels outside the
    image get ``pad_label``. Units are sorted within and across chunks.
    """
    b, _, h, w = acts.shape
    size = (labels.shape[1], labels.shape[2])
    sy, sx = size[0] // h, size[1] // w
    if (h, w) != size and sy * h == size[0] and sx * w == size[1] and sy % 2 == 0 and sx % 2 == 0:
        yield from _cell_blocks(acts, labels, lo, (sy, sx), pad_label)
    else:
        yield from _whole_maps(acts, labels, lo, size)


def _may_reach(values: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    """values >= lo, with a margin for the few ulps by which interpolation can overshoot its inputs."""
    return values + 1e-5 * values.abs() >= lo


def _sub_block(side: int) -> int:
    """Sub-block side for a cell side: 4 when it splits the cell, else the whole cell."""
    return _SUB_BLOCK if side > _SUB_BLOCK and side % _SUB_BLOCK == 0 else side


def _cell_blocks(acts: torch.Tensor, labels: torch.Tensor, lo: torch.Tensor, scale: tuple[int, int],
                 pad_label: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """Chunks of the even-integer-scale path (see ``tail_blocks``)."""
    b, _, h, w = acts.shape
    (sy, sx), (ty, tx) = scale, (_sub_block(scale[0]), _sub_block(scale[1]))
    my, mx = sy // ty, sx // tx
    padded = F.pad(acts, (1, 1, 1, 1), mode="replicate")
    hot = _may_reach(padded, lo[None, :, None, None])
    hot = hot[:, :, :-1] | hot[:, :, 1:]
    cells = (hot[..., :-1] | hot[..., 1:]).transpose(0, 1).nonzero()  # (unit, sample, row, col) of live cells
    # One (ty, tx) tile of labels per sub-block, indexed by (sample, cell row, sub row, cell col, sub col).
    pad = (sx // 2, sx // 2, sy // 2, sy // 2)
    tiles = F.pad(labels, pad, value=pad_label).view(b, h + 1, my, ty, w + 1, mx, tx)
    tiles = tiles.permute(0, 1, 2, 4, 5, 3, 6).reshape(-1, ty, tx)
    device = acts.device
    gy = (torch.arange(my + 1, device=device) / my).view(1, -1, 1)  # sub-block boundaries within a cell
    gx = (torch.arange(mx + 1, device=device) / mx).view(1, 1, -1)
    ly = ((torch.arange(ty, device=device) + 0.5) / ty).view(1, -1, 1)  # pixel centres within a sub-block
    lx = ((torch.arange(tx, device=device) + 0.5) / tx).view(1, 1, -1)
    step = max(1, _CHUNK_ELEMENTS // (sy * sx))
    for start in range(0, len(cells), step):
        u, bi, i, j = cells[start : start + step].unbind(1)
        a, b_, c, d = (padded[bi, u, i + di, j + dj].view(-1, 1, 1) for di, dj in ((0, 0), (0, 1), (1, 0), (1, 1)))
        # The cell's bilinear patch on the sub-block boundaries; it peaks at a corner of each sub-block.
        grid = torch.lerp(torch.lerp(a, b_, gx), torch.lerp(c, d, gx), gy)  # (n, my + 1, mx + 1)
        peak = torch.maximum(torch.maximum(grid[:, :-1, :-1], grid[:, :-1, 1:]),
                             torch.maximum(grid[:, 1:, :-1], grid[:, 1:, 1:]))
        cell, sub_y, sub_x = _may_reach(peak, lo[u, None, None]).nonzero().unbind(1)
        corner = (cell * (my + 1) + sub_y) * (mx + 1) + sub_x
        flat = grid.view(-1)
        g00, g01, g10, g11 = (flat[corner + k].view(-1, 1, 1) for k in (0, 1, mx + 1, mx + 2))
        values = torch.lerp(torch.lerp(g00, g01, lx), torch.lerp(g10, g11, lx), ly)  # (k, ty, tx)
        tile = (((bi[cell] * (h + 1) + i[cell]) * my + sub_y) * (w + 1) + j[cell]) * mx + sub_x
        yield u[cell], values, tiles[tile]


def _whole_maps(acts: torch.Tensor, labels: torch.Tensor, lo: torch.Tensor,
                size: tuple[int, int]) -> Iterator[tuple[torch.Tensor, ...]]:
    """Upsample the whole maps whose peak reaches lo (the general path)."""
    pairs = _may_reach(acts.flatten(2).amax(2), lo[None]).T.nonzero()
    step = max(1, _CHUNK_ELEMENTS // (size[0] * size[1]))
    for start in range(0, len(pairs), step):
        u, bi = pairs[start : start + step].unbind(1)
        yield u, upsample(acts[bi, u], size), labels[bi]


class JointHistogram:
    """Counts (units, bins + 2, concepts) of upsampled activation bin x label."""

    def __init__(self, lo: torch.Tensor, hi: torch.Tensor, bins: int, concepts: int):
        self.lo = lo.double().cpu()
        self.hi = torch.maximum(hi.double().cpu(), self.lo + 1e-6)
        self.bins = bins
        self.concepts = concepts
        self.counts = torch.zeros(len(lo), bins + 2, concepts, dtype=torch.int64)
        self.label_counts = torch.zeros(concepts, dtype=torch.int64)
        self._intersections: torch.Tensor | None = None

    @property
    def units(self) -> int:
        return self.counts.shape[0]

    @property
    def width(self) -> torch.Tensor:
        return (self.hi - self.lo) / self.bins

    def edges(self) -> torch.Tensor:
        """Edge values (units, bins + 1); column j - 1 is edge j."""
        return self.lo[:, None] + torch.arange(self.bins + 1, dtype=torch.float64) * self.width[:, None]

    def update(self, activations: torch.Tensor, labels: torch.Tensor) -> None:
        """Add activations (B, units, h, w) against labels (B, H, W).

        On the CPU a compiled kernel counts (``kernels.joint_counts``); elsewhere the torch path.
        """
        device = activations.device
        labels = labels.to(device)
        # Counts live where the activations are (no host round trip per chunk on a GPU).
        self.counts, self.label_counts = self.counts.to(device), self.label_counts.to(device)
        self.label_counts += torch.bincount(labels.flatten(), minlength=self.concepts)
        lo, width = self.lo.to(device, torch.float32), self.width.to(device, torch.float32)
        if device.type == "cpu":
            joint_counts(activations, labels, lo, width, self.counts)
        else:
            self._count_torch(activations, labels, lo, width)
        self._intersections = None

    def _count_torch(self, activations: torch.Tensor, labels: torch.Tensor, lo: torch.Tensor,
                     width: torch.Tensor) -> None:
        """The device-agnostic path of ``update``: chunks of upsampled values, keyed and bincounted."""
        if self.concepts < torch.iinfo(torch.int16).max:
            labels = labels.to(torch.int16)  # a quarter of the memory traffic when gathering label blocks
        # Bin coordinates of the source maps: bilinear upsampling commutes with this per-unit
        # affine map, so the upsampled coordinate floored is the bin (1 at lo), one op per value.
        shape = (1, -1, 1, 1)
        coords = (activations.float() - lo.view(shape)).div_(width.view(shape)).add_(1)
        # Padding pixels count under an extra concept and values below lo in bin 0; both
        # are dropped afterwards, which is cheaper than selecting the pixels to keep.
        slots = (self.bins + 2) * (self.concepts + 1)
        for units, values, block_labels in tail_blocks(coords, labels, torch.ones_like(lo), pad_label=self.concepts):
            ids, local = torch.unique_consecutive(units, return_inverse=True)
            dtype = torch.int32 if len(ids) * slots < 2**31 else torch.int64
            key = values.clamp_(0, self.bins + 1).to(dtype).mul_(self.concepts + 1).add_(block_labels)
            key = key.add_((local * slots).to(dtype).view((-1,) + (1,) * (key.dim() - 1)))
            part = torch.bincount(key.flatten(), minlength=len(ids) * slots)
            part = part.view(-1, self.bins + 2, self.concepts + 1)[:, :, :-1]
            self.counts.index_add_(0, ids, part)
        self.counts[:, 0] = 0

    def merge(self, other: JointHistogram) -> None:
        if not (torch.equal(self.lo, other.lo) and torch.equal(self.hi, other.hi) and self.bins == other.bins):
            raise ValueError("cannot merge histograms with different bin edges")
        self.counts += other.counts.to(self.counts.device)
        self.label_counts += other.label_counts.to(self.counts.device)
        self._intersections = None

    # -- derived statistics -------------------------------------------------------
    @property
    def pixels(self) -> int:
        return int(self.label_counts.sum())

    def intersections(self) -> torch.Tensor:
        """|A_j & C| for every edge j: (units, bins + 1, concepts), column j - 1 is edge j (cached)."""
        if self._intersections is None:
            self._intersections = self.counts[:, 1:].cpu().flip(1).cumsum(1).flip(1)
        return self._intersections

    def above(self) -> torch.Tensor:
        """|A_j| = pixels with activation >= edge j: (units, bins + 1)."""
        return self.intersections().sum(2)

    def quantile_edges(self, q: float) -> torch.Tensor:
        """Per unit, the highest edge column that at least a fraction q of pixels reach.

        This is the top-q level rounded down to an edge: within one bin width of the
        exact quantile, and it keeps ties (an atom of equal values) on the "above" side.
        """
        reach = self.above().double() >= q * self.pixels
        return (reach.long().sum(1) - 1).clamp(min=0)

    def iou_at(self, columns: torch.Tensor) -> torch.Tensor:
        """IoU (units, concepts) at one edge column per unit, or per unit and concept."""
        inter = self.intersections()
        if columns.dim() == 1:
            columns = columns[:, None].expand(-1, self.concepts)
        i = inter.gather(1, columns[:, None, :]).squeeze(1).double()
        a = inter.sum(2).gather(1, columns).double()
        union = a + self.label_counts.cpu().double()[None] - i
        return torch.where(union > 0, i / union.clamp(min=1), torch.zeros_like(i))

    def iqr_edges(self) -> torch.Tensor:
        """Per unit and concept, the edge column maximising IQR = I(A;C) / H(A,C): (units, concepts)."""
        n = max(self.pixels, 1)
        best = torch.zeros(self.units, self.concepts, dtype=torch.long)
        c = self.label_counts.cpu().double()[None, None] / n
        intersections = self.intersections()
        for start in range(0, self.units, 16):
            inter = intersections[start : start + 16].double() / n
            a = inter.sum(2, keepdim=True)
            cells = torch.stack([inter, a - inter, c - inter, 1 - a - c + inter])
            joint = -_plogp(cells.clamp(min=0)).sum(0)
            mutual = -_plogp(a) - _plogp(1 - a) - _plogp(c) - _plogp(1 - c) - joint
            ratio = torch.where(joint > 0, mutual / joint.clamp(min=1e-300), torch.zeros_like(joint))
            best[start : start + 16] = ratio.argmax(1)
        return best

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"lo": self.lo, "hi": self.hi, "counts": self.counts.cpu(), "label_counts": self.label_counts.cpu()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.lo, self.hi = state["lo"].clone(), state["hi"].clone()
        self.counts, self.label_counts = state["counts"].clone(), state["label_counts"].clone()
        self.bins = self.counts.shape[1] - 2
        self.concepts = self.counts.shape[2]
        self._intersections = None


def _plogp(p: torch.Tensor) -> torch.Tensor:
    return torch.where(p > 0, p * p.clamp(min=1e-300).log(), torch.zeros_like(p))
