"""Record or edit the output of any named submodule, without editing the model.

``Trace(model, "layer4")`` records that layer's output during forward passes inside
the ``with`` block; ``edit=fn`` replaces it with ``fn(output)``; ``stop=True`` ends the
forward pass right after the layer (for computing activations only). ``TraceDict``
does the same for several layers. Hooks are removed on exit, even on error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import nn

from ganscope.errors import GanscopeError, did_you_mean

Edit = Callable[[torch.Tensor], torch.Tensor]


class LayerNotFoundError(GanscopeError, KeyError):
    """A layer name that the model does not have (the message suggests close names)."""

    def __str__(self) -> str:
        return str(self.args[0])


class StopForward(Exception):
    """Raised after the last traced layer when ``stop=True``; caught by the trace."""


def layer_names(model: nn.Module) -> list[str]:
    """All traceable submodule names of ``model`` (the empty root excluded)."""
    return [name for name, _ in model.named_modules() if name]


def get_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name``; unknown names raise with the closest valid ones."""
    modules = dict(model.named_modules())
    if name in modules and name:
        return modules[name]
    names = layer_names(model)
    hint = did_you_mean(name, names) or f"; layers are: {', '.join(names[:20])}"
    raise LayerNotFoundError(f"unknown layer {name!r}{hint}")


class Trace(AbstractContextManager):
    """Retain (and optionally edit) the output of one layer; see the module docstring."""

    def __init__(self, model: nn.Module, layer: str, edit: Edit | None = None, stop: bool = False,
                 retain: bool = True, detach: bool = True):
        self.layer = layer
        self.output: torch.Tensor | None = None
        module = get_module(model, layer)

        def hook(_module: nn.Module, _inputs: Any, output: Any) -> Any:
            if not isinstance(output, torch.Tensor):
                raise GanscopeError(f"layer {layer!r} returns {type(output).__name__}, not a tensor")
            if edit is not None:
                output = edit(output)
            if retain:
                self.output = output.detach() if detach else output
            if stop:
                raise StopForward()
            return output

        self._handle = module.register_forward_hook(hook)

    def close(self) -> None:
        self._handle.remove()

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: Any) -> bool:
        self.close()
        return exc_type is not None and issubclass(exc_type, StopForward)


class TraceDict(dict, AbstractContextManager):
    """``Trace`` for several layers: ``td[name].output``. ``stop`` stops after the last of them.

    ``edits`` maps layer names to edit functions for the layers that should be changed.
    """

    def __init__(self, model: nn.Module, layers: Iterable[str], edits: dict[str, Edit] | None = None,
                 stop: bool = False, retain: bool = True, detach: bool = True):
        super().__init__()
        edits = edits or {}
        layers = list(dict.fromkeys([*layers, *edits]))
        order = [name for name in layer_names(model) if name in set(layers)]
        for name in layers:  # check names (with suggestions) before any hook is added
            get_module(model, name)
        last = order[-1] if order else None
        try:
            for name in layers:
                self[name] = Trace(model, name, edit=edits.get(name), stop=stop and name == last,
                                   retain=retain, detach=detach)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for trace in self.values():
            trace.close()

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: Any) -> bool:
        self.close()
        return exc_type is not None and issubclass(exc_type, StopForward)
