"""Measure the shipped demo models for the model card (docs/models.md): prints JSON.

Usage: .venv/bin/python scripts/evaluate_demo.py [--samples 500] > docs/demo_quality.json
"""

from __future__ import annotations

import argparse
import json

import torch

from ganscope.models import load_generator
from ganscope.segmenters import load_segmenter
from ganscope.train.evaluate import generator_quality, segmenter_iou


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(2)
    seg = load_segmenter("demo")
    report = {"segmenter": segmenter_iou(seg, args.samples),
              "generator": generator_quality(load_generator("demo"), seg, args.samples)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
