"""Training cost of the demo generator's recipe at other generator widths.

Issue 19's layer pattern (the middle layers hold the most object units) is counted in units, so it
depends on how wide each layer is; changing the widths means training from scratch. This prices
that: for each width tuple it trains the recipe (from its own initial weights, no warm start) for
``--warmup`` steps, then ``--steps`` more, and prints process CPU seconds per step of the timed
steps, the generator's size and the cost relative to the first widths, all measured in one run.
Usage: ``python benchmarks/train_step_cost.py [--recipe dcgan-bn-pn-freq3] [--threads 2]
[--widths 256,128,64,32,16 128,128,128,64,32]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import torch

from ganscope.checkpoint import load_state
from ganscope.train.demo import TrainConfig, train_generator
from ganscope.train.recipes import Recipe, get_recipe


def cpu_per_step(recipe: Recipe, warmup: int, steps: int) -> tuple[float, int]:
    """CPU seconds per training step after ``warmup`` steps, and the generator's parameter count."""
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = TrainConfig(run_dir=Path(run_dir), steps=warmup, checkpoint_every=10**9)
        before = load_state(train_generator(cfg, recipe))
        cfg.steps = warmup + steps
        after = load_state(train_generator(cfg, recipe))
    params = sum(t.numel() for name, t in after["gen"].items() if t.is_floating_point() and "running" not in name)
    return (after["cpu"] - before["cpu"]) / (after["step"] - before["step"]), params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="dcgan-bn-pn-freq3")
    parser.add_argument("--widths", nargs="+", default=["256,128,64,32,16", "128,128,128,64,32", "64,128,128,32,16"],
                        help="generator widths at 4, 8, 16, 32, 64 px, comma-separated; the first is the baseline")
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = get_recipe(args.recipe)
    print(f"recipe {args.recipe}, batch {base.batch}, {args.threads} threads, {args.steps} timed steps")
    print("| generator widths | parameters | CPU-s / step | relative |\n| --- | --- | --- | --- |")
    first = None
    for text in args.widths:
        widths = tuple(int(w) for w in text.split(","))
        cost, params = cpu_per_step(dataclasses.replace(base, channels=widths, warm_start=None),
                                    args.warmup, args.steps)
        first = first or cost
        print(f"| {'/'.join(map(str, widths))} | {params / 1e6:.2f} M | {cost:.2f} | {cost / first:.2f} |", flush=True)


if __name__ == "__main__":
    main()
