"""Download catalog checkpoints into the cache with a progress bar (the one display) and a sha256 check."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from ganscope.errors import GanscopeError
from ganscope.io import atomic_write
from ganscope.models.catalog import CatalogEntry, cached_path
from ganscope.models.integrity import CHUNK, check_once, check_sha256
from ganscope.progress import ProgressCallback, progress_bar

CONNECT_TIMEOUT_S = 10


def fetch(entry: CatalogEntry, progress: bool | ProgressCallback = True) -> Path:
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
        total = int(response.headers.get("Content-Length") or 0)
        with response, tmp.open("wb") as out, progress_bar(progress, f"{entry.name} (bytes)", total) as update:
            done = 0
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                done += len(block)
                update(done, f"{done / 2**20:.0f} MiB")
        check_sha256(tmp, entry.sha256, entry.url)

    return atomic_write(dest, download)
