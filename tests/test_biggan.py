"""BigGAN-deep in pytorch-pretrained-biggan's format: layout, the package's images, latents, classes, bad input.

Models are saved as the package saves them (``config.json`` + ``torch.save`` of the state dict in
``pytorch_model.bin``). The package itself is not needed: ``data/biggan_reference.safetensors`` holds
its images for the weights ``random_state`` makes (written by ``scripts/crosscheck_biggan.py``).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from scipy import stats
from typer.testing import CliRunner

from ganscope.cli import app
from ganscope.errors import GanscopeError
from ganscope.models import load_generator
from ganscope.models.biggan import build_biggan
from ganscope.models.biggan_net import truncated_normal
from ganscope.sampling import latents

REFERENCE = Path(__file__).parent / "data" / "biggan_reference.safetensors"
# 32 x 32, channel width 4, attention before layer 3 (at 16 x 16); the package's layer table format
TINY: dict[str, Any] = {"output_dim": 32, "z_dim": 8, "class_embed_dim": 8, "channel_width": 4, "num_classes": 1000,
                        "layers": [[True, 16, 8], [False, 8, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1]],
                        "attention_layer_position": 3, "eps": 1e-4, "n_stats": 11}
REFERENCE_CLASS = 497  # church


def random_state(config: dict[str, Any], seed: int = 0) -> dict[str, torch.Tensor]:
    """Every tensor of the package's state dict drawn from one seeded generator, in key order.

    The spectral-norm vectors come from power iteration on their weight, as training leaves them.
    """
    gen = torch.Generator().manual_seed(seed)
    shapes = {k: v.shape for k, v in build_biggan(config, 0, 1.0).state_dict().items()}
    state: dict[str, torch.Tensor] = {}
    for key, shape in shapes.items():
        leaf = key.rsplit(".", 1)[-1]
        noise = torch.randn(shape, generator=gen)
        if leaf == "weight_orig":
            state[key] = noise / math.sqrt(math.prod(shape[1:]))
        elif leaf == "running_vars":
            state[key] = 0.5 + torch.rand(shape, generator=gen)
        elif key.endswith("bn.weight"):
            state[key] = 1 + 0.1 * noise
        elif leaf in ("gamma", "weight"):  # attention gain, class embeddings
            state[key] = 0.5 * noise
        elif leaf in ("bias", "running_means"):
            state[key] = 0.1 * noise
    for key in [k for k in state if k.endswith("weight_orig")]:
        matrix, base = state[key].flatten(1), key.removesuffix("_orig")
        v = F.normalize(torch.randn(matrix.shape[1], generator=gen), dim=0)
        for _ in range(30):
            u = F.normalize(matrix @ v, dim=0)
            v = F.normalize(matrix.t() @ u, dim=0)
        state[base + "_u"], state[base + "_v"] = u, v
    assert set(state) == set(shapes)
    return state


def save_model(directory: Path, config: dict[str, Any], state: dict[str, torch.Tensor]) -> Path:
    """The package's model directory: config.json and pytorch_model.bin."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    torch.save(state, directory / "pytorch_model.bin")
    return directory


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(tmp_path_factory.mktemp("biggan") / "tiny", TINY, random_state(TINY))


def test_state_dict_loads_key_for_key_with_the_package_names(tiny_dir: Path) -> None:
    gen = load_generator(f"biggan:{tiny_dir}?class=church")
    saved = torch.load(tiny_dir / "pytorch_model.bin", weights_only=True)
    assert gen.state_dict().keys() == saved.keys()
    assert all(torch.equal(gen.state_dict()[k], v) for k, v in saved.items())
    names = dict(gen.named_modules())
    assert gen.latent_shape == (8,) and type(names["generator.layers.3"]).__name__ == "SelfAttn"
    assert {f"generator.layers.{i}" for i in range(6)} <= set(names) and "generator.layers.6" not in names
    assert {"generator.gen_z", "generator.bn", "generator.conv_to_rgb", "embeddings"} <= set(names)
    for key in ("generator.gen_z.weight_orig", "generator.layers.0.bn_0.scale.weight_u",
                "generator.layers.3.snconv1x1_o_conv.weight_v", "generator.bn.running_vars"):
        assert key in saved


@pytest.mark.parametrize("truncation", ["1.0", "0.55", "0.4"])
def test_images_equal_the_packages(tiny_dir: Path, truncation: str) -> None:
    """Same weights, z, class and truncation as the package's ``BigGAN(z, one_hot, truncation)`` run."""
    reference = load_file(REFERENCE)
    key = "generator.conv_to_rgb.weight_orig"  # the weights are the ones the reference was made with
    assert torch.equal(reference[f"state.{key}"], random_state(TINY)[key])
    gen = load_generator(f"biggan:{tiny_dir}?class={REFERENCE_CLASS}&truncation={truncation}")
    with torch.no_grad():
        images = gen(reference["z"])
    assert images.shape == (2, 3, 32, 32)
    torch.testing.assert_close(images, reference[f"images_{truncation}"], rtol=0, atol=1e-5)


def test_latents_are_truncated_normal_and_each_sample_is_its_own(tiny_dir: Path) -> None:
    z = latents(0, range(4000), (8,))
    t = truncated_normal(z).flatten().double()
    assert t.abs().max() <= 2
    assert stats.kstest(t.numpy(), stats.truncnorm(-2, 2).cdf).pvalue > 1e-3
    assert torch.equal(truncated_normal(-z), -truncated_normal(z))  # monotone, symmetric map
    gen = load_generator(f"biggan:{tiny_dir}?class=church&truncation=0.5")
    with torch.no_grad():
        batch = gen(latents(3, range(5), (8,)))
        alone = gen(latents(3, [2], (8,)))
    torch.testing.assert_close(batch[2:3], alone, rtol=0, atol=1e-6)  # frozen statistics: no batch coupling


@pytest.mark.parametrize(("value", "index"), [("church", 497), ("Great_White_Shark", 2), ("crane bird", 134),
                                              ("497", 497), ("0", 0)])
def test_class_by_name_or_index(tiny_dir: Path, value: str, index: int) -> None:
    gen = load_generator(f"biggan:{tiny_dir}?class={value}")
    assert gen.class_index == index and gen.class_vector.argmax() == index and gen.class_vector.sum() == 1


@pytest.mark.parametrize(("options", "message"), [
    ("", "class-conditional: choose a class with ?class=NAME"),
    ("?class=chruch", "not an ImageNet class name; did you mean crutch, church,"),
    ("?class=1000", "classes 0..999"),
    ("?class=church&truncation=0", "must be in (0, 1]"),
    ("?class=church&truncation=1.5", "must be in [0.0, 1.0]"),
    ("?class=church&psi=1", "unknown option 'psi'"),
])
def test_bad_options(tiny_dir: Path, options: str, message: str) -> None:
    with pytest.raises(GanscopeError, match=re.escape(message)):
        load_generator(f"biggan:{tiny_dir}{options}")


def test_class_names_need_imagenet_classes(tmp_path: Path) -> None:
    config = {**TINY, "num_classes": 10}
    directory = save_model(tmp_path / "ten", config, random_state(config))
    with pytest.raises(GanscopeError, match="10 classes, not ImageNet's 1000, so give an index"):
        load_generator(f"biggan:{directory}?class=church")
    assert load_generator(f"biggan:{directory}?class=9").class_index == 9


def test_bad_directories(tmp_path: Path, tiny_dir: Path) -> None:
    def fails(directory: Path, message: str) -> None:
        with pytest.raises(GanscopeError, match=message):
            load_generator(f"biggan:{directory}?class=church")

    fails(tmp_path / "nowhere", "is not a directory")
    (tmp_path / "empty").mkdir()
    fails(tmp_path / "empty", "has no config.json")
    bad = save_model(tmp_path / "bad", TINY, random_state(TINY))
    (bad / "pytorch_model.bin").unlink()
    fails(bad, "checkpoint not found")
    (bad / "pytorch_model.bin").write_bytes((tiny_dir / "pytorch_model.bin").read_bytes()[:5000])
    fails(bad, "truncated or")
    (bad / "pytorch_model.bin").write_bytes(b"<html>Not Found</html>")
    fails(bad, "an HTML page")
    (bad / "config.json").write_text("{")
    fails(bad, "is not valid JSON")
    (bad / "config.json").write_text(json.dumps({k: v for k, v in TINY.items() if k != "layers"}))
    fails(bad, "lacks layers")
    (bad / "config.json").write_text(json.dumps({**TINY, "layers": [[True, 16, 8], [False, 4, 4]]}))
    fails(bad, "do not chain .*first bad layer: 1")
    (bad / "config.json").write_text(json.dumps({**TINY, "output_dim": 64}))
    fails(bad, "make 32 x 32 images, not output_dim 64")
    wider = save_model(tmp_path / "wider", TINY, random_state({**TINY, "channel_width": 8}))
    fails(wider, "does not fit BigGAN .*wrong shape")


def test_cli_reports_bad_class_in_one_line(tiny_dir: Path, tmp_path: Path) -> None:
    run = CliRunner().invoke(app, ["dissect", "--model", f"biggan:{tiny_dir}?class=chruch", "--segmenter", "demo",
                                   "-l", "generator.layers.3", "--samples", "4", "--out", str(tmp_path / "out"),
                                   "--no-progress"])
    assert run.exit_code == 2 and "did you mean crutch, church" in run.output and "Traceback" not in run.output


def test_dissect_end_to_end(tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    layers = ["generator.layers.1", "generator.layers.3"]
    run = CliRunner().invoke(app, ["dissect", "--model", f"biggan:{tiny_dir}?class=church", "--segmenter", "demo",
                                   "--samples", "8", "--batch-size", "4", "--out", str(out), "--no-progress",
                                   *(a for layer in layers for a in ("-l", layer))])
    assert run.exit_code == 0, run.output
    assert list(json.loads((out / "results.json").read_text())["layers"]) == layers
