"""The synthetic world with a deliberate artifact unit, for ranking tests (specs: ``artifact_world:make_*``).

``layer1`` holds the synthetic world's units (tests/synthetic.py) plus unit ARTIFACT, whose
strength is relu(z[0]) on a 4 x 4 cell blob: it paints a white speck no real scene has.
Reference images are the clean synthetic world; features are the fractions of pixels
nearest to each palette colour and to white, so the speck is off-distribution by design.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

import synthetic
from ganscope.sampling import latents

ARTIFACT = synthetic.K + 2  # after the K concept units, the noise unit and the dead unit
COLOURS = torch.cat([synthetic.PALETTE, torch.ones(1, 3)])


class ArtifactUnits(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        units = synthetic.Units()(synthetic.OneHotCells()(z))
        blob = torch.zeros(1, 1, 8, 8)
        blob[..., 2:6, 2:6] = 1
        return torch.cat([units, F.relu(z[:, :1, None, None]) * blob], 1)


class ArtifactGenerator(nn.Module):
    def __init__(self, size: int = 32):
        super().__init__()
        self.latent_shape, self.size = (16,), size
        self.layer1 = ArtifactUnits()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        units = self.layer1(z)
        speck = F.interpolate(units[:, ARTIFACT:], size=(self.size, self.size), mode="nearest").clamp(max=1)
        image = synthetic.paint(units, self.size)
        return image + speck * (1 - image)  # blend towards white


def colour_features(images: torch.Tensor) -> torch.Tensor:
    """Per image, the fraction of pixels nearest to each palette colour and to white (B, 6), times 5.

    The scale matters: KID's cubic kernel (a . b / d + 1) ** 3 barely sees differences of small features.
    """
    dist = ((images[:, None] - COLOURS.to(images)[None, :, :, None, None]) ** 2).sum(2)
    return 5 * F.one_hot(dist.argmin(1), len(COLOURS)).float().mean(dim=(1, 2))


def clean_world(indices: Sequence[int], seed: int, size: int) -> torch.Tensor:
    gen = synthetic.SyntheticGenerator(size)
    return gen(latents(seed, indices, gen.latent_shape))


def make_generator() -> ArtifactGenerator:
    return ArtifactGenerator()


def make_reference() -> Callable[[Sequence[int], int, int], torch.Tensor]:
    return clean_world


def make_features() -> Callable[[torch.Tensor], torch.Tensor]:
    return colour_features
