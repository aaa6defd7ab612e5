"""Load time of each checkpoint format, on full-size models with random weights.

    .venv/bin/python benchmarks/load_time.py [--only proggan,sg3-r] [--loads 3] [--threads 2] [--json]

For each format a full-size generator is built with ganscope's own classes, its weights drawn at
random, and saved in the real file format in a temporary directory (outside the repository,
removed at the end): ProGAN LSUN 256 x 256 (``.pth`` state dict), StyleGAN2 256 in the PyTorch
port's format (config-f, channel multiplier 2: ``g_ema`` + ``latent_avg``), NVIDIA pickles of
StyleGAN2-ADA 256 (paper256's config) and StyleGAN3-T / -R 256 (their standard channel_base /
channel_max), and BigGAN-deep 128 (the pytorch-pretrained-biggan package's default config). The
NVIDIA pickles are written as ``tests/test_nvidia_pickles.py`` writes them (``G``, ``G_ema``, a
stand-in ``D``), the others as ``tests/test_models.py`` and ``tests/test_biggan.py`` do.

``demo`` times the shipped demo generator (trained weights).

Then ``load_generator(spec)`` is timed: the median of ``--loads`` loads. Each file has just been
written, so every load reads it from the page cache (a cold read from disk adds size / disk speed).
Also the file size and one forward pass of one sample on the CPU with ``--threads`` threads. Load
time depends on the size of the file, not on the values of the weights, so random weights give the
load time of a real checkpoint of the same layout.
Prints a markdown table (``--json``: one JSON line per format as well).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))
from crosscheck_biggan import DEEP_128  # noqa: E402

from ganscope.models import load_generator  # noqa: E402
from ganscope.models.proggan import ProgressiveGenerator  # noqa: E402
from ganscope.models.stylegan2 import StyleGAN2Generator, official_channels  # noqa: E402
from test_biggan import random_state, save_model  # noqa: E402
from test_models import randomise  # noqa: E402
from test_nvidia_pickles import snapshot_file  # noqa: E402

# NVIDIA's training configs at 256 x 256 (stylegan2-ada-pytorch train.py's paper256: cbase 16384, cmax 512,
# map 8; stylegan3 train.py: cbase 32768, cmax 512, map 2, and for -R cbase and cmax doubled)
SG2ADA_256 = {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 256, "img_channels": 3,
              "mapping_kwargs": {"num_layers": 8},
              "synthesis_kwargs": {"channel_base": 16384, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256}}
SG3_T_256 = {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 256, "img_channels": 3,
             "mapping_kwargs": {"num_layers": 2}, "channel_base": 32768, "channel_max": 512, "num_fp16_res": 4,
             "conv_clamp": 256, "magnitude_ema_beta": 0.999}
SG3_R_256 = {**SG3_T_256, "channel_base": 65536, "channel_max": 1024, "conv_kernel": 1, "use_radial_filters": True}


def demo(_: Path) -> tuple[str, Path]:
    return "demo", ROOT / "src" / "ganscope" / "models" / "weights" / "demo_generator.safetensors"


def proggan(directory: Path) -> tuple[str, Path]:
    path = directory / "proggan_lsun_256.pth"
    torch.save(randomise(ProgressiveGenerator([512, 512, 512, 512, 512, 256, 128, 64])).state_dict(), path)
    return f"proggan:{path}", path


def stylegan2(directory: Path) -> tuple[str, Path]:
    path = directory / "stylegan2_256.pt"
    gen = randomise(StyleGAN2Generator(official_channels(256, 2)))
    torch.save({"g_ema": gen.state_dict(), "latent_avg": torch.randn(512) * 0.1}, path)
    return f"stylegan2:{path}", path


def nvidia(kind: str, kwargs: dict) -> Callable[[Path], tuple[str, Path]]:
    def write(directory: Path) -> tuple[str, Path]:
        path, _ = snapshot_file(directory, kind, kwargs)
        return f"stylegan:{path}", path
    return write


def biggan(directory: Path) -> tuple[str, Path]:
    model = save_model(directory / "biggan-deep-128", DEEP_128, random_state(DEEP_128))
    return f"biggan:{model}?class=church", model / "pytorch_model.bin"


FORMATS: dict[str, tuple[str, Callable[[Path], tuple[str, Path]]]] = {
    "demo": ("demo generator, 64 x 64, shipped (`demo`)", demo),
    "proggan": ("ProGAN LSUN 256 (`proggan:`)", proggan),
    "stylegan2": ("StyleGAN2 port 256, config-f (`stylegan2:`)", stylegan2),
    "sg2ada": ("StyleGAN2-ADA pkl 256, paper256 (`stylegan:`)", nvidia("stylegan2ada", SG2ADA_256)),
    "sg3-t": ("StyleGAN3-T pkl 256 (`stylegan:`)", nvidia("stylegan3", SG3_T_256)),
    "sg3-r": ("StyleGAN3-R pkl 256 (`stylegan:`)", nvidia("stylegan3", SG3_R_256)),
    "biggan": ("BigGAN-deep 128 (`biggan:`)", biggan),
}


def measure(name: str, loads: int) -> dict:
    title, write = FORMATS[name]
    with tempfile.TemporaryDirectory(prefix="ganscope-load-") as tmp:
        spec, path = write(Path(tmp))
        gc.collect()
        size = path.stat().st_size
        times = []
        for _ in range(loads):
            gc.collect()
            start = time.perf_counter()
            gen = load_generator(spec)
            times.append(time.perf_counter() - start)
            if len(times) < loads:
                del gen
        z = torch.randn(1, *gen.latent_shape, generator=torch.Generator().manual_seed(0))
        start = time.perf_counter()
        with torch.no_grad():
            gen(z)
        forward = time.perf_counter() - start
        params = sum(p.numel() for p in gen.parameters())
        del gen
        gc.collect()
    return {"format": name, "title": title, "file_mb": size / 2**20, "params_m": params / 1e6,
            "load_s": statistics.median(times), "first_load_s": times[0], "loads_s": times, "forward_s": forward}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(FORMATS), help="comma-separated: " + ", ".join(FORMATS))
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.only.split(","):
        row = measure(name, args.loads)
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    print(f"\n| format | file size | parameters | load time, median of {args.loads} (first) "
          f"| forward, 1 sample, {args.threads} threads |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['title']} | {row['file_mb']:.0f} MiB | {row['params_m']:.1f} M | {row['load_s']:.2f} s "
              f"({row['first_load_s']:.2f} s) | {row['forward_s']:.2f} s |")


if __name__ == "__main__":
    main()
