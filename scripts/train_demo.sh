#!/usr/bin/env bash
# The commands that trained the shipped demo weights (see docs/models.md). Re-running
# resumes from runs/demo/*.ckpt; delete that folder to train from scratch.
set -euo pipefail
W=src/ganscope/models/weights
.venv/bin/ganscope train-demo segmenter --steps 1500 --batch-size 32 --run-dir runs/demo \
  --export $W/demo_segmenter.safetensors
.venv/bin/ganscope train-demo generator --steps "${GEN_STEPS:-12000}" --batch-size 16 --run-dir runs/demo \
  --export $W/demo_generator.safetensors
