"""Feature sets and discriminator logits of generated and reference images, computed once and shared.

Ranking and the before/after comparison both need the reference features, the anchor
images for discriminator scores and the same per-image evaluation; ``Scorer`` holds them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganscope.artifacts.features import Features
from ganscope.artifacts.sources import Reference, discriminator_scores, reference_images


@dataclass
class Scored:
    """Features (n, d) and discriminator logits (n,) (None without a discriminator) of n images."""

    features: torch.Tensor
    logits: torch.Tensor | None

    @classmethod
    def concat(cls, parts: list[Scored]) -> Scored:
        logits = None if parts[0].logits is None else torch.cat([p.logits for p in parts])
        return cls(torch.cat([p.features for p in parts]), logits)

    def subset(self, rows: torch.Tensor | list[int]) -> Scored:
        return Scored(self.features[rows], None if self.logits is None else self.logits[rows])


class Scorer:
    """Scores images against ``count`` reference images (seed ``seed``) in one feature space."""

    def __init__(self, features: Features, reference: Reference, reference_spec: str, count: int, seed: int,
                 size: int, discriminator: nn.Module | None = None, device: str = "cpu"):
        self.features, self.discriminator, self.device = features, discriminator, device
        self.reference_spec, self.seed = reference_spec, seed
        images = reference_images(reference, count, seed, size).to(device)
        self.anchors = images[:3]
        self.reference = self(images)

    def __call__(self, images: torch.Tensor) -> Scored:
        logits = None
        if self.discriminator is not None:
            logits = discriminator_scores(self.discriminator, images, self.anchors)
        return Scored(self.features(images), logits)

    def describe(self) -> dict:
        """What every output must say about how its numbers were computed."""
        logits = self.reference.logits
        return {"features": self.features.label, "reference": self.reference_spec,
                "reference_samples": len(self.reference.features), "reference_seed": self.seed,
                "discriminator": self.discriminator is not None,
                "reference_discriminator": None if logits is None else float(logits.double().mean())}
