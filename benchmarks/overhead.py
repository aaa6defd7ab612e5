"""Dissection time / plain generator + segmenter forward time, measured in one run.

    .venv/bin/python benchmarks/overhead.py [--samples 200] [--device cpu] [--model proggan|light|demo]

Models: ``proggan`` is the LSUN 256 x 256 ProGAN architecture that GAN Dissection dissects
(ganscope's adapter, random weights) with a SegFormer-B0 150-class segmenter (random
weights, built from its config: no download), dissecting layer4, layer6 and layer8;
``light`` is a half-width ProGAN-like generator with a tiny 150-class segmenter
(benchmarks/common.py), a harder case for the ratio; ``demo`` the shipped demo models.
Prints absolute times, the ratio, and with --memory peak RSS after N and 4N samples
(the tallies' memory must not grow with N).
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import ProGANLike, SegNetLike, timed  # noqa: E402

from ganscope.pipeline import run_dissection  # noqa: E402
from ganscope.sampling import batches, latents  # noqa: E402
from ganscope.session import Session  # noqa: E402


def build(model: str, device: str):
    if model == "proggan":
        from transformers import SegformerConfig, SegformerForSemanticSegmentation

        from ganscope.models.proggan import ProgressiveGenerator
        from ganscope.segmenters.segformer import SegFormerSegmenter

        torch.manual_seed(0)
        gen = ProgressiveGenerator([512, 512, 512, 512, 512, 256, 128, 64]).eval()
        seg = SegFormerSegmenter(SegformerForSemanticSegmentation(SegformerConfig(num_labels=150)))
        return gen.to(device), seg.to(device), ["layer4", "layer6", "layer8"]
    if model == "demo":
        from ganscope.models import load_generator
        from ganscope.segmenters import load_segmenter

        return load_generator("demo").to(device), load_segmenter("demo").to(device), ["layer2", "layer6", "layer9"]
    return ProGANLike().eval().to(device), SegNetLike().to(device), ["layer4", "layer6", "layer8"]


@torch.no_grad()
def plain(gen, seg, samples: int, batch: int, device: str) -> None:
    for idx in batches(range(samples), batch):
        images = gen(latents(0, idx, gen.latent_shape).to(device))
        seg.segment(images)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", choices=["proggan", "light", "demo"], default="proggan")
    parser.add_argument("--memory", action="store_true", help="also dissect 4N samples and report peak RSS")
    args = parser.parse_args()
    gen, seg, layers = build(args.model, args.device)
    n, b = args.samples, args.batch_size
    plain(gen, seg, b, b, args.device)  # warm-up
    t_plain = timed(lambda: plain(gen, seg, n, b, args.device))
    session = Session(gen, seg, batch_size=b, device=args.device)
    t_dissect = timed(lambda: run_dissection(session, layers, n))
    print(f"model={args.model} device={args.device} samples={n} batch={b} layers={','.join(layers)} "
          f"threads={torch.get_num_threads()}")
    print(f"plain forward {t_plain:.2f} s, dissection {t_dissect:.2f} s, ratio {t_dissect / t_plain:.3f}")
    if args.memory:
        rss_n = peak_rss_mb()
        run_dissection(session, layers, 4 * n)
        print(f"peak RSS after N={n}: {rss_n:.0f} MB; after 4N={4 * n}: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
