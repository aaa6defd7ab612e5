"""Generators and segmenters of realistic cost with random weights, for the benchmarks.

``ProGANLike``: a 256 x 256 progressive-GAN-shaped generator (512 channels down to 64,
about 4 GFLOP per sample); ``SegNetLike``: an encoder-decoder segmenter with 150
classes (about 1 GFLOP per sample at 256 x 256). Weights are random: cost, not quality.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

CHANNELS = [512, 512, 512, 256, 128, 64, 32]  # 4, 8, ..., 256


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, upsample: bool):
        super().__init__()
        self.upsample, self.conv = upsample, nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2)
        return F.leaky_relu(self.conv(x), 0.2)


class ProGANLike(nn.Module):
    def __init__(self, channels: list[int] = CHANNELS):
        super().__init__()
        torch.manual_seed(0)
        self.latent_shape = (512,)
        self.input = nn.Linear(512, channels[0] * 16)
        blocks = [Block(channels[0], channels[0], False)]
        for cin, cout in zip(channels[:-1], channels[1:]):
            blocks += [Block(cin, cout, True), Block(cout, cout, False)]
        for i, block in enumerate(blocks, start=1):
            self.add_module(f"layer{i}", block)
        self.n = len(blocks)
        self.output = nn.Conv2d(channels[-1], 3, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.input(z).view(len(z), -1, 4, 4)
        for i in range(1, self.n + 1):
            x = getattr(self, f"layer{i}")(x)
        return torch.tanh(self.output(x))


class SegNetLike:
    """150 classes (ADE20K-sized vocabulary) with object/part/material categories."""

    def __init__(self, classes: int = 151):
        torch.manual_seed(1)
        self.concepts = ["-"] + [f"c{i}" for i in range(1, classes)]
        self.categories = [""] + [("object", "part", "material")[i % 3] for i in range(1, classes)]
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(),
            nn.Conv2d(128, classes, 1),
        ).eval()

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        logits = F.interpolate(self.net(images), size=images.shape[2:], mode="bilinear")
        return logits.argmax(1)

    def to(self, device: str) -> SegNetLike:
        self.net.to(device)
        return self


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class ColourSegmenter:
    """A near-free segmenter: each pixel gets the nearest of 10 palette colours (11 labels with 0).

    About 2 ms per 256 x 256 image, so a benchmark with it shows the tally's own cost.
    """

    def __init__(self) -> None:
        torch.manual_seed(2)
        self.palette = torch.rand(10, 3) * 2 - 1  # colours in the generators' [-1, 1] range
        self.concepts = ["-"] + [f"colour{i}" for i in range(1, 11)]
        self.categories = [""] + ["color"] * 10

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        palette = self.palette.to(images.device)
        dist = (images[:, None] - palette[None, :, :, None, None]).square().sum(2)
        return dist.argmin(1) + 1

    def to(self, device: str) -> ColourSegmenter:
        return self
