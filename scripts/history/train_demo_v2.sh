#!/usr/bin/env bash
# The long training run of the demo generator v2 (docs/models.md, "Demo generator v2"), resumable
# across sessions and machines: the run directory lives outside the work tree (RUN, default
# /tmp/ganscope-demo-v2); when it holds no state yet, train-state/ seeds it. The run has ended and
# train-state/ is no longer in the tree: `git checkout 2f14f5e -- train-state/` restores its last state.
# Each call trains until the recipe's total CPU budget is spent (CPU_SECONDS, process CPU time),
# or until step STEPS when that is set (where one recipe phase hands over to the next: docs/models.md),
# checkpointing every 50 steps; stop it at any time and call it again to continue.
set -euo pipefail
RECIPE=${RECIPE:?set RECIPE to the recipe study\'s winner}
RUN=${RUN:-/tmp/ganscope-demo-v2}
# the budget: 6 hours of a 2-core machine (43,200 CPU-s), less what the stopped long runs spent
# (wide-da 8,802, dcgan-bn 5,674; docs/models.md)
CPU_SECONDS=${CPU_SECONDS:-28700}
COMMITTED=train-state/demo_generator_v2.safetensors
mkdir -p "$RUN"
if [ ! -f "$RUN/generator.safetensors" ] && [ -f "$COMMITTED" ]; then
  cp "$COMMITTED" "$RUN/generator.safetensors"
fi
.venv/bin/ganscope train-demo generator --recipe "$RECIPE" --cpu-seconds "$CPU_SECONDS" --steps "${STEPS:-1000000}" \
  --threads "${THREADS:-2}" --checkpoint-every 50 --run-dir "$RUN" --export "$RUN/demo_generator.safetensors"
