"""Compiled CPU kernels for the tallies' inner loops (numba), used when the activations are on the CPU.

The torch code paths stay the device-agnostic reference (and the GPU path); these kernels give the
same counts and moments without materialising upsampled maps, keys or bincount buffers: one pass
over the pixels that may reach a unit's histogram range, parallel over units (each unit owns its
slice of the counts, so no two threads write the same cell). They use as many threads as torch.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numba
import numpy as np
import torch
from numba import njit, prange

# torch runs GNU OpenMP, under which numba's default (omp) layer aborts a forked child; "forksafe"
# picks a layer that survives fork (tbb, or numba's workqueue), unless the user chose one.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "forksafe"
_LOCK = threading.Lock()  # the workqueue layer runs one parallel kernel at a time


@lru_cache(maxsize=64)
def bilinear_axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F.interpolate's bilinear (align_corners=False) sources along one axis.

    Returns per output index its two source indices (n_out, 2) and weights (n_out, 2, float32),
    computed as PyTorch computes them (a float32 scale, source index clamped at 0), and the
    boundaries of runs of outputs that share both sources (the cells of the upsampled map).
    """
    scale = np.float32(n_in) / np.float32(n_out)
    source = scale * (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5)
    source = np.maximum(source, np.float32(0))
    first = np.minimum(np.floor(source).astype(np.int64), n_in - 1)
    second = np.clip(source - first.astype(np.float32), 0, 1).astype(np.float32)
    index = np.stack([first, first + (first < n_in - 1)], 1)
    weight = np.stack([np.float32(1) - second, second], 1).astype(np.float32)
    change = np.flatnonzero((index[1:] != index[:-1]).any(1)) + 1
    runs = np.concatenate([[0], change, [n_out]]).astype(np.int64)
    return index, weight, runs


def _threads() -> None:
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))


def joint_counts(acts: torch.Tensor, labels: torch.Tensor, lo: torch.Tensor, width: torch.Tensor,
                 counts: torch.Tensor) -> None:
    """Add to ``counts`` (units, bins + 2, concepts) every upsampled value >= lo against its label.

    ``acts`` (B, units, h, w) are upsampled bilinearly to the labels' (B, H, W) size; a value v
    falls in bin floor((v - lo) / width) + 1, clamped to bins + 1. Values below lo (bin 0) are
    not counted. The bin coordinate is taken on the source maps (the affine map commutes with the
    interpolation), exactly as the torch path does.
    """
    rows, cols = bilinear_axis(acts.shape[2], labels.shape[1]), bilinear_axis(acts.shape[3], labels.shape[2])
    with _LOCK:
        _threads()
        _joint_counts(acts.float().contiguous().numpy(), labels.to(torch.int32).contiguous().numpy(),
                      lo.float().numpy(), width.float().numpy(), counts.numpy(), *rows, *cols)


def unit_moments(values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per unit of ``values`` (B, units, ...): mean, sum of squared deviations, min and max (float64)."""
    flat = values.float().contiguous().view(values.shape[0], values.shape[1], -1).numpy()
    with _LOCK:
        _threads()
        moments = _unit_moments(flat)
    return tuple(torch.from_numpy(a) for a in moments)


@njit(parallel=True, cache=True, nogil=True)
def _joint_counts(acts, labels, lo, width, counts, ys, yw, row_runs, xs, xw, col_runs):  # pragma: no cover
    batch, units, h, w = acts.shape
    top = counts.shape[1] - 1
    one = np.float32(1)
    for u in prange(units):
        for b in range(batch):
            m = acts[b, u]
            high, low = m[0, 0], m[0, 0]
            for i in range(h):
                for j in range(w):
                    high, low = max(high, m[i, j]), min(low, m[i, j])
            high, low = (high - lo[u]) / width[u] + one, (low - lo[u]) / width[u] + one
            # Interpolated values never exceed their largest corner by more than a few ulps.
            reach = one - np.float32(1e-5) * max(abs(high), abs(low))
            if high < reach:
                continue
            for r in range(len(row_runs) - 1):
                y_start, y_stop = row_runs[r], row_runs[r + 1]
                r0, r1 = ys[y_start, 0], ys[y_start, 1]
                for c in range(len(col_runs) - 1):
                    x_start, x_stop = col_runs[c], col_runs[c + 1]
                    c0, c1 = xs[x_start, 0], xs[x_start, 1]
                    p = (m[r0, c0] - lo[u]) / width[u] + one
                    q = (m[r0, c1] - lo[u]) / width[u] + one
                    s = (m[r1, c0] - lo[u]) / width[u] + one
                    t = (m[r1, c1] - lo[u]) / width[u] + one
                    if p < reach and q < reach and s < reach and t < reach:
                        continue  # a cell whose four corners stay below the range
                    for y in range(y_start, y_stop):
                        h0, h1 = yw[y, 0], yw[y, 1]
                        if p * h0 + s * h1 < reach and q * h0 + t * h1 < reach:
                            continue  # along a row the patch is linear: its ends bound it
                        for x in range(x_start, x_stop):
                            w0, w1 = xw[x, 0], xw[x, 1]
                            v = (p * w0 + q * w1) * h0 + (s * w0 + t * w1) * h1
                            if v >= one:
                                counts[u, int(v) if v < top else top, labels[b, y, x]] += 1


@njit(parallel=True, cache=True, nogil=True)
def _unit_moments(values):  # pragma: no cover
    batch, units, n = values.shape
    mean, m2 = np.zeros(units), np.zeros(units)
    low, high = np.empty(units), np.empty(units)
    for u in prange(units):
        total, lowest, highest = 0.0, np.inf, -np.inf
        for b in range(batch):
            for i in range(n):
                v = np.float64(values[b, u, i])
                total += v
                lowest, highest = min(lowest, v), max(highest, v)
        mu = total / max(batch * n, 1)
        spread = 0.0
        for b in range(batch):
            for i in range(n):
                d = np.float64(values[b, u, i]) - mu
                spread += d * d
        mean[u], m2[u], low[u], high[u] = mu, spread, lowest, highest
    return mean, m2, low, high
