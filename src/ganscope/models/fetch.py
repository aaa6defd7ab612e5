"""Download catalog checkpoints into the cache with a progress bar and a sha256 check."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from ganscope.errors import GanscopeError
from ganscope.io import atomic_write
from ganscope.models.catalog import CatalogEntry, cached_path

CHUNK = 1 << 20
CONNECT_TIMEOUT_S = 10


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


def fetch(entry: CatalogEntry, progress: bool = True) -> Path:
    """Download ``entry`` into the cache (atomically; nothing is left behind on failure)."""
    dest = cached_path(entry)
    if dest.is_file():
        check_sha256(dest, entry.sha256, str(dest))
        return dest

    def download(tmp: Path) -> None:
        try:
            response = urllib.request.urlopen(entry.url, timeout=CONNECT_TIMEOUT_S)  # noqa: S310 (catalog URLs)
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            raise GanscopeError(f"cannot download {entry.url} ({reason}); with no network, download it "
                                f"elsewhere and place it at {dest}") from err
        with response, tmp.open("wb") as out, _bar(progress) as bar:
            task = bar.add_task(entry.name, total=int(response.headers.get("Content-Length") or 0) or None)
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                bar.advance(task, len(block))
        check_sha256(tmp, entry.sha256, entry.url)

    return atomic_write(dest, download)


def _bar(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    disable=not enabled, transient=True)
