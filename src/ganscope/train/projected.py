"""A projected discriminator: small trainable heads on a frozen pretrained encoder (Sauer et al. 2021).

The encoder is the demo segmenter's (its three scales), frozen and in eval mode; each scale
is mixed by a fixed random 1x1 projection and judged by its own strided conv head. The
generator's gradient flows through the frozen encoder, so it is pushed to match the world in
the features that the segmenter reads. This is why the recipe study also reports figures that
do not use those features (sharpness, and concept frequencies from exact world labels).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganscope.models.demo import EqualConv2d
from ganscope.segmenters.demo import DemoSegmenterNet


class _Head(nn.Module):
    """Strided 4x4 convs from (C, s, s) down to 4 x 4, then a 1x1 logit map, averaged."""

    def __init__(self, cin: int, size: int, width: int = 64):
        super().__init__()
        layers: list[nn.Module] = []
        c = cin
        for _ in range(int(math.log2(size // 4))):
            layers += [nn.Conv2d(c, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c = width
        layers += [nn.Conv2d(c, width, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(width, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(dim=(1, 2, 3))


class ProjectedDiscriminator(nn.Module):
    """image (B, 3, R, R) -> logit (B,): sum of per-scale heads on frozen encoder features."""

    def __init__(self, encoder: DemoSegmenterNet, resolution: int = 64):
        super().__init__()
        self.encoder = encoder.eval().requires_grad_(False)
        widths = [m[-2].num_features for m in (encoder.enc1, encoder.enc2, encoder.enc3)]
        sizes = [resolution, resolution // 2, resolution // 4]
        self.mix = nn.ModuleList(EqualConv2d(c, 2 * c, 1).requires_grad_(False) for c in widths)
        self.heads = nn.ModuleList(_Head(2 * c, s) for c, s in zip(widths, sizes))

    def train(self, mode: bool = True) -> ProjectedDiscriminator:
        super().train(mode)
        self.encoder.eval()  # frozen batch-norm statistics
        return self

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        feats = self.encoder.encode(img)
        return sum(head(F.leaky_relu(mix(f), 0.2)) for f, mix, head in zip(feats, self.mix, self.heads))
