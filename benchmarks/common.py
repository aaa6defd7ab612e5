"""What several benchmarks share: a timer and a near-free segmenter."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and process CPU seconds of ``fn()``; CPU time does not count other jobs on the machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


class ColourSegmenter:
    """A near-free segmenter: each pixel is labelled by its hue, in 10 sectors (11 labels with 0).

    Hue does not depend on the colours' scale, so even the greyish images of a randomly
    initialised generator get spread-out labels with spatial structure. About 3 ms per
    256 x 256 image, so a benchmark with it shows the tally's own cost.
    """

    concepts = ["-"] + [f"hue{i}" for i in range(1, 11)]
    categories = [""] + ["color"] * 10

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        r, g, b = images.float().unbind(1)
        hue = torch.atan2(3**0.5 * (g - b), 2 * r - g - b)  # (-pi, pi]
        return ((hue + torch.pi) / (2 * torch.pi) * 10).long().clamp(0, 9) + 1

    def to(self, device: str) -> ColourSegmenter:
        return self
