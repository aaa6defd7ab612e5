"""Image conversions shared by the report, interventions and the server (no torchvision)."""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganscope.errors import GanscopeError
from ganscope.io import write_bytes


def check_finite(what: str, tensor: torch.Tensor, indices: Sequence[int]) -> None:
    """Refuse NaN or Inf in a batch (images or activations), naming the first bad sample: PNGs and
    statistics would silently turn them into numbers."""
    if torch.isfinite(tensor.sum()):  # one reduction, no mask: NaN and Inf propagate into the sum
        return
    bad = ~torch.isfinite(tensor.flatten(1)).all(1)  # or the finite values overflowed: look closer
    if bad.any():
        sample = indices[int(bad.nonzero()[0])]
        raise GanscopeError(f"NaN or Inf in {what} for sample {sample}")


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images (B, 3, H, W) or (3, H, W) in [-1, 1] to uint8 arrays (B, H, W, 3) or (H, W, 3)."""
    arr = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return arr.movedim(-3, -1).numpy()


def to_pil(image: torch.Tensor) -> Image.Image:
    """One image (3, H, W) in [-1, 1] as a PIL image."""
    return Image.fromarray(to_uint8(image))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(path: str | Path, image: Image.Image | torch.Tensor) -> Path:
    """Write a PNG atomically."""
    if isinstance(image, torch.Tensor):
        image = to_pil(image)
    return write_bytes(path, png_bytes(image))


def grid(images: torch.Tensor, columns: int, pad: int = 2) -> Image.Image:
    """Tile images (B, 3, H, W) in [-1, 1] into one picture with white gutters."""
    arr = to_uint8(images)
    b, h, w, _ = arr.shape
    rows = -(-b // columns)
    out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), 255, np.uint8)
    for k in range(b):
        r, c = divmod(k, columns)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = arr[k]
    return Image.fromarray(out)


class PngWriter:
    """Writes PNGs on one background thread, so that encoding (zlib releases the GIL) overlaps the next batch's
    forward pass. At most ``MAX_PENDING`` images wait; leaving the ``with`` block waits for all of them and
    raises the first failure."""

    MAX_PENDING = 64

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="png")
        self.pending: deque[Future[Path]] = deque()

    def __call__(self, path: str | Path, image: torch.Tensor) -> None:
        while len(self.pending) >= self.MAX_PENDING:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(save_png, path, image))

    def __enter__(self) -> PngWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
