"""Run a generator up to a layer once, then finish it many times from edited activations.

``resumer(generator, layer)`` picks the fastest exact path. A generator may implement the
``Resumable`` protocol beside its ``forward`` (the demo generator does): then only the part
after the layer runs again. ``nn.Sequential`` generators resume from the layer's child. Any
other module re-runs its forward with a trace hook that swaps in the edited activations
(correct for any module, just slower).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from ganscope.errors import GanscopeError
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


@runtime_checkable
class Resumable(Protocol):
    """A generator that can stop after a layer and resume from that layer's (edited) output.

    ``forward_to`` returns the layer's output and whatever else the rest of the pass needs;
    ``forward_from(layer, acts, state)`` must equal ``forward`` with the layer's output replaced.
    """

    resume_layers: Collection[str]

    def forward_to(self, layer: str, z: torch.Tensor) -> tuple[torch.Tensor, Any]: ...

    def forward_from(self, layer: str, acts: torch.Tensor, state: Any) -> torch.Tensor: ...


class ProtocolResumer:
    """A ``Resumable`` generator: the prefix is what its ``forward_to`` returns."""

    def __init__(self, generator: Resumable, layer: str):
        self.generator, self.layer = generator, layer

    def prepare(self, z: torch.Tensor) -> Prefix:
        return Prefix(*self.generator.forward_to(self.layer, z))

    def finish(self, prefix: Prefix, acts: torch.Tensor) -> torch.Tensor:
        return self.generator.forward_from(self.layer, acts, prefix.state)


def resumer(generator: nn.Module, layer: str, generic: bool = False) -> Resumer:
    """The fastest exact resumer for ``generator`` at ``layer`` (``generic=True`` forces the trace path)."""
    get_module(generator, layer)
    if not generic and isinstance(generator, Resumable) and layer in generator.resume_layers:
        return ProtocolResumer(generator, layer)
    if not generic and isinstance(generator, nn.Sequential) and layer in dict(generator.named_children()):
        return SequentialResumer(generator, layer)
    return TraceResumer(generator, layer)


def _not_run(layer: str) -> GanscopeError:
    return GanscopeError(f"layer {layer!r} did not run during the generator's forward pass")
