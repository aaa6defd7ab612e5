"""The speed comparison of the cross-check scripts: best of n runs of each, alternating, in one process."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


@torch.no_grad()
def best_times(runs: dict[str, Callable[[], object]], repeats: int = 3) -> dict[str, float]:
    """``{name_s: best seconds}`` for each run, alternating so that both see the same machine, and
    ``speed_ratio``: the last run's time over the first's (ganscope's over the original's)."""
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    first, last = list(best.values())[0], list(best.values())[-1]
    return {**{f"{name}_s": round(t, 4) for name, t in best.items()}, "speed_ratio": round(last / first, 3),
            "threads": torch.get_num_threads()}
