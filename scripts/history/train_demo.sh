#!/usr/bin/env bash
# The commands that trained the shipped demo weights (see docs/models.md). Re-running
# resumes from runs/demo/*.ckpt; delete that folder to train from scratch.
set -euo pipefail
W=src/ganscope/models/weights
G=".venv/bin/ganscope train-demo generator --batch-size 16 --lr 0.0005 --beta1 0.5 --r1-gamma 0.1 --run-dir runs/demo"
.venv/bin/ganscope train-demo segmenter --steps 1500 --batch-size 32 --run-dir runs/demo \
  --export $W/demo_segmenter.safetensors
# phase 1: instance noise 0.1 keeps the discriminator from separating real and fake by sensor noise alone
$G --steps 4850 --instance-noise 0.1
# phase 2: half the instance noise, so the discriminator sees finer detail
$G --steps "${GEN_STEPS:-9250}" --instance-noise 0.05 --export $W/demo_generator.safetensors
