"""Measure the shipped demo models for the model card (docs/models.md): prints JSON.

Usage: .venv/bin/python scripts/evaluate_demo.py [--samples 500] > docs/demo_quality.json
       .venv/bin/python scripts/evaluate_demo.py --checkpoint runs/demo/generator.ckpt  # a training run's EMA
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ganscope.images import grid
from ganscope.io import load_checkpoint
from ganscope.models import load_generator
from ganscope.models.demo import DemoGenerator
from ganscope.sampling import latents
from ganscope.segmenters import load_segmenter
from ganscope.train.evaluate import generator_quality, segmenter_iou


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--checkpoint", type=Path, help="evaluate this training checkpoint's EMA generator only")
    parser.add_argument("--grid", type=Path, help="also save generated samples 0-31 (seed 0) as a PNG grid here")
    args = parser.parse_args()
    torch.set_num_threads(2)
    seg = load_segmenter("demo")
    if args.checkpoint:
        state = load_checkpoint(args.checkpoint)
        gen = DemoGenerator().eval()
        gen.load_state_dict(state["ema"])
        report = {"step": state["step"], "generator": generator_quality(gen, seg, args.samples)}
    else:
        gen = load_generator("demo")
        report = {"segmenter": segmenter_iou(seg, args.samples), "generator": generator_quality(gen, seg, args.samples)}
    if args.grid:
        with torch.no_grad():
            grid(gen(latents(0, range(32), gen.latent_shape)), columns=8).save(args.grid)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
