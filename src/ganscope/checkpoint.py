"""The one checkpoint format and the one resume rule, for dissections, inversions and training.

A checkpoint is one safetensors file, written atomically and loadable without unpickling:
tensors go into the safetensors payload, everything else (ints, floats, strings, nested dicts
and lists, with their key types) into a JSON tree in the file's metadata that points at the
tensors by name. ``resume`` reads one back only when it belongs to the run at hand (its
fingerprint: the options and weights that determine the result); otherwise it says what
changed, and the run starts afresh (or, where mixing would be wrong, stops with that message).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from ganscope.errors import GanscopeError
from ganscope.io import save_weights

TREE_KEY = "ganscope_state_tree"
log = logging.getLogger("ganscope")


def _encode(obj: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj
        return {"t": path}
    if isinstance(obj, dict):
        return {"d": [[k, _encode(v, tensors, f"{path}/{k}")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"l": [_encode(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"v": obj}
    raise TypeError(f"cannot store a {type(obj).__name__} at {path or '/'} in a checkpoint")


def _decode(node: dict, tensors: dict[str, torch.Tensor]) -> Any:
    (kind, value), = node.items()
    if kind == "t":
        return tensors[value]
    if kind == "d":
        return {k: _decode(v, tensors) for k, v in value}
    if kind == "l":
        return [_decode(v, tensors) for v in value]
    return value


def save_state(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a nested state (tensors and plain values) to ``path`` atomically."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, tensors, "")
    return save_weights(path, tensors, {TREE_KEY: json.dumps(tree)})


def load_state(path: str | Path) -> dict[str, Any]:
    """Read a state written by ``save_state``, with a clear error for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise GanscopeError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as file:
            meta = file.metadata() or {}
            tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118 (safe_open is not a dict)
        tree = json.loads(meta[TREE_KEY])
    except KeyError:
        raise GanscopeError(f"{path} is a safetensors file but not a ganscope checkpoint") from None
    except Exception as err:
        raise GanscopeError(f"cannot read checkpoint {path}: {str(err).splitlines()[0]} (corrupt, or written by "
                            "an older ganscope); delete it to start afresh") from err
    return _decode(tree, tensors)


def changed(mine: Mapping[str, Any], theirs: Any) -> str:
    """Which parts of a fingerprint differ (``"the options"``, ``"the weights"``), or "" when none does."""
    theirs = theirs if isinstance(theirs, Mapping) else {}
    return " and ".join(f"the {key}" for key in mine if theirs.get(key) != mine[key])


def resume(path: Path | None, check: Callable[[dict[str, Any]], str], *, strict: bool = False) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if ``check(state)`` finds nothing wrong with it; None when there is none.

    ``check`` returns why the checkpoint is not this run's ("" when it is). Such a checkpoint is an
    error when ``strict``; otherwise the reason is logged and the run starts afresh (and overwrites it).
    """
    if path is None or not path.is_file():
        return None
    state = load_state(path)
    reason = check(state)
    if not reason:
        return state
    if strict:
        raise GanscopeError(f"{path} belongs to another run: {reason}")
    log.warning("not resuming from %s: %s; starting afresh", path, reason)
    return None
