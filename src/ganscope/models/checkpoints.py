"""Safe checkpoint reading for real models, and readable architecture mismatches.

Pickle can run arbitrary code, so torch files are read with ``weights_only=True``
(tensors, containers, numbers, strings, plus ``argparse.Namespace``, which the
StyleGAN2 port stores as ``args`` in training checkpoints). Anything else is refused
unless the user opts in with ``trust=true`` / ``--trust-checkpoint``.
"""

from __future__ import annotations

import argparse
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganscope.errors import GanscopeError
from ganscope.io import load_weights

SAFE_GLOBALS = [argparse.Namespace]
PICKLE_START = (b"PK\x03\x04", b"\x80")  # torch's zip format; a plain pickle (protocol 2 or later)
NVIDIA_MODULE = "torch_utils"  # NVIDIA's persistence code, named by every stylegan2-ada / stylegan3 pickle
NVIDIA_MARK = b"torch_utils.persistence"  # named before the first network's record, so near the start
HEAD_BYTES = 1 << 16
NVIDIA_HINT = "NVIDIA's network pickles load without their code, as data, with the spec stylegan:PATH"


def trust_hint(kind: str) -> str:
    return (f"if you trust its source, load it with trust=true in the spec ({kind}:PATH?trust=true) "
            "or convert it once: ganscope convert PATH OUT.safetensors --trust-checkpoint")


def read_checkpoint(path: str | Path, trust: bool = False, kind: str = "proggan") -> Any:
    """Read a .safetensors file or a torch checkpoint, refusing pickled code unless trusted.

    ``kind`` is the spec's registry name, for the hint on how to trust a file.
    """
    path = Path(path)
    if not path.is_file():
        raise GanscopeError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        return load_weights(path)
    _check_looks_like_a_checkpoint(path)
    try:
        if trust:
            return _trusted_load(path)
        with torch.serialization.safe_globals(SAFE_GLOBALS), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols: the error below says what matters
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not trust and "weights only" in str(err).lower():
            raise GanscopeError(f"{path} needs pickle to load ({_needed_global(err)}), which can run code; "
                                f"{trust_hint(kind)}") from err
        raise GanscopeError(f"cannot read checkpoint {path}: the file is truncated or corrupt "
                            f"({_first_line(err)})") from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise GanscopeError(f"cannot read checkpoint {path}: the file is truncated or not a PyTorch checkpoint "
                            f"({_first_line(err)})") from err


def _trusted_load(path: Path) -> Any:
    """Full unpickling (the user trusts the file); classes it names must be importable here."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (ImportError, AttributeError) as err:  # ModuleNotFoundError included
        missing = getattr(err, "name", None) or _first_line(err)
        hint = NVIDIA_HINT if NVIDIA_MODULE in str(missing) else "it is not a checkpoint of a format ganscope reads"
        raise GanscopeError(f"{path} was pickled with code that is not importable here ({missing!r}); {hint}") from err


def _check_looks_like_a_checkpoint(path: Path) -> None:
    """Say what a file is when it is plainly not a torch checkpoint (an error page saved as .pth, a text file),
    or when it is NVIDIA's network pickle (which needs the stylegan: spec)."""
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
    if head.startswith(b"\x80") and NVIDIA_MARK in head:
        raise GanscopeError(f"{path} is an NVIDIA network pickle; {NVIDIA_HINT}")
    head = head[:512]
    if head.startswith(PICKLE_START):
        return
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:200]:
        what = "an HTML page (a download that saved an error or login page?)"
    elif not head:
        what = "empty"
    elif all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        what = f"a text file (starting {head[:40].decode(errors='replace')!r})"
    else:
        what = f"not a PyTorch checkpoint (it starts with bytes {head[:8].hex(' ')})"
    raise GanscopeError(f"cannot read checkpoint {path}: the file is {what}")


def flatten(state: Any, prefix: str = "") -> tuple[dict[str, torch.Tensor], list[str]]:
    """Nested dicts of tensors -> dotted keys; also the keys of entries that are not tensors."""
    tensors: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    if isinstance(state, torch.Tensor):
        return {prefix.rstrip("."): state}, skipped
    if not isinstance(state, Mapping):
        return tensors, [prefix.rstrip(".") or "<root>"]
    for key, value in state.items():
        sub_tensors, sub_skipped = flatten(value, f"{prefix}{key}.")
        tensors.update(sub_tensors)
        skipped.extend(sub_skipped)
    return tensors, skipped


def subtree(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries under ``prefix.``, with the prefix removed (empty when there are none)."""
    start = prefix + "."
    return {k[len(start):]: v for k, v in tensors.items() if k.startswith(start)}


def load_state(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load a state dict exactly; on mismatch, say which keys are missing, unexpected or misshapen."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshapen = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
                 if k in state and state[k].shape != v.shape]
    if missing or unexpected or misshapen:
        parts = [f"{label} ({len(keys)}): {_few(keys)}" for label, keys in
                 (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshapen)) if keys]
        raise GanscopeError(f"{source} does not fit {type(module).__name__} (wrong architecture?): "
                            + "; ".join(parts))
    module.load_state_dict(dict(state))


def _few(keys: list[str], limit: int = 4) -> str:
    more = f", ... {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _needed_global(err: BaseException) -> str:
    """The 'GLOBAL x.y' line of torch's weights-only refusal, when it names one."""
    for line in str(err).splitlines():
        if "GLOBAL" in line or "Unsupported global" in line:
            return line.strip().rstrip(".")
    return "an object that is not a tensor"
