"""How dissection scales: throughput vs samples, units and concepts; peak RSS for N and 10N; Ray 1 vs 2 workers.

    .venv/bin/python benchmarks/scale.py [--samples 96] [--skip-ray]

The model is small and parametrised so every axis can move alone: a generator whose
dissected layer has U units at 8 x 8 (images 64 x 64), and a segmenter with C concepts.
Each sweep reports dissection and plain forward time per sample (their ratio is the
tally overhead). Peak RSS runs each N in a fresh subprocess (ru_maxrss only grows).
Ray runs start a local cluster with 1, then 2 CPUs; workers rebuild the models from
the specs ``scale:make_generator`` / ``scale:make_segmenter``. All in-process runs use
one torch thread, as each Ray worker does.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from common import timed  # noqa: E402

from ganscope.dissection import DissectConfig, Dissection  # noqa: E402
from ganscope.sampling import batches, latents  # noqa: E402
from ganscope.session import Session  # noqa: E402

UNITS, CONCEPTS, BATCH, PILOT = 256, 150, 8, 32


class ScaleGenerator(nn.Module):
    """latent (128,) -> layer1 (U, 8, 8) -> layer2 (64, 16, 16) -> image (3, 64, 64); fixed seed."""

    def __init__(self, units: int = UNITS):
        super().__init__()
        torch.manual_seed(0)
        self.latent_shape = (128,)
        self.input = nn.Linear(128, 64 * 64)
        self.layer1 = nn.Conv2d(64, units, 3, padding=1)
        self.layer2 = nn.Conv2d(units, 64, 3, padding=1)
        self.output = nn.Conv2d(64, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.layer1(self.input(z).view(-1, 64, 8, 8)))
        x = F.relu(self.layer2(F.interpolate(x, scale_factor=2)))
        return torch.tanh(self.output(F.interpolate(x, scale_factor=4)))


class ScaleSegmenter:
    """C concepts from a fixed random 3x3 conv of the image; categories cycle object/part/material."""

    def __init__(self, concepts: int = CONCEPTS):
        torch.manual_seed(1)
        self.concepts = ["-"] + [f"c{i}" for i in range(1, concepts)]
        self.categories = [""] + [("object", "part", "material")[i % 3] for i in range(1, concepts)]
        self.net = nn.Conv2d(3, concepts, 3, padding=1).eval()

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).argmax(1)


def make_generator() -> ScaleGenerator:
    return ScaleGenerator()


def make_segmenter() -> ScaleSegmenter:
    return ScaleSegmenter()


def config(samples: int) -> DissectConfig:
    return DissectConfig(layers=["layer1"], samples=samples, pilot=PILOT)


@torch.no_grad()
def plain(gen: nn.Module, seg: ScaleSegmenter, samples: int) -> None:
    for idx in batches(range(samples), BATCH):
        seg.segment(gen(latents(0, idx, gen.latent_shape)))


def per_sample_ms(units: int, concepts: int, samples: int) -> tuple[float, float]:
    """(dissection, plain forward) milliseconds per sample."""
    gen, seg = ScaleGenerator(units).eval(), ScaleSegmenter(concepts)
    plain(gen, seg, BATCH)  # warm-up
    t_plain = timed(lambda: plain(gen, seg, samples))[0]
    t_dissect = timed(lambda: Dissection(Session(gen, seg, batch_size=BATCH), config(samples)).run())[0]
    return 1000 * t_dissect / samples, 1000 * t_plain / samples


def sweep(name: str, points: list[tuple[int, int, int]]) -> None:
    print(f"\n{name}: units concepts samples | dissect ms/sample  forward ms/sample  ratio  samples/s")
    for units, concepts, samples in points:
        d, p = per_sample_ms(units, concepts, samples)
        print(f"  {units:5d} {concepts:5d} {samples:6d} | {d:8.1f} {p:8.1f} {d / p:6.2f} {1000 / d:8.1f}")


def rss_child(samples: int) -> None:
    """Subprocess body: one dissection of ``samples``, then print peak RSS in MiB."""
    Dissection(Session(ScaleGenerator(), ScaleSegmenter(), batch_size=BATCH), config(samples)).run()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def peak_rss(samples: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--rss-child", str(samples)], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.split()[-1])


def ray_seconds(samples: int, cpus: int) -> float:
    """Wall time of a sharded run on a local cluster of ``cpus`` CPUs whose workers are already warm.

    A first, small run starts the worker processes and builds their models, so the
    timed run measures throughput rather than cluster and interpreter start-up.
    """
    from ganscope.cluster import ray_cluster
    from ganscope.distributed import RayExecutor

    def run(n: int) -> float:
        cfg = config(n)
        cfg.checkpoint_every = 2  # shards of 16 samples: enough shards to balance two workers
        session = Session(ScaleGenerator(), ScaleSegmenter(), batch_size=BATCH, model_name="scale:make_generator",
                          segmenter_name="scale:make_segmenter")
        dissection = Dissection(session, cfg)
        return timed(lambda: dissection.run(executor=RayExecutor(dissection.session)))[0]

    with ray_cluster(num_cpus=cpus):
        run(PILOT + 16 * cpus)
        return run(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=96, help="N for the unit/concept sweeps and the RSS base")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.rss_child:
        rss_child(args.rss_child)
        return
    n = args.samples
    print(f"batch {BATCH}, layer1 at 8 x 8 upsampled to 64 x 64, 256 bins, 1 torch thread; N = {n}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    sweep("samples", [(UNITS, CONCEPTS, s) for s in (n, 2 * n, 4 * n)])
    sweep("units", [(u, CONCEPTS, n) for u in (64, 256, 1024)])
    sweep("concepts", [(UNITS, c, n) for c in (16, 150, 600)])
    small, large = peak_rss(n), peak_rss(10 * n)
    print(f"\npeak RSS: N={n}: {small:.0f} MiB, 10N={10 * n}: {large:.0f} MiB (ratio {large / small:.2f})")
    if not args.skip_ray:
        one, two = ray_seconds(2 * n, 1), ray_seconds(2 * n, 2)
        print(f"\nRay, N={2 * n}: 1 worker {one:.1f} s, 2 workers {two:.1f} s, speed-up {one / two:.2f}x")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
