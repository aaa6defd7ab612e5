"""Regions of an image (a painted pixel mask or a box) mapped onto a layer's feature grid.

A region is kept at pixel resolution and mapped to each layer's (h, w) on use. Two rules,
named apart on purpose:

- ``Region`` (masks and boxes given to the CLI and library experiments): a feature cell
  belongs to the region when the mask covers at least ``coverage`` (default half) of the
  pixels it spans, so a region means the same thing at every layer.
- ``PooledRegion`` (brush strokes on the paint page and widgets, the original GAN
  Dissection server's ``maskpooling``): ``"max"`` edits a cell when any painted pixel falls in
  it, so even a thin stroke edits something; ``"mean"`` blends each cell by its coverage.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganscope.errors import GanscopeError


@dataclass(frozen=True)
class Region:
    """A binary pixel mask (H, W); ``cells`` maps it to a layer's feature grid."""

    mask: torch.Tensor  # bool (H, W)
    coverage: float = 0.5

    @classmethod
    def from_array(cls, mask: np.ndarray | torch.Tensor, size: tuple[int, int] | None = None,
                   coverage: float = 0.5) -> Region:
        """A mask (H, W) of bools or numbers (nonzero = inside); resized to ``size`` (the image size) if given."""
        tensor = torch.as_tensor(np.array(mask, dtype=np.float32))
        if tensor.dim() == 3:  # an RGB(A) array: any channel painted
            tensor = tensor.amax(-1)
        if tensor.dim() != 2:
            raise GanscopeError(f"a mask must be a 2-D array (H, W), got shape {tuple(tensor.shape)}")
        if size is not None and tuple(tensor.shape) != tuple(size):
            tensor = _resize(tensor, size)
        region = cls(tensor > 0, coverage)
        if not region.mask.any():
            raise GanscopeError("the mask is empty: paint at least one pixel")
        return region

    @classmethod
    def from_png(cls, path: str | Path, size: tuple[int, int] | None = None, coverage: float = 0.5) -> Region:
        """A PNG whose non-black pixels (or non-transparent ones, with alpha) are the region."""
        try:
            image = Image.open(path)
            image.load()
        except (OSError, ValueError) as err:
            raise GanscopeError(f"cannot read mask {path}: {err}") from err
        if image.mode in ("RGBA", "LA", "PA"):
            array = np.asarray(image.getchannel("A"))
        else:
            array = np.asarray(image.convert("L"))
        return cls.from_array(array, size, coverage)

    @classmethod
    def box(cls, x0: int, y0: int, x1: int, y1: int, size: tuple[int, int]) -> Region:
        """The pixels x0 <= x < x1, y0 <= y < y1 of an image of ``size`` (H, W)."""
        h, w = size
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise GanscopeError(f"box {x0},{y0},{x1},{y1} is empty or outside the {w}x{h} image")
        mask = torch.zeros(h, w, dtype=torch.bool)
        mask[y0:y1, x0:x1] = True
        return cls(mask)

    def cells(self, h: int, w: int) -> torch.Tensor:
        """Float 0/1 map (h, w) of the feature cells inside the region."""
        covered = F.adaptive_avg_pool2d(self.mask[None, None].float(), (h, w))[0, 0]
        cells = (covered >= self.coverage - 1e-6).float()
        if not cells.any():
            raise GanscopeError(f"the region covers no {w}x{h} feature cell by at least {self.coverage:.0%}; "
                                "paint a larger region or use a finer layer")
        return cells


def _resize(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a mask of the same aspect ratio, with a warning; other shapes are an error."""
    h, w = mask.shape
    if abs(h * size[1] - w * size[0]) > 0.02 * w * size[0]:  # aspect ratios differ by > 2 %
        raise GanscopeError(f"mask is {w}x{h} but the image is {size[1]}x{size[0]}: paint the mask on the image")
    warnings.warn(f"mask is {w}x{h}; resized to the image size {size[1]}x{size[0]}", stacklevel=3)
    return F.interpolate(mask[None, None], size=tuple(size), mode="nearest")[0, 0]


@dataclass(frozen=True)
class PooledRegion(Region):
    """A region whose cells are the max-pooled (or mean-pooled, fractional) mask."""

    pooling: str = "max"

    def cells(self, h: int, w: int) -> torch.Tensor:
        pool = F.adaptive_max_pool2d if self.pooling == "max" else F.adaptive_avg_pool2d
        return pool(self.mask[None, None].float(), (h, w))[0, 0]


def pooled(mask: np.ndarray, pooling: str = "max") -> PooledRegion | None:
    """The region of a boolean mask (H, W); None when nothing is painted (the edit does nothing)."""
    if not mask.any():
        return None
    return PooledRegion(torch.from_numpy(mask.astype(bool)), pooling=pooling)
