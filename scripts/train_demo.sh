#!/usr/bin/env bash
# The commands that trained the shipped demo weights (see docs/models.md). Re-running
# resumes from runs/demo/*.ckpt; delete that folder to train from scratch.
set -euo pipefail
W=src/ganscope/models/weights
.venv/bin/ganscope train-demo segmenter --steps 1500 --batch-size 32 --run-dir runs/demo \
  --export $W/demo_segmenter.safetensors
.venv/bin/ganscope train-demo generator --steps "${GEN_STEPS:-4850}" --batch-size 16 --lr 0.0005 --beta1 0.5 --r1-gamma 0.1 --instance-noise 0.1 --run-dir runs/demo \
  --export $W/demo_generator.safetensors
