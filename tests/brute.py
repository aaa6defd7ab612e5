"""Independent NumPy reference computations for the statistics tests."""

from __future__ import annotations

import numpy as np


def bilinear(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling with align_corners=False of maps (N, h, w), written from the definition."""

    def weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    r0, r1, rw = weights(maps.shape[1], size[0])
    c0, c1, cw = weights(maps.shape[2], size[1])
    rows = maps[:, r0] * (1 - rw)[None, :, None] + maps[:, r1] * rw[None, :, None]
    return rows[:, :, c0] * (1 - cw)[None, None, :] + rows[:, :, c1] * cw[None, None, :]


def iou(active: np.ndarray, labels: np.ndarray, concept: int) -> float:
    c = labels == concept
    union = np.logical_or(active, c).sum()
    return float(np.logical_and(active, c).sum() / union) if union else 0.0


def iqr(active: np.ndarray, labels: np.ndarray, concept: int) -> float:
    """Information quality ratio I(A;C) / H(A,C) of two binary maps."""
    c = labels == concept
    n = active.size
    cells = np.array([(active & c).sum(), (active & ~c).sum(), (~active & c).sum(), (~active & ~c).sum()]) / n

    def h(p: np.ndarray) -> float:
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    a, cc = active.mean(), c.mean()
    joint = h(cells)
    mutual = h(np.array([a, 1 - a])) + h(np.array([cc, 1 - cc])) - joint
    return mutual / joint if joint > 0 else 0.0
