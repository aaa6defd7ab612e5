"""Check ganscope's ``biggan:`` loader against the ``pytorch-pretrained-biggan`` package on random weights.

The package is not a dependency of ganscope (it pulls in boto3); put it on the path for this script only:
    pip install --no-deps --target /tmp/ppb pytorch-pretrained-biggan==0.1.1 && pip install --target /tmp/ppb boto3
    PYTHONPATH=/tmp/ppb python scripts/crosscheck_biggan.py tiny deep-128 \\
        [--write tests/data/biggan_reference.safetensors]

For each config: random weights (``tests/test_biggan.py``'s ``random_state``) are saved as the package saves a
model (config.json, pytorch_model.bin), loaded by the package's ``BigGAN`` (strictly) and by ``biggan:DIR``, and
both run on the same latents: the package on ``truncation * truncated_normal(z)`` with a one-hot class, as its
``truncated_noise_sample`` would give, ganscope on z itself. Prints one JSON line per config and truncation: the
images' max abs difference and the worst of all layer outputs that both models name alike. ``--write`` stores
the package's images for the tiny config, which the test suite compares with (no package needed there).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ganscope.models import load_generator
from ganscope.models.biggan_net import truncated_normal
from ganscope.sampling import latents

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_biggan import REFERENCE_CLASS, TINY, random_state, save_model  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from alternating import best_times  # noqa: E402

DEEP_128 = {"output_dim": 128, "z_dim": 128, "class_embed_dim": 128, "channel_width": 128, "num_classes": 1000,
            "layers": [[False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8], [False, 8, 8],
                       [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1]],
            "attention_layer_position": 8, "eps": 1e-4, "n_stats": 51}  # the package's BigGANConfig defaults
CONFIGS: dict[str, dict[str, Any]] = {"tiny": TINY, "deep-128": DEEP_128}
TRUNCATIONS = ("1.0", "0.55", "0.4")  # 0.55 mixes two of the stored statistics


def record(model: torch.nn.Module, names: set[str]) -> dict[str, torch.Tensor]:
    """Hooks that keep the tensor output of every named module (removed by the caller)."""
    seen: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if name in names:
            module.register_forward_hook(lambda _m, _i, out, name=name: seen.__setitem__(name, out))
    return seen


def compare(name: str, config: dict[str, Any], samples: int) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor]]:
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    state = random_state(config)
    out: list[dict[str, Any]] = []
    golden: dict[str, torch.Tensor] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = save_model(Path(tmp) / name, config, state)
        package = BigGAN(BigGANConfig.from_json_file(str(directory / "config.json"))).eval()
        package.load_state_dict(torch.load(directory / "pytorch_model.bin", weights_only=True), strict=True)
        z = latents(0, range(samples), (config["z_dim"],))
        one_hot = torch.zeros(samples, config["num_classes"])
        one_hot[:, REFERENCE_CLASS % config["num_classes"]] = 1
        for truncation in TRUNCATIONS:
            start = time.perf_counter()
            ours = load_generator(f"biggan:{directory}?class={REFERENCE_CLASS}&truncation={truncation}")
            load_s = time.perf_counter() - start
            shared = {n for n, _ in ours.named_modules()} & {n for n, _ in package.named_modules()} - {""}
            mine, theirs = record(ours, shared), record(package, shared)
            with torch.no_grad():
                image = ours(z)
                reference = package(float(truncation) * truncated_normal(z), one_hot, float(truncation))
            layers = {n: (mine[n] - theirs[n]).abs().max().item() / max(theirs[n].abs().max().item(), 1e-12)
                      for n in mine if n in theirs and mine[n].shape == theirs[n].shape}
            worst = max(layers, key=layers.get)
            out.append({"config": name, "truncation": float(truncation), "samples": samples,
                        "image_max_abs_diff": (image - reference).abs().max().item(), "layers_compared": len(layers),
                        "worst_layer": worst, "worst_layer_rel_diff": layers[worst], "load_s": round(load_s, 2)})
            golden[f"images_{truncation}"] = reference.contiguous()
            for handle_owner in (ours, package):
                for module in handle_owner.modules():
                    module._forward_hooks.clear()
            if truncation == "1.0":  # the speed table: the package's forward against ganscope's, same latents
                out[-1] |= best_times({"package": lambda: package(truncated_normal(z), one_hot, 1.0),
                                       "ganscope": lambda ours=ours: ours(z)})
        golden |= {"z": z, "state.generator.conv_to_rgb.weight_orig": state["generator.conv_to_rgb.weight_orig"]}
    return out, golden


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", choices=sorted(CONFIGS))
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--write", type=Path, help="save the package's images for the tiny config here")
    args = parser.parse_args()
    for name in args.configs:
        lines, golden = compare(name, CONFIGS[name], args.samples)
        for line in lines:
            print(json.dumps(line))
        if args.write and name == "tiny":
            args.write.parent.mkdir(parents=True, exist_ok=True)
            save_file(golden, args.write)


if __name__ == "__main__":
    main()
