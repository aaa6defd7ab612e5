#!/usr/bin/env bash
# The intervention figures of docs/experiments.md on the shipped demo generator. LAYER (default layer6: 64 units
# at 16x16, the middle layer of `make demo`, where this small generator forms its trees) picks the layer.
# Small N so each step takes about a minute on a CPU; outputs go to docs/intervene/.
# MODEL (default: demo) picks the weights, e.g. MODEL=demo:runs/x/generator.safetensors: a fixed
# snapshot keeps all steps on the same weights while training refreshes the shipped file.
# NOTE (optional) is a status line for docs/experiments.md.
set -euo pipefail
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
G=.venv/bin/ganscope
M="${MODEL:-demo}"
L="${LAYER:-layer6}"
# context: door insertion at CONTEXT_LAYER (default layer4, 8 x 8, where GAN Dissection and GANPaint insert doors) in
# tiles of TILE x TILE cells (default 2: 16 x 16 pixels at layer4)
CL="${CONTEXT_LAYER:-layer4}"
TILE=$(( ${TILE:-2} ))
D=runs/intervene/dissect
O=docs/intervene
mkdir -p $O
rm -rf $D  # the weights may have changed since the last run: dissect afresh
LAYERS=(--layer "$L")
[ "$CL" = "$L" ] || LAYERS+=(--layer "$CL")
$G dissect --model "$M" "${LAYERS[@]}" --samples "${DISSECT_SAMPLES:-400}" --batch-size 32 --device cpu --out $D --no-report \
  --no-progress > /dev/null
# ACE of the top-20 tree units, and the top-n removal curve (n = 1 ... 64 by IoU)
$G ace --model "$M" --layer $L --concept tree --top 20 --results $D --samples 200 --batch-size 50 --device cpu --curve \
  --out $O/curve --json > $O/ace_tree.json
# top-20 removal for the concepts GAN Dissection reports on its church model, whose figures are for 20 ACE-optimised
# units: 20 units trained for removal (straight-through top-20) against the top 20 by IoU, on 200 held-out samples
for c in tree door window dome; do
  $G optimize --model "$M" --layer $L --concept $c --mode ablate --size 20 --sizes 20 --results $D --samples 64 \
    --held-out 200 --steps 100 --batch-size 16 --device cpu --out $O/remove_$c > /dev/null
done
# optimised alpha (insertion) vs IoU ranking, ACE on 100 held-out samples
$G optimize --model "$M" --layer $L --concept tree --results $D --samples 64 --held-out 100 --steps 150 --batch-size 16 \
  --sizes 1,2,4,8,16,32 --device cpu --out $O/optimize
# mask-driven ranking: a "painted" mask = the segmenter's tree pixels on the sample with the most tree
INDEX=$(MODEL="$M" .venv/bin/python - <<'PY'
import os
import numpy as np, torch
from PIL import Image
from ganscope.models import load_generator
from ganscope.segmenters import load_segmenter
from ganscope.sampling import latents
g, s = load_generator(os.environ["MODEL"]), load_segmenter("demo")
with torch.no_grad():
    labels = s.segment(g(latents(0, range(32), g.latent_shape)))
tree = labels == s.concepts.index("tree")
index = int(tree.flatten(1).sum(1).argmax())
Image.fromarray((tree[index].numpy() * 255).astype(np.uint8)).save("docs/intervene/tree_mask.png")
print(index)
PY
)
$G rank-mask --model "$M" --layer $L --mask $O/tree_mask.png --index "$INDEX" --device cpu --out $O/rank-mask
# context: CONTEXT_SIZE door units trained for insertion (straight-through top-n, whole images), then inserted in
# every TILE x TILE-cell tile
K=${CONTEXT_SIZE:-16}
$G optimize --model "$M" --layer $CL --concept door --mode insert --size $K --sizes $K --results $D --samples 64 \
  --held-out 100 --steps 100 --batch-size 16 --device cpu --out $O/door_insert > /dev/null
UNITS=$(.venv/bin/python -c "import json; print(','.join(map(str, json.load(open('$O/door_insert/optimize.json'))['ranking'][:$K])))")
$G context --model "$M" --layer $CL --concept door --units "$UNITS" --results $D --samples 32 --tile $TILE --device cpu \
  --out $O/context
.venv/bin/python scripts/intervene_summary.py "$M" "${NOTE:-}" > /dev/null  # figures into docs/experiments.md
