"""A generator fitted to one photo: its latent space (z, or w for StyleGAN2) and an image-specific adaptation.

Step 2 of the inversion, after "Semantic Photo Manipulation with a Generative Image Prior" (Bau et
al. 2019): the generator is changed a little, for this photo only, so that it reproduces the photo
closely while unit edits keep their meaning. The change is small and lives after the edited layer:

- a residual added to the edited layer's output *before* any edit sees it (a fitted feature map: an
  ablated unit is still zero, an inserted one still k_u), and
- a per-channel scale and bias of every later layer at the same depth (``layer7`` ... ``layer10``
  after ``layer6``; ``convs.4`` ... and ``to_rgbs.*`` after ``convs.3``).

``PhotoGenerator`` shares the base generator's modules under their own names, so layer names,
dissection results and ``Session.images(z=..., edits=...)`` work unchanged; its hooks exist only
while its forward runs, so the base generator, which other sessions may share, is never changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import torch
from torch import nn

from ganscope.errors import GanscopeError
from ganscope.trace import get_module, layer_names

Space = Literal["z", "w"]


def latent_space(base: nn.Module) -> Space:
    """w for generators with a mapping network and a synthesis network (StyleGAN2), else z."""
    return "w" if callable(getattr(base, "synthesis", None)) and isinstance(getattr(base, "style", None),
                                                                             nn.Module) else "z"


class PhotoGenerator(nn.Module):
    """``base`` with latents in ``space`` and the adaptation of one photo after ``layer``."""

    def __init__(self, base: nn.Module, layer: str, space: Space | None = None):
        super().__init__()
        get_module(base, layer)
        object.__setattr__(self, "base", base)  # not a child: the shared modules keep their names
        for name, child in base.named_children():
            self.add_module(name, child)
        self.layer, self.space = layer, space or latent_space(base)
        self.latent_shape = tuple(base.latent_shape) if self.space == "z" else (int(base.style[-1].weight.shape[0]),)
        device = next(base.parameters()).device
        shapes = self._probe(device)
        self.adapted = [name for name in shapes if name != layer]
        channels = [shapes[name][0] for name in self.adapted]
        self.register_parameter("residual", nn.Parameter(torch.zeros(shapes[layer], device=device)))
        self.register_parameter("scale", nn.Parameter(torch.zeros(sum(channels), device=device)))
        self.register_parameter("bias", nn.Parameter(torch.zeros(sum(channels), device=device)))
        self._slices = dict(zip(self.adapted, _offsets(channels)))

    def to_space(self, z: torch.Tensor) -> torch.Tensor:
        """Latents z mapped into this generator's space (w = mapping(z), truncated as the base samples)."""
        if self.space == "z":
            return z
        w = self.base.style(z.reshape(z.shape[0], -1))
        truncation = getattr(self.base, "truncation", 1.0)
        return torch.lerp(self.base.latent_avg.to(w), w, truncation) if truncation < 1 else w

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        with self._hooks():
            return self.base.synthesis(latent) if self.space == "w" else self.base(latent)

    def adaptation(self) -> dict[str, torch.Tensor]:
        return {"residual": self.residual.detach(), "scale": self.scale.detach(), "bias": self.bias.detach()}

    def load_adaptation(self, tensors: dict[str, torch.Tensor]) -> None:
        for name, param in (("residual", self.residual), ("scale", self.scale), ("bias", self.bias)):
            value = tensors.get(name)
            if value is None or tuple(value.shape) != tuple(param.shape):
                got = None if value is None else tuple(value.shape)
                raise GanscopeError(f"adaptation {name} has shape {got}; this generator at {self.layer!r} needs "
                                    f"{tuple(param.shape)} (was it inverted with another model or layer?)")
            with torch.no_grad():
                param.copy_(value)

    @contextmanager
    def _hooks(self) -> Iterator[None]:
        handles = [get_module(self.base, self.layer).register_forward_hook(self._add_residual, prepend=True)]
        try:
            for name in self.adapted:
                handles.append(get_module(self.base, name).register_forward_hook(self._scaler(name)))
            yield
        finally:
            for handle in handles:
                handle.remove()

    def _add_residual(self, _module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        return output + self.residual

    def _scaler(self, name: str) -> Any:
        part = self._slices[name]

        def hook(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
            scale, bias = self.scale[part][:, None, None], self.bias[part][:, None, None]
            return output * (1 + scale) + bias

        return hook

    @torch.no_grad()
    def _probe(self, device: torch.device) -> dict[str, tuple[int, ...]]:
        """Output shapes (C, h, w) of the edited layer and the later map layers at its depth, in run order."""
        depth = self.layer.count(".")
        names = [n for n in layer_names(self.base) if n.count(".") == depth]
        shapes: dict[str, tuple[int, ...]] = {}
        seen_layer = [False]

        def record(name: str) -> Any:
            def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
                seen_layer[0] |= name == self.layer
                if seen_layer[0] and isinstance(output, torch.Tensor) and output.dim() == 4 and name not in shapes:
                    shapes[name] = tuple(output.shape[1:])

            return hook

        handles = [get_module(self.base, n).register_forward_hook(record(n)) for n in names]
        try:
            z = torch.zeros(1, *self.base.latent_shape, device=device)
            self.base.synthesis(self.to_space(z)) if self.space == "w" else self.base(z)
        finally:
            for handle in handles:
                handle.remove()
        if self.layer not in shapes:
            raise GanscopeError(f"layer {self.layer!r} gives no (B, C, h, w) feature map; invert at a convolutional "
                                "layer", argument="layer")
        return shapes


def _offsets(channels: list[int]) -> list[slice]:
    out, start = [], 0
    for count in channels:
        out.append(slice(start, start + count))
        start += count
    return out
