"""Check ganscope's ``stylegan:`` loader against NVIDIA's own code on random weights (CPU, reference ops).

Usage, with NVIDIA's repositories cloned outside the work tree (ganscope itself never imports them):
    python scripts/crosscheck_nvidia.py /tmp/nv/stylegan2-ada-pytorch sg2ada-cifar sg2ada-paper sg2ada-resnet
    python scripts/crosscheck_nvidia.py /tmp/nv/stylegan3 sg3-t sg3-r sg3-stylegan2

For each config: NVIDIA's Generator (and Discriminator, so the snapshot is a realistic one) is built with
random weights, pickled the way NVIDIA's training loop writes a snapshot, loaded with ``stylegan:PKL``, and run
on the same z (noise_mode='const', truncation psi). Prints one JSON line per config and psi: the images' max abs
and relative difference, and the worst of all layer outputs that both models name alike; at psi 1 also the
speed (best of 3 forward passes of 4 latents each, alternating, one thread): ``nvidia_s``, ``ganscope_s``,
``speed_ratio``.
"""

from __future__ import annotations

import argparse
import copy
import json
import pickle
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from alternating import best_times  # noqa: E402

SG2_SYNTHESIS = {"channel_max": 128, "num_fp16_res": 4, "conv_clamp": 256}
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {  # small versions of NVIDIA's train.py configs
    "sg2ada-cifar": ("training.networks.Generator", dict(
        z_dim=64, w_dim=64, c_dim=10, img_resolution=32, mapping_kwargs={"num_layers": 2},
        synthesis_kwargs={"channel_base": 4096, **SG2_SYNTHESIS})),
    "sg2ada-paper": ("training.networks.Generator", dict(  # paper256's layout at 64 x 64
        z_dim=64, w_dim=64, c_dim=0, img_resolution=64, mapping_kwargs={"num_layers": 8},
        synthesis_kwargs={"channel_base": 2048, **SG2_SYNTHESIS})),
    "sg2ada-paper256": ("training.networks.Generator", dict(  # paper256 itself: the speed table's StyleGAN2-ADA
        z_dim=512, w_dim=512, c_dim=0, img_resolution=256, mapping_kwargs={"num_layers": 8},
        synthesis_kwargs={"channel_base": 16384, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256})),
    "sg2ada-resnet": ("training.networks.Generator", dict(
        z_dim=32, w_dim=32, c_dim=0, img_resolution=32, mapping_kwargs={"num_layers": 2},
        synthesis_kwargs={"channel_base": 1024, "channel_max": 64, "architecture": "resnet"})),
    "sg3-t": ("training.networks_stylegan3.Generator", dict(
        z_dim=64, w_dim=64, c_dim=0, img_resolution=64, mapping_kwargs={"num_layers": 2},
        channel_base=2048, channel_max=64, magnitude_ema_beta=0.999)),
    "sg3-r": ("training.networks_stylegan3.Generator", dict(
        z_dim=64, w_dim=64, c_dim=4, img_resolution=64, mapping_kwargs={"num_layers": 2},
        channel_base=4096, channel_max=128, magnitude_ema_beta=0.999, conv_kernel=1, use_radial_filters=True)),
    "sg3-stylegan2": ("training.networks_stylegan2.Generator", dict(  # stylegan3's --cfg=stylegan2
        z_dim=32, w_dim=32, c_dim=0, img_resolution=32, mapping_kwargs={"num_layers": 8},
        channel_base=1024, channel_max=64, fused_modconv_default="inference_only")),
}
KEEP = ("filter", "freqs", "phases", "transform", "noise_const")  # designed or drawn by NVIDIA's code: keep


def provide_pkg_resources() -> None:
    """NVIDIA's 2021 code imports ``pkg_resources.parse_version``, which recent setuptools no longer has."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        from packaging.version import parse

        module = types.ModuleType("pkg_resources")
        module.parse_version = parse
        sys.modules["pkg_resources"] = module


def randomise(module: torch.nn.Module) -> None:
    """Perturb every trained tensor (biases, noise strengths, w_avg, input gains are zero or one at init)."""
    with torch.no_grad():
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            if name.endswith("magnitude_ema"):
                tensor.uniform_(0.5, 2.0)
            elif not any(part in name for part in KEEP):
                tensor.add_(0.3 * torch.randn_like(tensor))


def outputs(model: torch.nn.Module, run: Any) -> dict[str, torch.Tensor]:
    """Every named submodule's tensor output during ``run()`` (copied: NVIDIA's blocks add to some in place)."""
    found: dict[str, torch.Tensor] = {}

    def record(name: str, out: Any) -> None:
        if isinstance(out, torch.Tensor) and name not in found:
            found[name] = out.detach().clone()

    hooks = [m.register_forward_hook(lambda _m, _i, out, name=name: record(name, out))
             for name, m in model.named_modules() if name]
    try:
        found["<image>"] = run()
    finally:
        for hook in hooks:
            hook.remove()
    return {k: v.float() for k, v in found.items()}


def check(config: str, psi: float, pkl: Path, nvidia_g: torch.nn.Module, c_dim: int) -> dict[str, Any]:
    from ganscope.models import load_generator

    options = f"truncation={psi}&noise=const" + ("&class=1" if c_dim else "")
    start = time.perf_counter()
    ours = load_generator(f"stylegan:{pkl}?{options}")
    load_s = time.perf_counter() - start
    z = torch.randn(4, nvidia_g.z_dim, generator=torch.Generator().manual_seed(1))
    c = torch.zeros(4, c_dim)
    if c_dim:
        c[:, 1] = 1
    with torch.no_grad():
        theirs = outputs(nvidia_g, lambda: nvidia_g(z, c, truncation_psi=psi, noise_mode="const", force_fp32=True))
        mine = outputs(ours, lambda: ours(z))
    diffs = {name: ((mine[name] - ref).abs().max().item(), ref.abs().max().item())
             for name, ref in theirs.items() if name in mine and mine[name].shape == ref.shape}
    image_abs, image_max = diffs["<image>"]
    speed = best_times({"nvidia": lambda: nvidia_g(z, c, truncation_psi=psi, noise_mode="const", force_fp32=True),
                        "ganscope": lambda: ours(z)}) if psi == 1 else {}
    worst = max((k for k in diffs if k != "<image>"), key=lambda k: diffs[k][0] / max(diffs[k][1], 1e-12))
    return {"config": config, "psi": psi, "image_max_abs_diff": image_abs, "image_rel_diff": image_abs / image_max,
            "image_abs_max": image_max, "layers_compared": len(diffs) - 1, "worst_layer": worst,
            "worst_layer_rel_diff": diffs[worst][0] / max(diffs[worst][1], 1e-12), "ganscope_load_s": round(load_s, 3),
            "resolution": nvidia_g.img_resolution, **speed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path, help="a clone of NVlabs/stylegan2-ada-pytorch or NVlabs/stylegan3")
    parser.add_argument("configs", nargs="+", choices=sorted(CONFIGS))
    parser.add_argument("--psi", type=float, nargs="+", default=[1.0, 0.7])
    args = parser.parse_args()
    torch.set_num_threads(1)
    sys.path.insert(0, str(args.repo.resolve()))
    provide_pkg_resources()
    import dnnlib  # NVIDIA's, from the repository given

    for config in args.configs:
        class_name, kwargs = CONFIGS[config]
        torch.manual_seed(0)
        g_kwargs = dnnlib.EasyDict(class_name=class_name, img_channels=3, **copy.deepcopy(kwargs))
        for key in ("mapping_kwargs", "synthesis_kwargs"):
            if key in g_kwargs:
                g_kwargs[key] = dnnlib.EasyDict(g_kwargs[key])
        generator = dnnlib.util.construct_class_by_name(**g_kwargs).requires_grad_(False)
        randomise(generator)
        discriminator_class = "training.networks.Discriminator" if "networks." in class_name else \
            "training.networks_stylegan2.Discriminator"
        discriminator = dnnlib.util.construct_class_by_name(
            class_name=discriminator_class, c_dim=kwargs["c_dim"], img_resolution=kwargs["img_resolution"],
            img_channels=3, channel_base=1024, channel_max=64).requires_grad_(False)
        snapshot = {"training_set_kwargs": {"path": "random", "resolution": kwargs["img_resolution"]},
                    "G": generator, "D": discriminator, "G_ema": copy.deepcopy(generator).eval(),
                    "augment_pipe": None}
        with tempfile.TemporaryDirectory() as tmp:
            pkl = Path(tmp) / f"{config}.pkl"
            with pkl.open("wb") as file:
                pickle.dump(snapshot, file)
            for psi in args.psi:
                print(json.dumps(check(config, psi, pkl, snapshot["G_ema"], kwargs["c_dim"])), flush=True)


if __name__ == "__main__":
    main()
