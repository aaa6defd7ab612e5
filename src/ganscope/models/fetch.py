"""Download catalog checkpoints into the cache with a progress bar and a sha256 check."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from ganscope.errors import GanscopeError
from ganscope.io import atomic_write
from ganscope.models.catalog import CatalogEntry, cached_path
from ganscope.models.integrity import CHUNK, check_once, check_sha256

CONNECT_TIMEOUT_S = 10


def fetch(entry: CatalogEntry, progress: bool = True) -> Path:
    """Download ``entry`` into the cache (atomically; nothing is left behind on failure)."""
    dest = cached_path(entry)
    if dest.is_file():
        check_once(dest, entry.sha256, str(dest))
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
