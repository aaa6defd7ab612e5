"""A tiny synthetic world for tests: unit k of ``layer1`` fires exactly where concept k + 1 is.

The latent (16,) picks a label for each cell of a 4 x 4 grid. ``layer1`` outputs one-hot
maps of those labels at 8 x 8 (units 0..K-1), plus a noise unit and a dead unit;
``layer2`` is a 3x3 conv of it at 16 x 16. ``paint`` computes the image from ``layer1``
alone: background colour plus unit k times (colour of concept k + 1 - background), so
editing ``layer1`` edits the image predictably (all units zero: an all-background image).
The segmenter reads the nearest palette colour back, so labels are exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CONCEPTS = ["-", "alpha", "beta", "gamma", "delta"]
CATEGORIES = ["", "object", "object", "part", "material"]
PALETTE = torch.tensor([[-1.0, -1.0, -1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])
K = len(CONCEPTS) - 1


class OneHotCells(nn.Module):
    """Latent -> one-hot label maps (B, K + 1, 4, 4): the scene layout."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        cells = (torch.special.ndtr(z.view(-1, 4, 4)) * (K + 1)).long().clamp(0, K)
        return F.one_hot(cells, K + 1).permute(0, 3, 1, 2).float()


class Units(nn.Module):
    """One-hot maps of concepts 1..K at 8 x 8, a noise unit and a dead unit."""

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(onehot, scale_factor=2, mode="nearest")[:, 1:]
        noise = torch.sin(torch.arange(64.0) * 7.3).view(1, 1, 8, 8).expand(up.shape[0], 1, 8, 8)
        return torch.cat([up, noise, torch.zeros_like(up[:, :1])], 1)


class SyntheticGenerator(nn.Module):
    def __init__(self, size: int = 32):
        super().__init__()
        self.latent_shape = (16,)
        self.size = size
        self.layout = OneHotCells()
        self.layer1 = Units()
        self.layer2 = nn.Conv2d(K + 2, 8, 3, padding=1)
        torch.nn.init.normal_(self.layer2.weight, generator=torch.Generator().manual_seed(0))
        torch.nn.init.normal_(self.layer2.bias, generator=torch.Generator().manual_seed(1))  # same model everywhere

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        onehot = self.layout(z)
        units = self.layer1(onehot)
        self.layer2(F.interpolate(units, scale_factor=2, mode="bilinear"))
        return paint(units, self.size)


def paint(units: torch.Tensor, size: int) -> torch.Tensor:
    """Image (B, 3, size, size) from layer1 units: background + sum_k unit_k * (colour_{k+1} - background)."""
    offsets = (PALETTE[1:] - PALETTE[0]).T.to(units)  # (3, K)
    units = torch.nan_to_num(units[:, :K])  # NaN units (tests/badmodels.py) must surface in the layer, not the image
    image = PALETTE[0].to(units)[None, :, None, None] + torch.einsum("ck,bkhw->bchw", offsets, units)
    return F.interpolate(image, size=(size, size), mode="nearest")


class SyntheticSegmenter:
    concepts = CONCEPTS
    categories = CATEGORIES

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return self.probabilities(images).argmax(1)

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Soft labels (B, K + 1, H, W), differentiable: a softmax of minus the distance to each colour."""
        dist = ((images[:, None] - PALETTE.to(images)[None, :, :, None, None]) ** 2).sum(2)
        return torch.softmax(-dist, dim=1)


def make_generator() -> SyntheticGenerator:
    return SyntheticGenerator()


def make_segmenter() -> SyntheticSegmenter:
    return SyntheticSegmenter()
