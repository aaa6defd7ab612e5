"""Atomic file output and safe checkpoint loading.

Every file ganscope writes goes to a temporary name in the same directory and is
renamed into place, so a reader never sees a half-written file, even after a kill.
Results, tables and checkpoints are also flushed to the disk before and after the
rename (``durable``), so that a power loss leaves the old file or the new one; report
pages and images, which can be rebuilt, are not.
A kill can leave such a temporary file behind; ``output_directory`` removes them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

from ganscope.errors import GanscopeError

try:
    import fcntl
except ImportError:  # Windows: no flock, so concurrent runs on one directory go undetected there
    fcntl = None

TEMP_SUFFIX = ".ganscope-tmp"  # files being written; only a killed writer leaves one behind


def atomic_write(path: str | Path, write: Callable[[Path], None], durable: bool = False) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    ``durable`` fsyncs the file before the rename and its directory after it. A failed write
    (disk full, read-only) removes the temporary file and raises GanscopeError.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as err:
        raise GanscopeError(f"cannot write to {path.parent}: {err.strerror or err}") from err
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        if durable:
            _fsync(tmp)
        os.replace(tmp, path)
        if durable:
            _fsync(path.parent)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        cause = _os_error(err)
        if cause is None or isinstance(err, GanscopeError):
            raise
        raise GanscopeError(f"cannot write {path}: {cause.strerror}") from err
    return path


def _fsync(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_error(err: BaseException | None) -> OSError | None:
    """The OSError behind ``err`` (writers such as torch.save wrap it in their own exception)."""
    while err is not None and not (isinstance(err, OSError) and err.strerror):
        err = err.__cause__ or err.__context__
    return err


@contextmanager
def output_directory(directory: Path) -> Iterator[Path]:
    """Hold ``directory`` as this process's output until the block ends.

    Fails before any work when it cannot be written, or when another ganscope run holds it: two
    runs would overwrite each other's checkpoints and delete each other's temporary files. Then
    removes the temporary files that killed runs left. The hold is an flock on the directory,
    which the kernel drops when its process dies, so a killed run never blocks its own resume.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        raise GanscopeError(f"cannot write to {directory}: {err.strerror or err}") from err
    fd = os.open(directory, os.O_RDONLY)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise GanscopeError(f"another ganscope run is writing to {directory}; wait for it to end or "
                                    "choose another output directory") from None
        for stale in directory.rglob(f".*{TEMP_SUFFIX}"):
            stale.unlink(missing_ok=True)
        yield directory
    finally:
        os.close(fd)


def write_text(path: str | Path, text: str, durable: bool = False) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), durable)


def write_bytes(path: str | Path, data: bytes, durable: bool = False) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), durable)


def write_json(path: str | Path, obj: Any) -> Path:
    """JSON files hold results and state (results.json, marked units): always durable."""
    return write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n", durable=True)


def save_weights(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> Path:
    """Save tensors as safetensors, atomically."""
    flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    return write_bytes(path, save(flat, metadata=metadata), durable=True)  # bytes: a full disk surfaces as OSError


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file with a clear error when it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise GanscopeError(f"weights not found: {path}")
    try:
        return load_file(str(path))
    except Exception as err:
        raise GanscopeError(f"cannot read weights {path}: {str(err).splitlines()[0]}") from err


def weights_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata saved with a safetensors file (``save_weights(metadata=...)``), {} if none."""
    try:
        with safe_open(str(path), framework="pt") as file:
            return dict(file.metadata() or {})
    except Exception as err:
        raise GanscopeError(f"cannot read weights {path}: {str(err).splitlines()[0]}") from err
