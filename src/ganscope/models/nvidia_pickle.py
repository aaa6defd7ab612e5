"""Read NVIDIA's network pickles (stylegan2-ada-pytorch, stylegan3) as data, never as code.

NVIDIA's ``torch_utils.persistence`` pickles every network module as a call
``_reconstruct_persistent_obj(meta)``: ``meta`` holds the source code of the module's Python
file, its class name and its state (the module's ``__dict__``: ``_parameters``, ``_buffers``,
``_modules``, ``_init_args``, ``_init_kwargs`` and plain attributes). Normal loading executes
that source. Here the unpickler resolves only an allowlist of globals: the call becomes a
``Record`` (the source stays text, never imported or run), tensors are rebuilt from their
storages by torch's weights-only loader, ``dnnlib``'s EasyDict becomes a dict, containers and
NumPy values are themselves. Every other global is refused, by name, before it is imported.
"""

from __future__ import annotations

import collections
import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganscope.errors import GanscopeError

try:  # NumPy 2 moved the pickled helpers to numpy._core; older pickles name numpy.core
    from numpy._core import multiarray
except ImportError:  # NumPy 1.x
    from numpy.core import multiarray  # type: ignore[no-redef]

PERSISTENCE = ("torch_utils.persistence", "_reconstruct_persistent_obj")


@dataclass
class Record:
    """One persistent module of the pickle: NVIDIA's class name and the module's ``__dict__``."""

    class_name: str
    state: dict[str, Any]
    module_src: str = ""  # the pickled source code, kept as text only

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args", ()))

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return dict(self.state.get("_init_kwargs", {}))

    def child(self, name: str) -> Record | None:
        child = self.state.get("_modules", {}).get(name)
        return child if isinstance(child, Record) else None

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """The module's state dict: parameters, persistent buffers, then submodules' (torch's order)."""
        skip = set(self.state.get("_non_persistent_buffers_set", ()))
        out = {prefix + k: v for k, v in self.state.get("_parameters", {}).items() if v is not None}
        out |= {prefix + k: v for k, v in self.state.get("_buffers", {}).items() if v is not None and k not in skip}
        for name, child in self.state.get("_modules", {}).items():
            if isinstance(child, Record):
                out |= child.tensors(f"{prefix}{name}.")
        return out


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict (with a ``__dict__`` for pickle's BUILD)."""


def _record(meta: Any) -> Record:
    """Stand-in for ``_reconstruct_persistent_obj``: keep the meta as data."""
    if not (isinstance(meta, dict) and meta.get("type") == "class" and isinstance(meta.get("class_name"), str)
            and isinstance(meta.get("state"), dict)):
        raise pickle.UnpicklingError("a persistent-object record without type 'class', class_name and state")
    src = meta.get("module_src")
    return Record(meta["class_name"], dict(meta["state"]), src if isinstance(src, str) else "")


def _storage(data: bytes) -> Any:
    """``torch.storage._load_from_bytes``: the bytes are a legacy torch.save of one storage."""
    if not isinstance(data, bytes):
        raise pickle.UnpicklingError("a tensor storage that is not bytes")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _tensor(storage: Any, offset: int, size: tuple, stride: tuple, *_grad_hooks_metadata: Any) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2`` without hooks or autograd state (weights only)."""
    if not isinstance(storage, torch.TypedStorage):
        raise pickle.UnpicklingError(f"a tensor whose storage is a {type(storage).__name__}")
    return torch._utils._rebuild_tensor(storage, offset, size, stride)


def _parameter(data: Any, *_grad_hooks: Any) -> torch.Tensor:
    """``torch._utils._rebuild_parameter``: the parameter's tensor (weights are loaded, not trained)."""
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError(f"a parameter holding a {type(data).__name__}")
    return data


def _latin1(text: str, encoding: str) -> bytes:
    """``_codecs.encode``, as protocol 2 pickles write bytes: latin-1 text, and no other codec."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"bytes encoded as {encoding!r}")
    return text.encode("latin1")


ALLOWED: dict[tuple[str, str], Callable[..., Any]] = {
    PERSISTENCE: _record,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("torch.storage", "_load_from_bytes"): _storage,
    ("torch._utils", "_rebuild_tensor_v2"): _tensor,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,  # protocol 2 names it so
    ("_codecs", "encode"): _latin1,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(module, name): getattr(multiarray, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name in ("_reconstruct", "scalar")},
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose globals are ``ALLOWED`` and nothing else (and no persistent ids)."""

    def find_class(self, module: str, name: str) -> Any:
        found = ALLOWED.get((module, name))
        if found is None:
            raise RefusedGlobal(f"{module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("a persistent id (torch.save's format, not a network pickle)")


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allowlist."""


def read_network_pickle(path: str | Path) -> dict[str, Any]:
    """The top-level dict of an NVIDIA network pickle (``G``, ``D``, ``G_ema``, ...), networks as Records."""
    path = Path(path)
    if not path.is_file():
        raise GanscopeError(f"network pickle not found: {path}")
    with path.open("rb") as file:
        head = file.read(4)
        if head.startswith(b"PK\x03\x04"):
            raise GanscopeError(f"{path} is a torch.save checkpoint, not an NVIDIA network pickle (.pkl); "
                                "for the rosinality port's .pt files use stylegan2:PATH")
        file.seek(0)
        try:
            data = RestrictedUnpickler(file).load()
        except RefusedGlobal as err:
            raise GanscopeError(f"{path} refused: it needs the global {err}, which an NVIDIA network pickle "
                                "does not contain and which could run code; nothing from it was run") from err
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
                RuntimeError, OverflowError, MemoryError) as err:
            raise GanscopeError(f"cannot read network pickle {path}: the file is truncated or not a pickle "
                                f"({type(err).__name__}: {str(err).strip()[:200]})") from err
    if not isinstance(data, dict) or not any(isinstance(v, Record) for v in data.values()):
        what = f"a dict with keys {', '.join(map(str, list(data)[:6]))}" if isinstance(data, dict) else \
            f"a {type(data).__name__}"
        raise GanscopeError(f"{path} is not an NVIDIA network pickle: it holds {what}, and no networks "
                            "of NVIDIA's torch_utils.persistence")
    return data
