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

import torch
import torch.nn.functional as F

_CHUNK_ELEMENTS = 1 << 23  # upsampled values processed at once, bounds memory


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear (align_corners=False) upsampling of maps (N, h, w) to (N, *size)."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps.float()
    return F.interpolate(maps[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]


class JointHistogram:
    """Counts (units, bins + 2, concepts) of upsampled activation bin x label."""

    def __init__(self, lo: torch.Tensor, hi: torch.Tensor, bins: int, concepts: int):
        self.lo = lo.double().cpu()
        self.hi = torch.maximum(hi.double().cpu(), self.lo + 1e-6)
        self.bins = bins
        self.concepts = concepts
        self.counts = torch.zeros(len(lo), bins + 2, concepts, dtype=torch.int64)
        self.label_counts = torch.zeros(concepts, dtype=torch.int64)

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
        size = (labels.shape[1], labels.shape[2])
        lo, width = self.lo.to(device, torch.float32), self.width.to(device, torch.float32)
        self.label_counts += torch.bincount(labels.flatten(), minlength=self.concepts).cpu()
        # Bilinear upsampling never exceeds the map's maximum: maps entirely below lo
        # contribute nothing above bin 0 and are skipped before upsampling.
        peak = activations.flatten(2).amax(2)
        pairs = (peak >= lo[None]).nonzero()
        step = max(1, _CHUNK_ELEMENTS // (size[0] * size[1]))
        stride = (self.bins + 2) * self.concepts
        total = torch.zeros(self.counts.numel(), dtype=torch.int64, device=device)
        for start in range(0, len(pairs), step):
            b, u = pairs[start : start + step].unbind(1)
            up = upsample(activations[b, u], size)
            bin_index = ((up - lo[u, None, None]) / width[u, None, None]).floor_().clamp_(-1, self.bins) + 1
            key = u[:, None, None] * stride + bin_index.long() * self.concepts + labels[b]
            total += torch.bincount(key[bin_index > 0], minlength=total.numel())
        self.counts += total.view_as(self.counts).cpu()

    def merge(self, other: JointHistogram) -> None:
        if not (torch.equal(self.lo, other.lo) and torch.equal(self.hi, other.hi) and self.bins == other.bins):
            raise ValueError("cannot merge histograms with different bin edges")
        self.counts += other.counts
        self.label_counts += other.label_counts

    # -- derived statistics -------------------------------------------------------
    @property
    def pixels(self) -> int:
        return int(self.label_counts.sum())

    def intersections(self) -> torch.Tensor:
        """|A_j & C| for every edge j: (units, bins + 1, concepts), column j - 1 is edge j."""
        return self.counts[:, 1:].flip(1).cumsum(1).flip(1)

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


def _plogp(p: torch.Tensor) -> torch.Tensor:
    return torch.where(p > 0, p * p.clamp(min=1e-300).log(), torch.zeros_like(p))
