#!/usr/bin/env bash
# The demo generator's recipe study (docs/models.md): every recipe trains from scratch for the
# same compute, CPU_SECONDS of process CPU time on one torch thread (CPU time, not wall time, so
# recipes that share the machine with each other or with other work still get equal compute);
# then each is evaluated on held-out world renders. Re-running resumes each recipe.
# Usage: scripts/history/recipe_study.sh [RUN_ROOT]   (default /tmp/ganscope-study, outside the work tree)
set -euo pipefail
ROOT=${1:-/tmp/ganscope-study}
CPU_SECONDS=${CPU_SECONDS:-2400}
RECIPES=${RECIPES:-"v1 wide wide-da wide-da-proj wide-da-plain dcgan dcgan-bn dcgan-bn-pn"}
mkdir -p "$ROOT"
train() {
  nice -n 10 .venv/bin/ganscope train-demo generator --recipe "$1" --cpu-seconds "$CPU_SECONDS" \
    --threads 1 --device cpu --checkpoint-every 50 --run-dir "$ROOT/$1" > "$ROOT/$1.log" 2>&1
}
for r in $RECIPES; do train "$r" & done
wait
for r in $RECIPES; do
  .venv/bin/python scripts/evaluate_demo.py --samples 1000 --state "$ROOT/$r/generator.safetensors" \
    --grid "$ROOT/$r.png" > "$ROOT/$r.json"
done
