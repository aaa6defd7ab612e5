"""Run a generator up to a layer once, then finish it many times from edited activations.

``resumer(generator, layer)`` picks the fastest exact path: the demo generator and
``nn.Sequential`` generators resume from the layer's output without recomputing the
layers before it; any other module re-runs its forward with a trace hook that swaps
in the edited activations (correct for any module, just slower).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from ganscope.io import GanscopeError
from ganscope.models.demo import DemoGenerator
from ganscope.trace import Trace, get_module


@dataclass
class Prefix:
    """The layer's unedited output and whatever else finishing the forward pass needs."""

    acts: torch.Tensor
    state: Any
    samples: Sequence[int] = ()  # the batch's sample indices, named in errors (empty: positions in the batch)


class Resumer(Protocol):
    def prepare(self, z: torch.Tensor) -> Prefix: ...

    def finish(self, prefix: Prefix, acts: torch.Tensor) -> torch.Tensor: ...


class TraceResumer:
    """Any module: the prefix is the latent; finishing re-runs forward with the layer's output replaced."""

    def __init__(self, generator: nn.Module, layer: str):
        get_module(generator, layer)
        self.generator, self.layer = generator, layer

    def prepare(self, z: torch.Tensor) -> Prefix:
        with Trace(self.generator, self.layer, stop=True) as trace:
            self.generator(z)
        if trace.output is None:
            raise _not_run(self.layer)
        return Prefix(trace.output, z)

    def finish(self, prefix: Prefix, acts: torch.Tensor) -> torch.Tensor:
        with Trace(self.generator, self.layer, edit=lambda _: acts, retain=False):
            return self.generator(prefix.state)


class SequentialResumer:
    """``nn.Sequential``: run the children after the layer."""

    def __init__(self, generator: nn.Sequential, layer: str):
        names = [name for name, _ in generator.named_children()]
        self.head = generator[: names.index(layer) + 1]
        self.tail = generator[names.index(layer) + 1 :]

    def prepare(self, z: torch.Tensor) -> Prefix:
        return Prefix(self.head(z), None)

    def finish(self, prefix: Prefix, acts: torch.Tensor) -> torch.Tensor:
        return self.tail(acts)


class DemoResumer:
    """The demo generator: the prefix carries the skip-RGB sum of the resolutions finished before the layer."""

    def __init__(self, generator: DemoGenerator, layer: str):
        self.g, self.index = generator, int(layer.removeprefix("layer"))

    def _rgb(self, rgb: torch.Tensor | None, x: torch.Tensor, index: int) -> torch.Tensor | None:
        if index % 2:  # the RGB head sits at the end of each resolution (even layers)
            return rgb
        out = self.g.to_rgb[index // 2 - 1](x)
        return out if rgb is None else nn.functional.interpolate(rgb, scale_factor=2, mode="bilinear") + out

    def prepare(self, z: torch.Tensor) -> Prefix:
        x, rgb = z, None
        for index in range(1, self.index + 1):
            if index > 1:
                rgb = self._rgb(rgb, x, index - 1)
            x = getattr(self.g, f"layer{index}")(x)
        return Prefix(x, rgb)

    def finish(self, prefix: Prefix, acts: torch.Tensor) -> torch.Tensor:
        x, rgb = acts, prefix.state
        for index in range(self.index, self.g.num_layers + 1):
            if index > self.index:
                x = getattr(self.g, f"layer{index}")(x)
            rgb = self._rgb(rgb, x, index)
        return torch.tanh(rgb)


def resumer(generator: nn.Module, layer: str, generic: bool = False) -> Resumer:
    """The fastest exact resumer for ``generator`` at ``layer`` (``generic=True`` forces the trace path)."""
    get_module(generator, layer)
    if not generic and type(generator) is DemoGenerator and re.fullmatch(r"layer\d+", layer):
        return DemoResumer(generator, layer)
    if not generic and isinstance(generator, nn.Sequential) and layer in dict(generator.named_children()):
        return SequentialResumer(generator, layer)
    return TraceResumer(generator, layer)


def _not_run(layer: str) -> GanscopeError:
    return GanscopeError(f"layer {layer!r} did not run during the generator's forward pass")
