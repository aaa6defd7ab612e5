"""Where a batch's tally time goes: each statistic of each layer, timed on the same activations.

    .venv/bin/python benchmarks/tally_profile.py [--batch 16] [--repeats 5] [--threads 1]

The ProGAN-256 architecture (random weights) with the near-free hue segmenter, layers layer4,
layer7 and layer10, labels at 256 x 256: one batch is generated, the histogram ranges are fixed
from it as the pilot does, then the joint histogram, the moments and the top-k are updated on it
``--repeats`` times each (the least CPU time is kept; the top-k is warmed to full first). Run it with
``PYTHONPATH=<old checkout>/src`` to profile another version on the same input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import ColourSegmenter  # noqa: E402
from overhead import LAYERS, build_generator  # noqa: E402

from ganscope.dissection import DissectConfig, pilot_ranges  # noqa: E402
from ganscope.session import Session  # noqa: E402
from ganscope.stats import JointHistogram, Moments, TopK  # noqa: E402


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """The least process CPU time of ``repeats`` calls (with one thread: the work, whatever else runs)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def profile_layer(a: torch.Tensor, labels: torch.Tensor, cfg: DissectConfig, concepts: int,
                  repeats: int) -> list[float]:
    """Best times of the histogram, moments and top-k updates on activations ``a`` (B, units, h, w)."""
    b = len(a)
    lo, hi = pilot_ranges(a, tuple(labels.shape[1:]), cfg)
    hist = JointHistogram(lo, hi, 256, concepts)
    hist.update(a, labels)  # warm-up (compiled kernels load their cache)
    top = TopK(a.shape[1], 8, tuple(a.shape[2:]))
    top.update(a, torch.arange(b))
    return [best_of(repeats, lambda: hist.update(a, labels)),
            best_of(repeats, lambda: Moments(a.shape[1]).update(a, unit_dim=1)),
            best_of(repeats, lambda: top.update(a, torch.arange(b, 2 * b)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    layers, b = LAYERS["proggan"], args.batch
    session = Session(build_generator("proggan"), ColourSegmenter(), batch_size=b)
    acts, images = session.observe(range(b), layers)
    labels = session.labels(images, (256, 256))
    cfg = DissectConfig(layers=layers, samples=b)
    total = 0.0
    print(f"| layer | units x map | histogram | moments | top-k | per sample |  (batch {b}, "
          f"{torch.get_num_threads()} threads)")
    print("|---|---|---|---|---|---|")
    for name in layers:
        a = acts[name]
        times = profile_layer(a, labels, cfg, len(session.concepts), args.repeats)
        total += sum(times)
        print(f"| {name} | {a.shape[1]} x {a.shape[2]}x{a.shape[3]} | {1000 * times[0]:.0f} ms "
              f"| {1000 * times[1]:.0f} ms | {1000 * times[2]:.0f} ms | {1000 * sum(times) / b:.1f} ms |")
    print(f"| all | | | | | **{1000 * total / b:.1f} ms** |")


if __name__ == "__main__":
    main()
