"""What artifact scoring compares against: reference images, generated images, and a discriminator's opinion."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ganscope.budget import MAX_SAMPLES, check_count, check_memory
from ganscope.errors import GanscopeError
from ganscope.io import load_weights
from ganscope.registry import resolve

Reference = Callable[[Sequence[int], int, int], torch.Tensor]  # (indices, seed, size) -> images in [-1, 1]


def demo_reference(indices: Sequence[int], seed: int, size: int) -> torch.Tensor:
    """Renders of the demo world: the distribution the demo generator was trained to match."""
    from ganscope.world import render

    return render(indices, seed, size).images


def load_reference(spec: str) -> Reference:
    """``demo`` (world renders) or ``package.module:callable`` returning a function (indices, seed, size) -> images."""
    reference = resolve(spec, {"demo": lambda _: demo_reference}, "reference")
    if not callable(reference):
        raise GanscopeError(f"reference {spec!r} must be a function (indices, seed, size) -> images")
    return reference


def reference_images(reference: Reference, count: int, seed: int, size: int) -> torch.Tensor:
    check_count("reference_samples", count, MAX_SAMPLES, least=2)
    check_memory("reference_samples", count, 3 * size * size * 4, "reference images")
    images = reference(range(count), seed, size)
    if not isinstance(images, torch.Tensor) or tuple(images.shape) != (count, 3, size, size):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise GanscopeError(f"reference images must be ({count}, 3, {size}, {size}) like the samples, got {shape}")
    return images


def demo_discriminator(path: str | None = None) -> nn.Module:
    """The demo GAN's discriminator, trained with the shipped demo generator (or the one at ``path``)."""
    from ganscope.models import WEIGHTS
    from ganscope.models.demo import discriminator_from_weights

    disc = discriminator_from_weights(load_weights(path or WEIGHTS / "demo_discriminator.safetensors"))
    return disc.eval().requires_grad_(False)


def load_discriminator(spec: str) -> nn.Module | None:
    """``none``, ``demo[:PATH]`` or ``package.module:callable`` (a module: images -> logits (B,))."""
    if spec == "none":
        return None
    disc = resolve(spec, {"demo": demo_discriminator}, "discriminator")
    if not isinstance(disc, nn.Module):
        raise GanscopeError(f"discriminator {spec!r} is a {type(disc).__name__}, not a torch.nn.Module")
    return disc.eval().requires_grad_(False)


@torch.no_grad()
def discriminator_scores(disc: nn.Module, images: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """One logit per image (higher = more real), independent of which images share its batch.

    The demo discriminator's minibatch-std layer compares images in strided groups of 4:
    batching n images after 3 anchor images repeated n times puts each image in a group
    with the same three anchors, so its score depends on nothing else.
    """
    n = len(images)
    filler = anchors[:3].to(images).repeat_interleave(n, dim=0)
    if len(filler) != 3 * n:
        raise GanscopeError("discriminator scores need 3 anchor images")
    logits = disc(torch.cat([images, filler]))
    return logits.reshape(-1)[:n].float().cpu()
