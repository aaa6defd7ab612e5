"""Work budgets: counts whose work or memory would be unbounded are refused up front, naming the argument.

Streaming experiments (dissection, ACE, curves, context, quality) hold one batch at a time, so their
memory does not grow with the sample count; their count is capped at ``MAX_SAMPLES`` (sample indices
are 31-bit everywhere). Work that keeps every sample in memory (optimisation, paint-set training,
KID's kernel matrices) is priced first: more than ``MEMORY_BUDGET`` bytes is an error that gives the
estimate and the largest count that fits.
"""

from __future__ import annotations

from ganscope.errors import GanscopeError

MAX_SAMPLES = 2**31 - 1  # sample indices are 31-bit (the server, checkpoints, top-k tables)
MAX_STEPS = 1_000_000  # optimisation steps: at 10 ms a step that is ~3 hours
MAX_RESAMPLES = 100_000  # bootstrap resamples, KID blocks, random starts
MEMORY_BUDGET = 8 << 30  # bytes one experiment may hold at once


def check_count(argument: str, value: int, maximum: int, least: int = 1, unit: str = "") -> int:
    """``value`` if ``least <= value <= maximum``, else an error naming ``argument``."""
    if not least <= value <= maximum:
        why = " (sample indices are 31-bit)" if maximum == MAX_SAMPLES else ""
        raise GanscopeError(f"{argument} must be in {least}..{maximum}{unit}{why}, got {value}", argument=argument)
    return value


def check_span(argument: str, start: int, samples: int, least: int = 1) -> None:
    """Samples [start, start + samples) are valid sample indices."""
    check_count(argument, samples, MAX_SAMPLES, least)
    if not 0 <= start <= MAX_SAMPLES - samples:
        raise GanscopeError(f"start must be in 0..{MAX_SAMPLES - samples} so that sample indices stay 31-bit, "
                            f"got {start}", argument="start")


def check_memory(argument: str, count: int, bytes_each: int, what: str, budget: int = MEMORY_BUDGET) -> None:
    """Refuse ``count`` items of ``bytes_each`` held at once when they exceed ``budget``, with the estimate."""
    total = count * bytes_each
    if total > budget:
        fits = max(1, budget // max(1, bytes_each))
        raise GanscopeError(f"{argument} {count:,} would hold {total / 2**30:,.1f} GiB of {what} in memory (budget "
                            f"{budget / 2**30:.0f} GiB); use at most {fits:,}", argument=argument)
