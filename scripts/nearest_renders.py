"""Samples beside their nearest training renders: does the demo generator copy its training set?

For generated samples 0..31 (seed 0), find the nearest of the first N training renders (world seed 1,
the indices training drew from) in pixel space, and save a grid: each sample above its nearest render.
Prints the mean distance of samples to their nearest render, and, for scale, of held-out world renders
(seed 2) to theirs.

Usage: .venv/bin/python scripts/nearest_renders.py --weights W.safetensors --out grid.png [--renders 20000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ganscope.images import grid
from ganscope.models import load_generator
from ganscope.session import Session
from ganscope.train.demo import WORLD_TRAIN_SEED
from ganscope.train.evaluate import HELD_OUT_SEED
from ganscope.world import render


def nearest(queries: torch.Tensor, renders: int, chunk: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """Index and RMS pixel distance of each query's nearest training render."""
    flat = queries.flatten(1)
    best = torch.full((len(flat),), float("inf"))
    where = torch.zeros(len(flat), dtype=torch.long)
    for start in range(0, renders, chunk):
        images = render(range(start, min(start + chunk, renders)), seed=WORLD_TRAIN_SEED).images.flatten(1)
        dist = torch.cdist(flat, images)
        value, index = dist.min(1)
        better = value < best
        best[better], where[better] = value[better], index[better] + start
    return where, best / flat.shape[1] ** 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--renders", type=int, default=20000)
    args = parser.parse_args()
    torch.set_num_threads(2)
    samples = Session(load_generator(f"demo:{args.weights}")).images(range(32))
    index, dist = nearest(samples, args.renders)
    held_out = render(range(32), seed=HELD_OUT_SEED).images
    _, world_dist = nearest(held_out, args.renders)
    matches = render(index.tolist(), seed=WORLD_TRAIN_SEED).images
    rows = torch.cat([torch.cat([samples[i : i + 8], matches[i : i + 8]]) for i in range(0, 32, 8)])
    grid(rows, columns=8).save(args.out)
    print(f"RMS pixel distance to the nearest of {args.renders} training renders: generated {dist.mean():.3f}, "
          f"held-out world renders {world_dist.mean():.3f}")


if __name__ == "__main__":
    main()
