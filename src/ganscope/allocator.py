"""Keep freed memory for reuse: glibc's allocator otherwise returns every large tensor's pages to the kernel.

By default glibc serves blocks above a dynamic threshold (128 KiB to 32 MiB) with fresh ``mmap``
calls and unmaps them when freed, and trims the heap's free top. A generator's forward pass frees and
allocates the same large activations batch after batch, so every batch faults its pages in again:
on ProGAN-256 (2 threads, 32 samples) 5.0 M minor page faults and 7.1 s of kernel time beside 13.8 s
of user time. Serving every block from the heap and never trimming it keeps those pages: 0.5 M faults,
0.9 s of kernel time, for 13 % more peak memory (docs/benchmarks.md, "Allocator"). ``ganscope``'s
commands and Ray workers call ``keep_freed_memory`` at start; a notebook may call it too.
``GANSCOPE_MALLOC=default`` leaves the allocator as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
NEVER = 2**31 - 1  # the largest int mallopt takes: 2 GiB


def keep_freed_memory() -> bool:
    """Tell glibc to keep freed blocks for reuse (no mmap for large blocks, no trimming); True if it took."""
    if not sys.platform.startswith("linux") or os.environ.get("GANSCOPE_MALLOC") == "default":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, NEVER)) and bool(mallopt(M_TRIM_THRESHOLD, NEVER))
