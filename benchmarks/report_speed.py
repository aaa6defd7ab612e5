"""Time ``build_report`` on a synthetic dissection of 3 layers x 512 units (issue: <= 60 s on 2 cores).

The results directory is fake but well formed: random IoU tables, top-k activation maps
with a blob per sample, and smooth sample PNGs, at the sizes a real dissection of a
64 x 64 generator writes. Usage: ``python benchmarks/report_speed.py [--units 512] [--size 64]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ganscope.images import save_png
from ganscope.report import build_report
from ganscope.results import LayerResult, Results, UnitResult

CONCEPTS = [("-", ""), ("sky", "object"), ("tree", "object"), ("grass", "object"), ("road", "object"),
            ("building", "object"), ("cloud", "object"), ("dome", "part"), ("roof", "part"), ("door", "part"),
            ("window", "part"), ("brick", "material"), ("plaster", "material")]


def fake_layer(name: str, units: int, k: int, side: int, samples: int, rng: np.random.Generator,
               tables: dict[str, torch.Tensor]) -> LayerResult:
    """A layer whose units each prefer one concept, with blob-shaped top-k maps."""
    iou = rng.gamma(0.6, 0.03, size=(units, len(CONCEPTS))).astype(np.float32)
    iou[:, 0] = 0
    yy, xx = np.mgrid[0:side, 0:side] / side
    centre = rng.random((units, k, 2, 1, 1))
    maps = np.exp(-((yy - centre[:, :, 0]) ** 2 + (xx - centre[:, :, 1]) ** 2) * 20)
    indices = rng.integers(0, samples, size=(units, k))
    tables.update({f"{name}/iou": torch.from_numpy(iou), f"{name}/topk_maps": torch.from_numpy(maps).half(),
                   f"{name}/topk_indices": torch.from_numpy(indices),
                   f"{name}/topk_scores": torch.from_numpy(maps.max(axis=(2, 3))).float()})
    result = []
    for u in range(units):
        order = np.argsort(-iou[u])[:5]
        best = int(order[0])
        result.append(UnitResult(
            unit=u, threshold=0.6, label=CONCEPTS[best][0], category=CONCEPTS[best][1], iou=float(iou[u, best]),
            top_concepts=[(CONCEPTS[c][0], float(iou[u, c])) for c in order], top_samples=indices[u].tolist(),
            insertion_value=0.9, mean=0.1, std=0.2,
        ))
    counts = {c: sum(1 for r in result if r.iou > 0.04 and r.category == c) for c in ("object", "part", "material")}
    return LayerResult(name=name, shape=[units, side, side], units=result, interpretable=counts, threshold_bound=0.01)


def make_results(directory: Path, layers: int, units: int, k: int, size: int, samples: int) -> None:
    rng = np.random.default_rng(0)
    tables: dict[str, torch.Tensor] = {}
    layer_results = {f"layer{i}": fake_layer(f"layer{i}", units, k, 4 * 2**i, samples, rng, tables)
                     for i in range(1, layers + 1)}
    Results(model="fake", segmenter="fake", samples=samples, seed=0, threshold_rule="quantile", quantile=0.01,
            iou_cutoff=0.04, concepts=[{"name": n, "category": c} for n, c in CONCEPTS], layers=layer_results,
            upsampling={"mode": "bilinear", "align_corners": False, "size": [size, size]},
            image_size=[size, size], tables=tables).save(directory)
    coarse = torch.rand(samples, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 2 - 1
    images = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    for i, image in enumerate(images):
        save_png(directory / "samples" / f"{i}.png", image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--k", type=int, default=8, help="top samples per unit")
    parser.add_argument("--size", type=int, default=64, help="sample image size")
    parser.add_argument("--samples", type=int, default=1000, help="distinct sample images")
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        make_results(directory, args.layers, args.units, args.k, args.size, args.samples)
        start, cpu = time.perf_counter(), time.process_time()
        build_report(directory)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        files = sum(1 for p in directory.rglob("*") if p.is_file())
    print(f"build_report: {args.layers} layers x {args.units} units, top-{args.k} strips of {args.size}px samples: "
          f"{elapsed:.1f} s wall, {cpu:.1f} s CPU ({files} files)")


if __name__ == "__main__":
    main()
