"""Average the EMA generators of exported checkpoints of one run (Polyak averaging over a longer window).

The demo run's EMA has a half-life of 5 k images (160 steps), and its concept frequencies swing by
+-20 % between checkpoints 650 steps apart; the mean of two such checkpoints swings less. The
discriminator of the last checkpoint is kept beside it (the artifact experiments read its logits).
Usage: .venv/bin/python scripts/average_checkpoints.py OUT_DIR CHECKPOINT_DIR...
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from ganscope.io import save_weights

GENERATOR, DISCRIMINATOR = "demo_generator.safetensors", "demo_discriminator.safetensors"


def main() -> None:
    out, sources = Path(sys.argv[1]), [Path(s) for s in sys.argv[2:]]
    weights = [load_file(s / GENERATOR) for s in sources]
    mean = {key: (sum(w[key].double() for w in weights) / len(weights)).to(weights[0][key].dtype)
            if weights[0][key].is_floating_point() else weights[-1][key] for key in weights[0]}
    with safe_open(str(sources[-1] / GENERATOR), "pt") as last:
        meta = dict(last.metadata())
    steps = []
    for source in sources:
        with safe_open(str(source / GENERATOR), "pt") as file:
            steps.append(file.metadata()["steps"])
    meta["averaged_steps"] = ",".join(steps)
    out.mkdir(parents=True, exist_ok=True)
    save_weights(out / GENERATOR, mean, meta)
    shutil.copy(sources[-1] / DISCRIMINATOR, out / DISCRIMINATOR)
    print(f"{out / GENERATOR}: the mean of steps {meta['averaged_steps']}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
