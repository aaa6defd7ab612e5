"""Joint histogram of upsampled unit activations and concept labels.

For every unit u, activation bin j and concept c it counts the pixels (over all
samples) whose bilinearly upsampled activation falls in bin j and whose label is c.
From these integer counts, for any threshold at a bin edge, |A & C| is a suffix sum,
|A| a suffix sum over concepts, and |C| a label count, so both threshold rules and
every dataset-level IoU come from one pass over the data.

Bins per unit: ``0`` holds values below ``lo`` (not counted pixel by pixel: derived
from the label counts), ``1..bins`` split ``[lo, hi)`` evenly, ``bins + 1`` holds values
>= ``hi``. Edge ``j`` (1 <= j <= bins + 1) is the value ``lo + (j - 1) * width``.
Thresholds are always reported at edges, where every count is exact; the distance
between a reported quantile threshold and the exact quantile is at most one bin width.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

_CHUNK_ELEMENTS = 1 << 23  # upsampled values processed at once, bounds memory


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
    the same four source values (cells of a replicate-padded map); only cells whose
    largest corner reaches ``lo`` are interpolated, with the same formula (and order of
    operations) as ``F.interpolate``. Other scales upsample whole maps whose peak
    reaches ``lo``. Padding pixels outside the image get ``pad_label``. Chunks come in
    unit-major order, so each chunk covers a contiguous range of units.
    """
    b, _, h, w = acts.shape
    size = (labels.shape[1], labels.shape[2])
    sy, sx = size[0] // h, size[1] // w
    if (h, w) == size:
        yield from _whole_maps(acts, labels, lo, size)
    elif sy * h == size[0] and sx * w == size[1] and sy % 2 == 0 and sx % 2 == 0:
        padded = F.pad(acts, (1, 1, 1, 1), mode="replicate")
        cell_max = F.max_pool2d(padded, 2, stride=1)  # (B, U, h + 1, w + 1)
        cells = (cell_max >= lo[None, :, None, None]).transpose(0, 1).nonzero()
        pad = (sx // 2, sx // 2, sy // 2, sy // 2)
        block_labels = F.pad(labels, pad, value=pad_label).view(b, h + 1, sy, w + 1, sx).transpose(2, 3)
        wy = ((torch.arange(sy, device=acts.device) + 0.5) / sy)[:, None]
        wx = ((torch.arange(sx, device=acts.device) + 0.5) / sx)[None, :]
        step = max(1, _CHUNK_ELEMENTS // (sy * sx))
        for start in range(0, len(cells), step):
            u, bi, i, j = cells[start : start + step].unbind(1)
            a, c = padded[bi, u, i, j, None, None], padded[bi, u, i + 1, j, None, None]
            top = a * (1 - wx) + padded[bi, u, i, j + 1, None, None] * wx
            bottom = c * (1 - wx) + padded[bi, u, i + 1, j + 1, None, None] * wx
            yield u, top * (1 - wy) + bottom * wy, block_labels[bi, i, j]
    else:
        yield from _whole_maps(acts, labels, lo, size)


def _whole_maps(acts: torch.Tensor, labels: torch.Tensor, lo: torch.Tensor,
                size: tuple[int, int]) -> Iterator[tuple[torch.Tensor, ...]]:
    """Upsample the whole maps whose peak reaches lo (the general path)."""
    pairs = (acts.flatten(2).amax(2) >= lo[None]).T.nonzero()
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
        """Add activations (B, units, h, w) against labels (B, H, W)."""
        device = activations.device
        labels = labels.to(device)
        self.label_counts += torch.bincount(labels.flatten(), minlength=self.concepts).cpu()
        if self.concepts < torch.iinfo(torch.int16).max:
            labels = labels.to(torch.int16)  # a quarter of the memory traffic when gathering label blocks
        lo = self.lo.to(device, torch.float32)
        # Padding pixels count under an extra concept and values below lo in bin 0; both
        # are dropped afterwards, which is cheaper than selecting the pixels to keep.
        slots = (self.bins + 2) * (self.concepts + 1)
        for units, values, block_labels in tail_blocks(activations, labels, lo, pad_label=self.concepts):
            first, last = int(units[0]), int(units[-1])
            key = self._keys(units, first, values, block_labels)
            part = torch.bincount(key.flatten(), minlength=(last - first + 1) * slots)
            self.counts[first : last + 1] += part.view(-1, self.bins + 2, self.concepts + 1)[:, :, :-1].cpu()
        self.counts[:, 0] = 0
        self._intersections = None

    def _keys(self, units: torch.Tensor, first: int, values: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Flat (unit - first, bin, label) indices of every value; bin 0 is below lo."""
        lo = self.lo.to(values.device, torch.float32)[units]
        width = self.width.to(values.device, torch.float32)[units]
        shape = (-1,) + (1,) * (values.dim() - 1)
        bin_index = ((values - lo.view(shape)) / width.view(shape)).floor_().clamp_(-1, self.bins).add_(1).long()
        key = bin_index.add_(((units - first) * (self.bins + 2)).view(shape)).mul_(self.concepts + 1)
        return key.add_(labels)

    def merge(self, other: JointHistogram) -> None:
        if not (torch.equal(self.lo, other.lo) and torch.equal(self.hi, other.hi) and self.bins == other.bins):
            raise ValueError("cannot merge histograms with different bin edges")
        self.counts += other.counts
        self.label_counts += other.label_counts
        self._intersections = None

    # -- derived statistics -------------------------------------------------------
    @property
    def pixels(self) -> int:
        return int(self.label_counts.sum())

    def intersections(self) -> torch.Tensor:
        """|A_j & C| for every edge j: (units, bins + 1, concepts), column j - 1 is edge j (cached)."""
        if self._intersections is None:
            self._intersections = self.counts[:, 1:].flip(1).cumsum(1).flip(1)
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
        union = a + self.label_counts.double()[None] - i
        return torch.where(union > 0, i / union.clamp(min=1), torch.zeros_like(i))

    def iqr_edges(self) -> torch.Tensor:
        """Per unit and concept, the edge column maximising IQR = I(A;C) / H(A,C): (units, concepts)."""
        n = max(self.pixels, 1)
        best = torch.zeros(self.units, self.concepts, dtype=torch.long)
        c = self.label_counts.double()[None, None] / n
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
        return {"lo": self.lo, "hi": self.hi, "counts": self.counts, "label_counts": self.label_counts}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.lo, self.hi = state["lo"].clone(), state["hi"].clone()
        self.counts, self.label_counts = state["counts"].clone(), state["label_counts"].clone()
        self.bins = self.counts.shape[1] - 2
        self.concepts = self.counts.shape[2]
        self._intersections = None


def _plogp(p: torch.Tensor) -> torch.Tensor:
    return torch.where(p > 0, p * p.clamp(min=1e-300).log(), torch.zeros_like(p))
