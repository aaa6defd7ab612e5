"""An auxiliary generator term against mode dropping: match the world's concept frequencies.

A GAN that drops a mode leaves its concept rare: the demo generator drew a third of the world's
dome pixels. The term is the mean over concepts of (log q_c - log p_c)^2, where q_c is the share
of a generated batch's pixels that the frozen demo segmenter gives to concept c (soft labels, so
it has gradients) and p_c the share in world renders. Log ratios weigh a rare concept that is
missing by two thirds as much as a common one; a boost weighs chosen concepts more in that mean.
It is a batch statistic, so it asks for more domes across samples, not a little dome in each; the
discriminator keeps them realistic.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ganscope.errors import GanscopeError, did_you_mean
from ganscope.sampling import batches
from ganscope.segmenters import load_segmenter
from ganscope.world import CONCEPTS, render

WORLD_SCENES = 1024  # scenes the world frequencies are counted on
FLOOR = 1e-6  # keeps log q finite for a concept the batch lacks


class ConceptFrequencies:
    """The world's concept frequencies and the frozen segmenter that reads them off generated batches."""

    def __init__(self, world: torch.Tensor, device: str = "cpu", boost: Mapping[str, float] | None = None):
        self.segmenter = load_segmenter("demo")
        self.segmenter.net.to(device).requires_grad_(False)
        present = world > 0
        self.concepts = present.nonzero().flatten()
        self.log_world = world[present].log().to(device)
        weights = torch.ones(len(CONCEPTS))
        for name, factor in (boost or {}).items():
            if name not in CONCEPTS:
                raise GanscopeError(f"unknown concept {name!r}{did_you_mean(name, CONCEPTS)}", argument="boost")
            weights[CONCEPTS.index(name)] = factor
        weights = weights[present]
        self.weights = (weights / weights.sum()).to(device)

    @classmethod
    def of_world(cls, seed: int, size: int, device: str = "cpu", scenes: int = WORLD_SCENES,
                 boost: Mapping[str, float] | None = None) -> ConceptFrequencies:
        counts = torch.zeros(len(CONCEPTS), dtype=torch.float64)
        for idx in batches(range(scenes), 64):
            counts += torch.bincount(render(idx, seed=seed, size=size).labels.flatten(), minlength=len(CONCEPTS))
        return cls((counts / counts.sum()).float(), device, boost)

    def frequencies(self, images: torch.Tensor) -> torch.Tensor:
        """Soft concept frequencies (concepts,) of a batch of images in [-1, 1]."""
        return self.segmenter.probabilities(images).mean(dim=(0, 2, 3))

    def loss(self, images: torch.Tensor) -> torch.Tensor:
        q = self.frequencies(images)[self.concepts].clamp_min(FLOOR)
        return ((q.log() - self.log_world).pow(2) * self.weights).sum()
