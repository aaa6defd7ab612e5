"""Checkpoint -> safetensors, so that a pickled file needs to be trusted once, not at every load."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ganscope.errors import GanscopeError
from ganscope.io import save_weights
from ganscope.models.checkpoints import flatten, read_checkpoint


def convert_checkpoint(source: Path, out: Path, trust: bool = False,
                       keep: Sequence[str] = ()) -> tuple[int, list[str]]:
    """Write the checkpoint's tensors to ``out``; return (tensor count, dropped non-tensor keys)."""
    if out.suffix != ".safetensors":
        raise GanscopeError(f"output {out} should end in .safetensors")
    tensors, dropped = flatten(read_checkpoint(source, trust=trust))
    if keep:
        tensors = {k: v for k, v in tensors.items() if k.split(".")[0] in keep}
        dropped = [k for k in dropped if k.split(".")[0] in keep]
    if not tensors:
        raise GanscopeError(f"{source} holds no tensors" + (f" under {', '.join(keep)}" if keep else ""))
    shared = {}  # safetensors refuses tensors that share memory: store each one on its own
    for key, value in tensors.items():
        shared[key] = value.clone() if value.untyped_storage().nbytes() != value.nbytes else value
    save_weights(out, shared, metadata={"source": source.name})
    return len(tensors), dropped
