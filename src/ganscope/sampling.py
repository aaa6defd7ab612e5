"""Seeds to latents: sample ``i`` of a run depends only on ``(seed, i)``.

Each sample gets its own NumPy PCG64 stream keyed by ``[seed, i]``, so any batch,
shard or resume order produces the same latents, on any device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice

import numpy as np
import torch

from ganscope.errors import GanscopeError


def _rng(seed: int, index: int) -> np.random.Generator:
    if seed < 0 or index < 0:  # NumPy seeds are non-negative
        raise GanscopeError(f"seeds and sample indices must be >= 0, got seed {seed}, index {index}")
    return np.random.default_rng([int(seed), int(index)])


def check_device(device: str) -> None:
    """A device torch knows and this machine has, checked before any model is moved there."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as err:
        raise GanscopeError(f"unknown device {device!r}: use cpu or cuda") from err
    if kind == "cuda" and not torch.cuda.is_available():
        raise GanscopeError(f"device {device!r}: CUDA is not available on this machine")


def latents(seed: int, indices: Sequence[int], shape: Sequence[int]) -> torch.Tensor:
    """Standard-normal latents of ``shape`` for each sample index, float32 (B, *shape)."""
    size = int(np.prod(shape))
    rows = [_rng(seed, i).standard_normal(size, dtype=np.float32) for i in indices]
    out = np.stack(rows) if rows else np.zeros((0, size), np.float32)
    return torch.from_numpy(out.reshape(len(rows), *shape))


def uniforms(seed: int, indices: Sequence[int], count: int) -> torch.Tensor:
    """``count`` uniform [0, 1) numbers per sample index, float32 (B, count)."""
    rows = [_rng(seed, i).random(count, dtype=np.float32) for i in indices]
    out = np.stack(rows) if rows else np.zeros((0, count), np.float32)
    return torch.from_numpy(out)


def batches(indices: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Consecutive chunks of ``indices`` of at most ``batch_size``, taken lazily (a range is never listed whole)."""
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    items = iter(indices)
    while chunk := list(islice(items, batch_size)):
        yield chunk
