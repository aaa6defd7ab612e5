"""What every intervention experiment shares: generator + segmenter + layer, batched latents, concept fractions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from ganscope.images import check_finite
from ganscope.intervene.resume import Prefix, Resumer, resumer
from ganscope.io import GanscopeError
from ganscope.sampling import batches, latents
from ganscope.segmenters import check_segmenter


@dataclass
class Lab:
    """A generator cut at ``layer`` and a segmenter; samples are latents (seed, i) in batches on ``device``."""

    generator: nn.Module
    segmenter: Any
    layer: str
    seed: int = 0
    batch_size: int = 16
    device: str = "cpu"
    resume: Resumer = field(init=False)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise GanscopeError(f"--batch-size must be >= 1, got {self.batch_size}")
        check_segmenter(self.segmenter)
        self.resume = resumer(self.generator, self.layer)

    @property
    def concepts(self) -> list[str]:
        return list(self.segmenter.concepts)

    def concept(self, name: str) -> int:
        """The label index of a concept; unknown names list the known ones."""
        if name not in self.concepts[1:]:
            raise GanscopeError(f"unknown concept {name!r}; concepts are: {', '.join(self.concepts[1:])}")
        return self.concepts.index(name)

    def latents(self, indices: Sequence[int]) -> torch.Tensor:
        return latents(self.seed, indices, tuple(self.generator.latent_shape)).to(self.device)

    @torch.no_grad()
    def prefixes(self, indices: Sequence[int]) -> Iterator[tuple[list[int], Prefix]]:
        """(batch indices, prefix at the layer) for consecutive batches of ``indices``."""
        for batch in batches(indices, self.batch_size):
            yield batch, replace(self.resume.prepare(self.latents(batch)), samples=batch)

    def finish(self, prefix: Prefix, acts: torch.Tensor | None = None) -> torch.Tensor:
        """Images from (edited) activations; None finishes from the unedited ones.

        NaN or Inf in them (a finite but huge insertion value can overflow in later layers) is an error
        naming the sample, never a silently mislabelled image.
        """
        images = self.resume.finish(prefix, prefix.acts if acts is None else acts)
        what = "the generated images" if acts is None else f"the images edited at {self.layer!r}"
        check_finite(what, images, prefix.samples or range(len(images)))
        return images

    @torch.no_grad()
    def labels(self, images: torch.Tensor) -> torch.Tensor:
        labels = self.segmenter.segment(images)
        if not isinstance(labels, torch.Tensor) or labels.dim() != 3 or labels.shape[0] != images.shape[0]:
            raise GanscopeError("the segmenter must return labels of shape (B, H, W)")
        return labels.long()

    def fractions(self, images: torch.Tensor, concept: int, footprint: torch.Tensor | None = None) -> torch.Tensor:
        """Per image, the fraction of pixels (inside ``footprint`` when given) labelled ``concept``."""
        return fractions(self.labels(images) == concept, footprint)


def fractions(hits: torch.Tensor, footprint: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``hits`` (B, H, W) per image, over the pixels of ``footprint`` (H, W) when given."""
    hits = hits.float()
    if footprint is None:
        return hits.flatten(1).mean(1)
    footprint = footprint.to(hits)
    if tuple(footprint.shape) != tuple(hits.shape[1:]):
        footprint = nn.functional.interpolate(footprint[None, None], size=hits.shape[1:], mode="nearest")[0, 0]
    return (hits * footprint).flatten(1).sum(1) / footprint.sum().clamp(min=1)
