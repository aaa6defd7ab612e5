"""Dissection time / plain generator + segmenter time, measured in one run, over a matrix of models.

    .venv/bin/python benchmarks/overhead.py --generator proggan --segmenter colour --samples 1000 --seg-size 256
    .venv/bin/python benchmarks/overhead.py --matrix [--out rows.jsonl]   # every row, each in a fresh process
    .venv/bin/python benchmarks/overhead.py --end-to-end --threads 2 [--samples 256,1000]   # whole processes

Generators: ``proggan`` is the LSUN 256 x 256 ProGAN architecture that GAN Dissection dissects
(ganscope's adapter, random weights; layers layer4, layer7, layer10: 512 units at 8 x 8, 512 at
32 x 32, 256 at 64 x 64); ``demo`` is the shipped demo generator (64 x 64; layer2, layer6, layer9).
Segmenters: ``colour``, a near-free per-pixel nearest-colour rule (11 labels), which shows the
tally's own cost; ``segformer``, SegFormer-B0 with 150 classes (random weights, built from its
config: no download); ``demo``, the shipped demo segmenter. Each row runs the plain pass (generator,
then segmenter on the full images) over N samples, then the whole dissection of the same samples
(pilot, tallies, thresholds, IoU tables; no report), and reports both times, their ratio and the
process's peak RSS. Wall and process CPU time are both given: other jobs sharing the machine stretch
the wall times, not the CPU times (with one thread per process, CPU time is the work done).

``--end-to-end`` times what a user waits for, each as a whole process, alternating in one run: a plain
process (start Python, import torch, load the same checkpoint and segmenter, generate and segment N
samples) against ``ganscope dissect --no-report`` on the same samples (start-up, model loading, the
tally, results and every top sample's PNG), then ``ganscope report`` on its output, timed on its own.
ProGAN-256 runs from a saved random-weight checkpoint (``proggan:PATH``) with the near-free colour
segmenter (``common:ColourSegmenter``); the demo with its own segmenter.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import ColourSegmenter, timed  # noqa: E402

from ganscope.pipeline import run_dissection  # noqa: E402
from ganscope.sampling import batches, latents  # noqa: E402
from ganscope.session import Session  # noqa: E402

LAYERS = {"proggan": ["layer4", "layer7", "layer10"], "demo": ["layer2", "layer6", "layer9"]}
# (generator, segmenter, samples, seg size, batch size): the matrix of docs/benchmarks.md
MATRIX = [
    ("proggan", "colour", 1000, 256, 16), ("proggan", "colour", 256, 256, 16), ("proggan", "colour", 256, 128, 16),
    ("proggan", "colour", 256, 64, 16), ("proggan", "segformer", 256, 256, 16), ("demo", "demo", 1000, 64, 32),
    ("demo", "demo", 256, 64, 32), ("demo", "colour", 1000, 64, 32), ("demo", "colour", 256, 64, 32),
]


def build_generator(name: str) -> torch.nn.Module:
    if name == "proggan":
        from ganscope.models.proggan import ProgressiveGenerator

        torch.manual_seed(0)
        return ProgressiveGenerator([512, 512, 512, 512, 512, 256, 128, 64]).eval()
    from ganscope.models import load_generator

    return load_generator("demo")


def build_segmenter(name: str):
    if name == "segformer":
        from transformers import SegformerConfig, SegformerForSemanticSegmentation

        from ganscope.segmenters.segformer import SegFormerSegmenter

        torch.manual_seed(0)
        return SegFormerSegmenter(SegformerForSemanticSegmentation(SegformerConfig(num_labels=150)))
    if name == "demo":
        from ganscope.segmenters import load_segmenter

        return load_segmenter("demo")
    return ColourSegmenter()


@torch.no_grad()
def plain(gen: torch.nn.Module, seg, samples: int, batch: int, device: str) -> None:
    for idx in batches(range(samples), batch):
        seg.segment(gen(latents(0, idx, gen.latent_shape).to(device)))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(generator: str, segmenter: str, samples: int, seg_size: int, batch: int, device: str) -> dict:
    gen, seg = build_generator(generator).to(device), build_segmenter(segmenter)
    if hasattr(seg, "to"):
        seg = seg.to(device)
    plain(gen, seg, batch, batch, device)  # warm-up (and the kernels' compile cache)
    session = Session(gen, seg, batch_size=batch, device=device)
    run_dissection(session, LAYERS[generator], batch, pilot=batch, seg_size=seg_size)
    wall_plain, cpu_plain = timed(lambda: plain(gen, seg, samples, batch, device))
    results = []
    wall, cpu = timed(lambda: results.append(run_dissection(session, LAYERS[generator], samples, seg_size=seg_size)))
    units = {name: [[u.label, u.iou] for u in layer.units] for name, layer in results[0].layers.items()}
    return {"units": units, "generator": generator, "segmenter": segmenter, "samples": samples, "seg_size": seg_size,
            "batch": batch, "device": device, "threads": torch.get_num_threads(), "plain_s": round(wall_plain, 2),
            "dissect_s": round(wall, 2), "ratio": round(wall / wall_plain, 3), "plain_cpu_s": round(cpu_plain, 2),
            "dissect_cpu_s": round(cpu, 2), "cpu_ratio": round(cpu / cpu_plain, 3),
            "peak_rss_mib": round(peak_rss_mib())}


E2E = [("proggan", "colour", 256, 16), ("demo", "demo", 32, 32)]  # (generator, segmenter, seg size, batch)


def _spec(generator: str, segmenter: str, directory: Path) -> tuple[str, str]:
    """Specs for ``ganscope dissect``: ProGAN-256's random weights saved in its checkpoint format."""
    if generator == "proggan":
        path = directory / "proggan256.pth"
        torch.save(build_generator("proggan").state_dict(), path)
        return f"proggan:{path}", "common:ColourSegmenter"
    return "demo", "demo"


def _process(args: list[str], threads: int) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, children included) of one whole process."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(Path(__file__).parent)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def end_to_end(generator: str, segmenter: str, samples: int, seg_size: int, batch: int, threads: int) -> dict:
    """The plain process, ``ganscope dissect --no-report`` and ``ganscope report``, each timed as a process."""
    with tempfile.TemporaryDirectory() as tmp:
        model, seg = _spec(generator, segmenter, Path(tmp))
        plain_args = [sys.executable, __file__, "--plain-process", model, "--segmenter", segmenter, "--samples",
                      str(samples), "--batch-size", str(batch), "--threads", str(threads)]
        out = Path(tmp) / "run"
        dissect_args = [str(Path(sys.executable).parent / "ganscope"), "dissect", "--model", model, "--segmenter", seg,
                        *[a for layer in LAYERS[generator] for a in ("--layer", layer)], "--samples", str(samples),
                        "--batch-size", str(batch), "--seg-size", str(seg_size), "--device", "cpu", "--no-report",
                        "--no-progress", "--out", str(out)]
        for args in (plain_args, dissect_args):  # warm-up, one batch each: the file cache, compiled kernels' cache
            warm = [*args]
            warm[warm.index("--samples") + 1] = str(batch)
            if "--out" in warm:
                warm[warm.index("--out") + 1] = str(Path(tmp) / "warm")
            _process(warm, threads)
        plain_wall, plain_cpu = _process(plain_args, threads)
        shutil.rmtree(out, ignore_errors=True)
        wall, cpu = _process(dissect_args, threads)
        report_wall, report_cpu = _process([dissect_args[0], "report", str(out)], threads)
        inside = json.loads((out / "results.json").read_text())["elapsed_seconds"]
    return {"generator": generator, "segmenter": segmenter, "samples": samples, "threads": threads,
            "plain_s": round(plain_wall, 1), "dissect_s": round(wall, 1), "ratio": round(wall / plain_wall, 3),
            "plain_cpu_s": round(plain_cpu, 1), "dissect_cpu_s": round(cpu, 1), "cpu_ratio": round(cpu / plain_cpu, 3),
            "tally_s": inside, "report_s": round(report_wall, 1),
            "report_share": round(report_wall / plain_wall, 3)}


def plain_process(model: str, segmenter: str, samples: int, batch: int) -> None:
    """What the plain process does: load the checkpoint as ``ganscope dissect`` does, then generate and segment."""
    from ganscope.allocator import keep_freed_memory
    from ganscope.models import load_generator

    keep_freed_memory()  # as every ganscope command does: the same allocator on both sides
    plain(load_generator(model), build_segmenter(segmenter), samples, batch, "cpu")


def run_end_to_end(sample_counts: list[int], threads: int) -> None:
    print("| generator | segmenter | N | plain process | `ganscope dissect --no-report` | ratio | CPU ratio "
          "| tally (results.json) | `ganscope report` | report / plain |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for generator, segmenter, seg_size, batch in E2E:
        for samples in sample_counts:
            r = end_to_end(generator, segmenter, samples, seg_size, batch, threads)
            print(f"| {generator} | {segmenter} | {samples} | {r['plain_s']} s | {r['dissect_s']} s "
                  f"| **{r['ratio']:.2f}** | {r['cpu_ratio']:.2f} | {r['tally_s']:.1f} s | {r['report_s']} s "
                  f"| {r['report_share']:.1%} |", flush=True)


def run_matrix(out: Path | None, device: str, rows: list[int], threads: int) -> None:
    print("| generator | segmenter | N | seg size | batch | plain | dissection | ratio | CPU ratio | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for generator, segmenter, samples, seg_size, batch in (MATRIX[i] for i in rows):
        args = ["--generator", generator, "--segmenter", segmenter, "--samples", str(samples), "--threads",
                str(threads), "--seg-size", str(seg_size), "--batch-size", str(batch), "--device", device, "--json"]
        row = json.loads(subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                                        text=True).stdout.splitlines()[-1])
        if out is not None:  # with each unit's label and IoU, for the segmentation-size study
            with out.open("a") as f:
                f.write(json.dumps(row) + "\n")
        print(f"| {generator} | {segmenter} | {samples} | {seg_size} | {batch} | {row['plain_s']:.1f} s "
              f"| {row['dissect_s']:.1f} s | {row['ratio']:.2f} | **{row['cpu_ratio']:.2f}** "
              f"| {row['peak_rss_mib']} MiB |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", choices=sorted(LAYERS), default="proggan")
    parser.add_argument("--segmenter", choices=["colour", "segformer", "demo"], default="colour")
    parser.add_argument("--samples", default=None, help="samples (with --end-to-end: comma-separated counts)")
    parser.add_argument("--seg-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true", help="print the row as one JSON line")
    parser.add_argument("--matrix", action="store_true", help="run every row of MATRIX, each in a fresh process")
    parser.add_argument("--out", type=Path, help="with --matrix: append each row to this JSON-lines file")
    parser.add_argument("--rows", help="with --matrix: the rows to run, e.g. 0,2,3 (default: all)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch (and kernel) threads")
    parser.add_argument("--end-to-end", action="store_true", help="whole processes: plain vs ganscope dissect "
                        "and report (--samples: comma-separated counts, default 256,1000)")
    parser.add_argument("--plain-process", metavar="MODEL", help=argparse.SUPPRESS)  # one plain process (internal)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.plain_process:
        plain_process(args.plain_process, args.segmenter, int(args.samples), args.batch_size)
        return
    if args.end_to_end:
        counts = [int(n) for n in str(args.samples).split(",")] if args.samples else [256, 1000]
        run_end_to_end(counts, args.threads)
        return
    if args.matrix:
        rows = [int(r) for r in args.rows.split(",")] if args.rows else list(range(len(MATRIX)))
        run_matrix(args.out, args.device, rows, args.threads)
        return
    row = measure(args.generator, args.segmenter, int(args.samples or 256), args.seg_size, args.batch_size,
                  args.device)
    print(json.dumps(row) if args.json else {k: v for k, v in row.items() if k != "units"})


if __name__ == "__main__":
    main()
