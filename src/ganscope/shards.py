"""Sample-index bookkeeping for sharded runs: which ranges are tallied, which are left.

Shards are half-open ranges ``[start, stop)`` of sample indices. Because sample i
depends only on (seed, i), the checkpoint records tallied ranges rather than shard
numbers: a resumed run may cut what is left into shards of any size.
"""

from __future__ import annotations

from collections.abc import Iterator

Span = tuple[int, int]


def add_span(spans: list[Span], span: Span) -> list[Span]:
    """``spans`` (sorted, disjoint) with ``span`` added, adjacent ranges joined."""
    merged: list[Span] = []
    for start, stop in sorted([*spans, span]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def gaps(spans: list[Span], total: int) -> list[Span]:
    """The parts of ``[0, total)`` not covered by ``spans`` (sorted, disjoint)."""
    out, cursor = [], 0
    for start, stop in spans:
        if start > cursor:
            out.append((cursor, min(start, total)))
        cursor = max(cursor, stop)
    if cursor < total:
        out.append((cursor, total))
    return [(a, b) for a, b in out if a < b]


def split(spans: list[Span], size: int) -> Iterator[Span]:
    """Cut each span into shards of at most ``size`` samples, lazily (memory does not grow with the count)."""
    if size < 1:
        raise ValueError(f"shard size must be >= 1, got {size}")
    return ((a, min(a + size, stop)) for start, stop in spans for a in range(start, stop, size))


def covered(spans: list[Span]) -> int:
    return sum(stop - start for start, stop in spans)
