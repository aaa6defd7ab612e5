#!/usr/bin/env bash
# Ship the demo generator v2 when its long run has spent its budget (docs/models.md, issue 19): the run's
# final EMA generator and its discriminator become the shipped weights, then every figure that depends on
# them is measured again, in the order the docs use them. The model card's prose is updated by hand from
# what this prints. Needs chromium for the screenshots (`make chromium`).
# Usage: RUN=/work/runs/long-dcgan-bn scripts/history/ship_demo_v2.sh      (the run's final state)
#        EXPORT=/work/runs/snaps/g-9000 scripts/history/ship_demo_v2.sh      (an exported checkpoint of it, chosen by its figures)
set -euo pipefail
W=src/ganscope/models/weights
PY=.venv/bin/python
OUT=${OUT:-/tmp/ganscope-ship}  # scratch outputs, outside the work tree
mkdir -p "$OUT"
if [ -n "${EXPORT:-}" ]; then
  cp "$EXPORT/demo_generator.safetensors" "$EXPORT/demo_discriminator.safetensors" $W/
  STEPS=$($PY -c "from safetensors import safe_open; print(safe_open('$W/demo_generator.safetensors', 'pt').metadata()['steps'])")
else
RUN=${RUN:?set RUN to the long run directory, or EXPORT to an exported checkpoint}
STEPS=$($PY - "$RUN/generator.safetensors" "$W/demo_generator.safetensors" <<'PY'
import sys
from pathlib import Path
from ganscope.train.demo import export_generator
from ganscope.train.state import load_state
state = load_state(Path(sys.argv[1]))
export_generator(Path(sys.argv[1]), Path(sys.argv[2]))  # the final state, not an older checkpoint's export
print(state["step"])
PY
)
fi
NOTE="figures on the shipped demo weights (v2, $STEPS training steps)"
echo "shipped step $STEPS: $(du -h $W/demo_generator.safetensors | cut -f1) generator"
$PY scripts/evaluate_demo.py --samples 1000 --grid docs/images/demo-samples.png > docs/demo_quality.json
$PY scripts/nearest_renders.py --weights $W/demo_generator.safetensors --out docs/images/demo-nearest.png
/usr/bin/time -f "make demo: %e s wall" .venv/bin/ganscope demo --out "$OUT/demo"
NOTE="$NOTE" scripts/intervene_experiments.sh
$PY scripts/report_screenshots.py "$OUT/demo" docs/images
GANSCOPE_SCREENSHOTS=docs/images $PY -m pytest -q tests/test_server.py -k chromium
GANSCOPE_SCREENSHOTS=docs/images/notebooks $PY -m pytest -q tests/test_widgets.py -k chromium
NOTE="$NOTE" scripts/artifact_experiments.sh
$PY scripts/photo_experiments.py --results runs/intervene/dissect --photos "${PHOTOS:-50}" > "$OUT/photos.json"
echo "photo figures: $OUT/photos.json; now update docs/models.md and docs/photos.md, and git rm -r train-state"
