"""The allocator setting every ganscope command makes: freed blocks kept for reuse (fewer page faults)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import resource, sys, torch
torch.set_num_threads(1)
from ganscope.allocator import keep_freed_memory
took = keep_freed_memory() if sys.argv[1] == "keep" else False
torch.ones(8 * 2**20).sum()  # the first time, its pages are faulted in either way
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    torch.ones(8 * 2**20).sum()  # a 32 MiB block, freed and allocated again
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_memory_is_not_faulted_in_again():
    """Twenty 32 MiB allocations after a first one fault 20 x 8192 pages in by default, a fraction when kept."""
    runs = {mode: subprocess.run([sys.executable, "-c", PROBE, mode], check=True, capture_output=True,
                                 text=True).stdout.split() for mode in ("default", "keep")}
    assert runs["keep"][0] == "True" and runs["default"][0] == "False"
    default, kept = int(runs["default"][1]), int(runs["keep"][1])
    assert default > 10 * 8192 and kept < default / 2, runs  # measured: 163,860 and 24,576-57,344


def test_the_opt_out_leaves_the_allocator_alone(monkeypatch: pytest.MonkeyPatch):
    from ganscope.allocator import keep_freed_memory

    monkeypatch.setenv("GANSCOPE_MALLOC", "default")
    assert keep_freed_memory() is False
