"""ProGAN and the StyleGAN2 port against their original code: same weights, same latents, outputs and speed.

Usage, with the originals cloned outside the work tree (ganscope itself never imports them):
    git clone https://github.com/CSAILVision/gandissect /tmp/nv/gandissect   # netdissect/proggan.py
    git clone https://github.com/rosinality/stylegan2-pytorch /tmp/nv/rosi
    OMP_NUM_THREADS=1 python scripts/speed_originals.py --gandissect /tmp/nv/gandissect --rosinality /tmp/nv/rosi

ProGAN: gandissect's ``ProgressiveGenerator`` for LSUN 256 x 256 with its own random initial weights (each
weight perturbed), saved as a ``.pth`` state dict and loaded with ``proggan:PATH``. StyleGAN2: rosinality's
``Generator(256, 512, 8, channel_multiplier=2)`` on its CPU code paths (its CUDA extensions are not built:
``torch.utils.cpp_extension.load`` is stubbed, and its ops fall back to plain torch on a CPU), saved as its
training loop saves (``g_ema``, ``latent_avg``) and loaded with ``stylegan2:PATH?truncation=1``; the original
runs with ``randomize_noise=False`` (its stored noise buffers, as ganscope uses). One JSON line each: the
images' max abs difference, then the best of 3 forward passes of 4 latents each, alternating, one thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganscope.models import load_generator

sys.path.insert(0, str(Path(__file__).parent))
from alternating import best_times  # noqa: E402


@torch.no_grad()
def compare(name: str, original: Callable[[], torch.Tensor], ours: Callable[[], torch.Tensor]) -> dict[str, Any]:
    theirs, mine = original(), ours()
    return {"model": name, "image_max_abs_diff": (mine - theirs).abs().max().item(),
            "image_abs_max": theirs.abs().max().item(), **best_times({"original": original, "ganscope": ours})}


def perturb(module: torch.nn.Module) -> None:
    with torch.no_grad():
        for tensor in module.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(0.1 * torch.randn_like(tensor))


def proggan(repo: Path, directory: Path) -> dict[str, Any]:
    sys.path.insert(0, str(repo))
    from netdissect.proggan import ProgressiveGenerator  # gandissect's

    torch.manual_seed(0)
    original = ProgressiveGenerator(resolution=256).eval()
    perturb(original)
    path = directory / "proggan256.pth"
    torch.save(original.state_dict(), path)
    ours = load_generator(f"proggan:{path}")
    z = torch.randn(4, 512, generator=torch.Generator().manual_seed(1))
    return compare("ProGAN LSUN 256", lambda: original(z[:, :, None, None]), lambda: ours(z))


def stylegan2(repo: Path, directory: Path) -> dict[str, Any]:
    import torch.utils.cpp_extension

    torch.utils.cpp_extension.load = lambda *args, **kwargs: None  # no CUDA build: the CPU fallbacks run
    sys.path.insert(0, str(repo))
    from model import Generator  # rosinality's

    torch.manual_seed(0)
    original = Generator(256, 512, 8, channel_multiplier=2).eval()
    perturb(original)
    path = directory / "stylegan2_256.pt"
    torch.save({"g_ema": original.state_dict(), "latent_avg": torch.zeros(512)}, path)
    ours = load_generator(f"stylegan2:{path}?truncation=1")
    z = torch.randn(4, 512, generator=torch.Generator().manual_seed(1))
    return compare("StyleGAN2 port 256, config-f", lambda: original([z], randomize_noise=False)[0],
                   lambda: ours(z))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gandissect", type=Path, help="a clone of CSAILVision/gandissect")
    parser.add_argument("--rosinality", type=Path, help="a clone of rosinality/stylegan2-pytorch")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        if args.gandissect:
            print(json.dumps(proggan(args.gandissect, Path(tmp))), flush=True)
        if args.rosinality:
            print(json.dumps(stylegan2(args.rosinality, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
