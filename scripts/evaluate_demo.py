"""Measure the shipped demo models for the model card (docs/models.md): prints JSON.

Usage: .venv/bin/python scripts/evaluate_demo.py [--samples 500] > docs/demo_quality.json
       .venv/bin/python scripts/evaluate_demo.py --state RUN/generator.safetensors  # a training run's EMA
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ganscope.checkpoint import load_state
from ganscope.images import grid
from ganscope.models import load_generator
from ganscope.models.demo import DemoGenerator
from ganscope.sampling import latents
from ganscope.segmenters import load_segmenter
from ganscope.train.evaluate import generator_quality, segmenter_iou


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--state", type=Path, help="evaluate this training state's EMA generator only")
    parser.add_argument("--grid", type=Path, help="also save generated samples 0-31 (seed 0) as a PNG grid here")
    args = parser.parse_args()
    torch.set_num_threads(2)
    seg = load_segmenter("demo")
    if args.state:
        state = load_state(args.state)
        gen = DemoGenerator(channels=tuple(state["recipe"]["channels"]),
                            norm=state["recipe"].get("generator_norm", "pixel")).eval()
        gen.load_state_dict(state["ema"])
        report = {"recipe": state["recipe"], "step": state["step"], "cpu_seconds": state["cpu"],
                  "wall_seconds": state["elapsed"], "images_seen": state["step"] * state["batch"],
                  "generator": generator_quality(gen, seg, args.samples)}
    else:
        gen = load_generator("demo")
        report = {"segmenter": segmenter_iou(seg, args.samples), "generator": generator_quality(gen, seg, args.samples)}
    if args.grid:
        with torch.no_grad():
            grid(gen(latents(0, range(32), gen.latent_shape)), columns=8).save(args.grid)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
