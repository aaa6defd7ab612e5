"""World renderer throughput on one torch thread (issue target: >= 1,000 images/s at 64 x 64).

Prints images/s for each batch size, per wall-clock second and per CPU second of this process (the
second is steadier when other jobs share the cores). ``--baseline REV`` also loads ``ganscope/world/scene.py`` as
it was at git revision REV and alternates rounds of the two in the same run, so that a busy machine
slows both alike; the ratio of the medians is the figure to compare. The baseline's output is
checked to be bitwise equal to the current renderer's before timing.
Usage: ``python benchmarks/world_speed.py [--batches 64 256 1024] [--size 64] [--baseline HEAD~1]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
import types
from collections.abc import Callable
from pathlib import Path

import torch

from ganscope.world import render

ROOT = Path(__file__).resolve().parents[1]


def load_baseline(rev: str) -> Callable:
    """``render`` of the world module as committed at ``rev`` (run from the git checkout)."""
    source = subprocess.run(["git", "show", f"{rev}:src/ganscope/world/scene.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(f"scene_{rev}")
    exec(compile(source, f"{rev}:scene.py", "exec"), module.__dict__)  # our own repository's file at REV
    return module.render


def rate(fn: Callable, batch: int, size: int, images: int, start: int) -> tuple[float, float]:
    """Images per wall second and per CPU second, rendering ``images`` fresh indices from ``start``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for first in range(start, start + images, batch):
        fn(range(first, first + batch), seed=0, size=size)
    return images / (time.perf_counter() - wall), images / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--images", type=int, default=4096, help="images per round and batch size")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per renderer (median reported)")
    parser.add_argument("--baseline", help="git revision of the renderer to compare with")
    args = parser.parse_args()
    torch.set_num_threads(1)
    renderers = {"current": render}
    if args.baseline:
        renderers = {f"baseline {args.baseline}": load_baseline(args.baseline), "current": render}
        old, new = (fn(range(100), seed=0, size=args.size) for fn in renderers.values())
        assert torch.equal(old.images, new.images) and torch.equal(old.labels, new.labels), "outputs differ"
    print(f"world renderer, {args.size} x {args.size}, 1 torch thread, median of {args.rounds} rounds")
    for batch in args.batches:
        images = max(batch, args.images // batch * batch)
        for fn in renderers.values():
            fn(range(batch), seed=0, size=args.size)  # warm-up
        rates: dict[str, list[tuple[float, float]]] = {name: [] for name in renderers}
        for r in range(args.rounds):  # alternate so that background load hits every renderer alike
            for name, fn in renderers.items():
                rates[name].append(rate(fn, batch, args.size, images, start=r * images))
        wall = {name: statistics.median(w for w, _ in values) for name, values in rates.items()}
        cpu = {name: statistics.median(c for _, c in values) for name, values in rates.items()}
        line = "  ".join(f"{name}: {wall[name]:6.0f} img/s ({cpu[name]:6.0f} per CPU s)" for name in renderers)
        if args.baseline:
            first = next(iter(renderers))
            line += f"  speed-up {wall['current'] / wall[first]:.2f}x ({cpu['current'] / cpu[first]:.2f}x CPU)"
        print(f"batch {batch:5d}  {line}")


if __name__ == "__main__":
    main()
