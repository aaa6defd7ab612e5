"""The demo segmenter: a small U-Net trained on demo-world renders.

``encode`` is also the documented feature extractor for KID on the demo world: its
pooled bottleneck features describe scene content the way the segmenter sees it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganscope.world import CATEGORIES, CONCEPTS

SEG_CHANNELS = (16, 32, 64)


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class DemoSegmenterNet(nn.Module):
    """image (B, 3, H, W) in [-1, 1] -> logits (B, classes, H, W); H, W divisible by 4."""

    def __init__(self, classes: int = len(CONCEPTS), channels: tuple[int, int, int] = SEG_CHANNELS):
        super().__init__()
        c1, c2, c3 = channels
        self.enc1, self.enc2, self.enc3 = _double_conv(3, c1), _double_conv(c1, c2), _double_conv(c2, c3)
        self.dec2, self.dec1 = _double_conv(c3 + c2, c2), _double_conv(c2 + c1, c1)
        self.head = nn.Conv2d(c1, classes, 1)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        return [e1, e2, e3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1, e2, e3 = self.encode(x)
        d2 = self.dec2(torch.cat([F.interpolate(e3, scale_factor=2, mode="nearest"), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2, mode="nearest"), e1], 1))
        return self.head(d1)


class DemoSegmenter:
    """Segmenter protocol around ``DemoSegmenterNet``: concepts, categories, segment()."""

    def __init__(self, net: DemoSegmenterNet):
        self.net = net.eval()
        self.concepts = list(CONCEPTS)
        self.categories = list(CATEGORIES)

    def to(self, device: torch.device | str) -> DemoSegmenter:
        self.net.to(device)
        return self

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        """Labels (B, H, W) for images (B, 3, H, W) in [-1, 1]."""
        logits = self.net(images)
        logits[:, 0] = float("-inf")  # the world labels every pixel: never predict "unlabelled"
        return logits.argmax(1)

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Soft labels (B, concepts, H, W) with gradients, for optimising interventions (``ganscope optimize``)."""
        logits = self.net(images)
        never = torch.zeros(logits.shape[1], dtype=torch.bool, device=logits.device)
        never[0] = True  # as in segment(): never "unlabelled"
        return torch.softmax(logits.masked_fill(never[None, :, None, None], float("-inf")), dim=1)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled encoder features (B, C) used as the demo world's KID feature space."""
        return self.net.encode(images)[-1].mean(dim=(2, 3))
