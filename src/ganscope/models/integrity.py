"""sha256 checks of checkpoint files, and a record of files already checked.

A catalog checkpoint is hashed when it is downloaded and, once, when a cached copy is first
used (it may have been put there by hand); ``FILE.verified`` beside it then records the size,
modification time and digest, so later loads skip the hash until the file changes.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from ganscope.errors import GanscopeError
from ganscope.io import write_text

CHUNK = 1 << 20
RECORD_SUFFIX = ".verified"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str, what: str) -> str:
    """Compare with a full digest or a published prefix; return the actual digest."""
    actual = sha256_of(path)
    if expected and not actual.startswith(expected.lower()):
        raise GanscopeError(f"{what}: sha256 {actual[:16]}... does not match the published {expected}; "
                            "the download is corrupt or the file changed upstream")
    return actual


def check_once(path: Path, expected: str, what: str) -> None:
    """``check_sha256`` unless the record beside ``path`` says this very file passed it."""
    record = path.with_name(path.name + RECORD_SUFFIX)
    stat = path.stat()
    stamp = f"{stat.st_size} {stat.st_mtime_ns} "
    with contextlib.suppress(OSError):
        known = record.read_text()
        if known.startswith(stamp) and known.split()[-1].startswith(expected.lower()):
            return
    digest = check_sha256(path, expected, what)
    with contextlib.suppress(OSError):  # a read-only cache: check again next time
        write_text(record, stamp + digest)
