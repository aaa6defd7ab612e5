"""Edited images from latents: the one-call API (``ablate``, ``insert``) for scripts and the CLI."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ganscope.images import check_finite
from ganscope.intervene.edit import Intervention, ablation, insertion
from ganscope.intervene.regions import Region
from ganscope.intervene.resume import resumer


@torch.no_grad()
def generate(generator: nn.Module, edit: Intervention, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(original, edited) images for latents ``z``; the edited pass resumes from the edited layer.

    NaN or Inf in the edited images (e.g. from a huge insertion value) is an error naming the sample's
    position in ``z``.
    """
    resume = resumer(generator, edit.layer)
    prefix = resume.prepare(z)
    edited = resume.finish(prefix, edit(prefix.acts))
    check_finite(f"the images edited at {edit.layer!r}", edited, range(len(z)))
    return resume.finish(prefix, prefix.acts), edited


def ablate(generator: nn.Module, layer: str, units: Sequence[int], z: torch.Tensor,
           region: Region | None = None) -> torch.Tensor:
    """Images with ``units`` of ``layer`` set to 0 (inside ``region`` when given)."""
    return generate(generator, ablation(layer, units, region), z)[1]


def insert(generator: nn.Module, layer: str, units: Sequence[int], z: torch.Tensor, values: torch.Tensor | float,
           region: Region | None = None) -> torch.Tensor:
    """Images with ``units`` of ``layer`` set to ``values`` (per unit or one number; inside ``region``)."""
    return generate(generator, insertion(layer, units, values, region), z)[1]
