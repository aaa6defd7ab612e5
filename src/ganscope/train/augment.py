"""Differentiable augmentation of the discriminator's inputs (DiffAugment, Zhao et al. 2020).

Real and generated images pass through the same random colour, translation and cutout
transforms before the discriminator sees them, so it cannot memorise the training set and the
generator still gets gradients through the transforms. Randomness comes from an explicit
``torch.Generator``, so a resumed training step draws the same transforms.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _uniform(gen: torch.Generator, device: torch.device, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=gen).to(device)


def colour(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0-2) and contrast (x0.5-1.5), images in [-1, 1]."""
    b = x.shape[0]
    x = x + (_uniform(gen, x.device, b, 1, 1, 1) - 0.5)
    grey = x.mean(dim=1, keepdim=True)
    x = grey + (x - grey) * (_uniform(gen, x.device, b, 1, 1, 1) * 2)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return mean + (x - mean) * (_uniform(gen, x.device, b, 1, 1, 1) + 0.5)


def translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by whole pixels, up to ``ratio`` of its size, filling with zeros."""
    b, _, h, w = x.shape
    shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * ratio
    dy = (shift[:, 0] * h).round() * 2 / h
    dx = (shift[:, 1] * w).round() * 2 / w
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2], theta[:, 1, 2] = dx, dy
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ``ratio`` times the image side at a random place in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h - ch + 1, (b, 1, 1), generator=gen)
    left = torch.randint(0, w - cw + 1, (b, 1, 1), generator=gen)
    rows = torch.arange(h)[None, :, None]
    cols = torch.arange(w)[None, None, :]
    hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~hole).to(x.device, x.dtype)[:, None]


POLICIES = {"colour": colour, "translation": translation, "cutout": cutout}


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """Apply the named transforms in order (see ``POLICIES``)."""
    for name in policy:
        x = POLICIES[name](x, gen)
    return x
