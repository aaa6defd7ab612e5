#!/usr/bin/env bash
# The artifact-unit figures of docs/experiments.md on the demo generator (layer4: 128 units at 8x8):
# the ranking of units by the KID of their top samples, a grid of the top candidates, and KID / FID /
# discriminator logits of fresh samples before and after ablating the top 10 / 20 (and random controls).
# MODEL and DISCRIMINATOR (default: demo) pick the weights, e.g. MODEL=demo:runs/x/generator.safetensors;
# NOTE (optional) is a status line for docs/experiments.md. Outputs go to docs/artifacts/.
set -euo pipefail
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
G=.venv/bin/ganscope
M="${MODEL:-demo}"
DISC="${DISCRIMINATOR:-demo}"
D=runs/artifacts/dissect
O=docs/artifacts
mkdir -p $O
rm -rf $D  # the weights may have changed since the last run: dissect afresh
$G dissect --model "$M" --layer layer4 --samples "${DISSECT_SAMPLES:-1000}" --batch-size 32 --device cpu --out $D \
  --no-report --no-progress > /dev/null
$G artifacts --model "$M" --discriminator "$DISC" --reference demo --results $D --layer layer4 --top 20 \
  --sizes 10,20 --samples "${SAMPLES:-1000}" --reference-samples "${SAMPLES:-1000}" --blocks 10 --device cpu --out $O
.venv/bin/python scripts/artifact_summary.py "$M" "${NOTE:-}" > /dev/null  # figures into docs/experiments.md
