"""The perceptual half of the inversion loss: feature maps of a network that runs offline.

``auto`` uses the session's segmenter when it has a convolutional encoder (the demo segmenter's
U-Net encoder: it sees trees, roofs and doors the way the labels do), else none (pixel loss only).
For real checkpoints name a factory, ``package.module:callable``, that returns a callable from images
(B, 3, H, W) in [-1, 1] to a feature map (B, C, h, w) or a list of them, differentiable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ganscope.errors import GanscopeError
from ganscope.registry import resolve

Extractor = Callable[[torch.Tensor], list[torch.Tensor]]


def load_perceptual(spec: str, segmenter: Any = None) -> Extractor | None:
    """``auto``, ``none``, ``demo`` or ``package.module:callable`` (see the module docstring)."""
    if spec == "none":
        return None
    if spec == "auto":
        return _encoder(segmenter)
    registry = {"demo": lambda _: _demo()}
    made = resolve(spec, registry, "perceptual feature extractor")
    if not callable(made):
        raise GanscopeError(f"perceptual spec {spec!r} must give a callable: images -> feature maps",
                            argument="perceptual")
    return made if spec == "demo" else _as_list(made, spec)


def distance(extract: Extractor, images: torch.Tensor, target: list[torch.Tensor]) -> torch.Tensor:
    """Per image, the mean squared difference of channel-normalised feature maps (as LPIPS), summed over maps."""
    total = images.new_zeros(len(images))
    for got, want in zip(extract(images), target, strict=True):
        total = total + (_unit(got) - _unit(want)).pow(2).flatten(1).mean(1)
    return total


def _unit(features: torch.Tensor) -> torch.Tensor:
    return F.normalize(features, dim=1, eps=1e-6)


def _encoder(segmenter: Any) -> Extractor | None:
    net = getattr(segmenter, "net", None)
    encode = getattr(net, "encode", None)
    return encode if callable(encode) else None


def _demo() -> Extractor:
    from ganscope.segmenters import load_segmenter

    return load_segmenter("demo").net.encode


def _as_list(extract: Callable[[torch.Tensor], Any], spec: str) -> Extractor:
    def run(images: torch.Tensor) -> list[torch.Tensor]:
        out = extract(images)
        maps = [out] if isinstance(out, torch.Tensor) else list(out)
        if not maps or not all(isinstance(m, torch.Tensor) and m.dim() >= 2 for m in maps):
            raise GanscopeError(f"perceptual extractor {spec!r} must return a (B, C, ...) tensor or a list of them",
                                argument="perceptual")
        return maps

    return run
