"""Real-model adapters: official key layouts, round trips through the registry, dissection, bad checkpoints."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import synthetic
from dissecting import dissect
from ganscope.cli import app
from ganscope.errors import GanscopeError
from ganscope.images import to_uint8
from ganscope.models import catalog as catalog_module
from ganscope.models import load_generator
from ganscope.models.catalog import CatalogEntry, checkpoint_path
from ganscope.models.fetch import fetch
from ganscope.models.proggan import ProgressiveGenerator, sizes_from_state
from ganscope.models.stylegan2 import ModulatedConv2d, StyleGAN2Generator, official_channels
from ganscope.models.stylegan2_ops import make_kernel, upfirdn2d
from ganscope.sampling import latents
from ganscope.segmenters import load_segmenter

SMALL_PROGGAN = [32, 32, 16, 8]  # latent 32; 32 channels at 4x4, 16 at 8x8, 8 at 16x16
SMALL_STYLEGAN2 = dict(channels=[32, 32, 16, 16], style_dim=32, n_mlp=2)  # 32x32


# -- official layouts, written out from the published architectures (not from ganscope's code) --

def karras_proggan_shapes(resolution: int) -> dict[str, tuple[int, ...]]:
    """Progressive GAN LSUN config (fmap_base 8192, fmap_max 512) in the GAN Dissection .pth naming."""
    def nf(stage: int) -> int:
        return min(8192 // 2**stage, 512)

    shapes = {"layer1.conv.weight": (nf(1), 512, 4, 4), "layer1.wscale.b": (nf(1),),
              "layer2.conv.weight": (nf(1), nf(1), 3, 3), "layer2.wscale.b": (nf(1),)}
    log_res = resolution.bit_length() - 1
    for res in range(3, log_res + 1):
        up, same = 2 * res - 3, 2 * res - 2
        shapes |= {f"layer{up}.conv.weight": (nf(res - 1), nf(res - 2), 3, 3), f"layer{up}.wscale.b": (nf(res - 1),),
                   f"layer{same}.conv.weight": (nf(res - 1), nf(res - 1), 3, 3),
                   f"layer{same}.wscale.b": (nf(res - 1),)}
    out = f"output_{resolution}x{resolution}"
    return shapes | {f"{out}.conv.weight": (3, nf(log_res - 1), 1, 1), f"{out}.wscale.b": (3,)}


def rosinality_stylegan2_shapes(size: int, style_dim: int = 512, n_mlp: int = 8) -> dict[str, tuple[int, ...]]:
    """``Generator(size, 512, 8, channel_multiplier=2).state_dict()`` of the PyTorch port, key -> shape."""
    ch = {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64, 1024: 32}

    def modconv(prefix: str, cin: int, cout: int, k: int) -> dict[str, tuple[int, ...]]:
        return {f"{prefix}.weight": (1, cout, cin, k, k), f"{prefix}.modulation.weight": (cin, style_dim),
                f"{prefix}.modulation.bias": (cin,)}

    def styled(prefix: str, cin: int, cout: int, up: bool) -> dict[str, tuple[int, ...]]:
        blur = {f"{prefix}.conv.blur.kernel": (4, 4)} if up else {}
        return modconv(f"{prefix}.conv", cin, cout, 3) | blur | {f"{prefix}.noise.weight": (1,),
                                                                 f"{prefix}.activate.bias": (cout,)}

    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(1, n_mlp + 1):
        shapes |= {f"style.{i}.weight": (style_dim, style_dim), f"style.{i}.bias": (style_dim,)}
    shapes |= {"input.input": (1, ch[4], 4, 4)} | styled("conv1", ch[4], ch[4], False)
    shapes |= modconv("to_rgb1.conv", ch[4], 3, 1) | {"to_rgb1.bias": (1, 3, 1, 1)}
    log_size = size.bit_length() - 1
    for i in range(2 * (log_size - 2) + 1):
        side = 2 ** ((i + 5) // 2)
        shapes[f"noises.noise_{i}"] = (1, 1, side, side)
    for j, res in enumerate(range(3, log_size + 1)):
        cin, cout = ch[2 ** (res - 1)], ch[2**res]
        shapes |= styled(f"convs.{2 * j}", cin, cout, True) | styled(f"convs.{2 * j + 1}", cout, cout, False)
        shapes |= modconv(f"to_rgbs.{j}.conv", cout, 3, 1)
        shapes |= {f"to_rgbs.{j}.bias": (1, 3, 1, 1), f"to_rgbs.{j}.upsample.kernel": (4, 4)}
    return shapes


def shapes_of(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_proggan_official_layout() -> None:
    expected = karras_proggan_shapes(256)
    with torch.device("meta"):
        fake = {k: torch.empty(s) for k, s in expected.items()}
        gen = ProgressiveGenerator(sizes_from_state(fake))
    assert shapes_of(gen) == expected
    assert gen.layer_names[-2:] == ["layer14", "output_256x256"]
    assert catalog_module.CATALOG["proggan-churchoutdoor"].layers == gen.layer_names


def test_stylegan2_official_layout() -> None:
    with torch.device("meta"):
        gen = StyleGAN2Generator(official_channels(256))
    assert shapes_of(gen) == rosinality_stylegan2_shapes(256)
    names = set(dict(gen.named_modules()))
    assert set(catalog_module.CATALOG["stylegan2-church"].layers) <= names
    assert "convs.3.conv.modulation" in names  # style-space layer


# -- small random models through the registry --

def randomise(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    return module.eval()


@pytest.fixture(scope="module")
def proggan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("proggan") / "proggan_small.pth"
    torch.save(randomise(ProgressiveGenerator(SMALL_PROGGAN)).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def stylegan2_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stylegan2") / "stylegan2_small.pt"
    gen = randomise(StyleGAN2Generator(**SMALL_STYLEGAN2), seed=1)
    args = argparse.Namespace(size=32, channel_multiplier=2)  # the port's training checkpoints store args
    torch.save({"g_ema": gen.state_dict(), "latent_avg": torch.randn(32) * 0.1, "args": args}, path)
    return path


def test_proggan_round_trip(proggan_file: Path) -> None:
    gen = load_generator(f"proggan:{proggan_file}")
    reference = randomise(ProgressiveGenerator(SMALL_PROGGAN))
    z = torch.randn(3, 32, generator=torch.Generator().manual_seed(5))
    images = gen(z)
    assert images.shape == (3, 3, 16, 16) and gen.latent_shape == (32,)
    assert torch.equal(images, reference(z)) and torch.equal(images, gen(z.view(3, 32, 1, 1)))


def test_proggan_old_layout(tmp_path: Path, proggan_file: Path) -> None:
    state = torch.load(proggan_file, weights_only=True)
    old = {k.replace("output_16x16", "output").replace("layer", "features."): v for k, v in state.items()}
    old = {(f"features.{int(k.split('.')[1]) - 1}.{k.split('.', 2)[2]}" if k.startswith("features") else k): v
           for k, v in old.items()}
    torch.save({"state_dict": old}, tmp_path / "old.pth")
    z = torch.randn(2, 32)
    old_gen, new_gen = load_generator(f"proggan:{tmp_path / 'old.pth'}"), load_generator(f"proggan:{proggan_file}")
    assert torch.equal(old_gen(z), new_gen(z))


def test_stylegan2_round_trip(stylegan2_file: Path) -> None:
    gen = load_generator(f"stylegan2:{stylegan2_file}?truncation=0.5")
    assert gen.truncation == 0.5 and gen.latent_shape == (32,)
    z = torch.randn(2, 32, generator=torch.Generator().manual_seed(3))
    images = gen(z)
    assert images.shape == (2, 3, 32, 32) and torch.isfinite(images).all()
    assert torch.equal(images, gen(z))  # fixed noise buffers: deterministic
    ckpt = torch.load(stylegan2_file, weights_only=False)
    assert torch.equal(gen.latent_avg, ckpt["latent_avg"])
    w = gen.style(z)
    assert torch.allclose(images, gen.synthesis(ckpt["latent_avg"] + 0.5 * (w - ckpt["latent_avg"])), atol=1e-5)
    assert not torch.allclose(images, load_generator(f"stylegan2:{stylegan2_file}?truncation=1")(z))


def test_stylegan2_without_latent_avg_or_noise(tmp_path: Path, stylegan2_file: Path) -> None:
    state = torch.load(stylegan2_file, weights_only=False)["g_ema"]
    torch.save({"g_ema": {k: v for k, v in state.items() if not k.startswith("noises.")}}, tmp_path / "old.pt")
    first = load_generator(f"stylegan2:{tmp_path / 'old.pt'}")
    second = load_generator(f"stylegan2:{tmp_path / 'old.pt'}")
    assert torch.equal(first.latent_avg, second.latent_avg) and first.latent_avg.abs().sum() > 0
    z = torch.randn(2, 32)
    assert torch.equal(first(z), second(z))


@pytest.mark.parametrize("upsample", [False, True])
def test_modulated_conv_matches_per_sample_conv(upsample: bool) -> None:
    """The batched grouped conv equals modulating, demodulating and convolving each sample on its own."""
    conv = randomise(ModulatedConv2d(4, 5, 3, 8, upsample=upsample))
    x, w = torch.randn(3, 4, 6, 6), torch.randn(3, 8)
    rows = []
    for xi, wi in zip(x, w):
        weight = conv.scale * conv.weight[0] * conv.modulation(wi[None]).view(1, 4, 1, 1)
        weight = weight / weight.pow(2).sum([1, 2, 3], keepdim=True).add(1e-8).sqrt()
        if upsample:
            out = torch.nn.functional.conv_transpose2d(xi[None], weight.transpose(0, 1), stride=2)
            rows.append(upfirdn2d(out, make_kernel() * 4, pad=(1, 1)))
        else:
            rows.append(torch.nn.functional.conv2d(xi[None], weight, padding=1))
    out = conv(x, w)
    assert out.shape == (3, 5, 12 if upsample else 6, 12 if upsample else 6)
    assert torch.allclose(out, torch.cat(rows), atol=1e-5)


def test_upfirdn2d_upsample_keeps_constants() -> None:
    image = torch.ones(1, 2, 6, 6)
    up = upfirdn2d(image, make_kernel() * 4, up=2, pad=(2, 1))
    assert up.shape == (1, 2, 12, 12)
    assert torch.allclose(up[..., 2:-2, 2:-2], torch.ones(1, 2, 8, 8))
    blurred = upfirdn2d(image, make_kernel(), pad=(1, 2))
    assert blurred.shape == (1, 2, 6, 6) and torch.allclose(blurred[..., 1:4, 1:4], torch.ones(1, 2, 3, 3))


# -- segmenter and dissection --

@pytest.fixture(scope="module")
def segmenter_spec(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random SegFormer with 150 ADE20K classes when transformers is installed, else the synthetic one."""
    try:
        from transformers import SegformerConfig, SegformerForSemanticSegmentation
    except ImportError:
        return "synthetic:make_segmenter"
    config = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                             patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
                             decoder_hidden_size=16, num_labels=150)
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("segformer")
    SegformerForSemanticSegmentation(config).save_pretrained(directory)
    return f"segformer:{directory}"


def test_segformer_vocabulary(segmenter_spec: str) -> None:
    if not segmenter_spec.startswith("segformer"):
        pytest.skip("transformers is not installed")
    seg = load_segmenter(segmenter_spec)
    assert len(seg.concepts) == 151 and seg.concepts[15] == "door" and seg.categories[15] == "part"
    assert seg.categories[seg.concepts.index("grass")] == "material"
    labels = seg.segment(torch.rand(2, 3, 24, 24) * 2 - 1)
    assert labels.shape == (2, 24, 24) and labels.dtype == torch.long and labels.min() >= 1
    sized = load_segmenter(f"{segmenter_spec}?size=32")
    assert sized.segment(torch.zeros(1, 3, 24, 24)).shape == (1, 24, 24)


@pytest.mark.parametrize(("spec", "layers"), [("proggan", ["layer2", "layer5"]),
                                              ("stylegan2", ["convs.1", "convs.3.conv.modulation"])])
def test_dissect_two_layers(spec: str, layers: list[str], segmenter_spec: str, proggan_file: Path,
                            stylegan2_file: Path) -> None:
    path = proggan_file if spec == "proggan" else stylegan2_file
    gen = load_generator(f"{spec}:{path}")
    seg = load_segmenter(segmenter_spec) if segmenter_spec.startswith("segformer") else synthetic.make_segmenter()
    results = dissect(gen, seg, layers, samples=8, seed=0, batch_size=4, progress=False, pilot=8)
    assert list(results.layers) == layers
    units = {name: len(layer.units) for name, layer in results.layers.items()}
    expected = {"layer2": 32, "layer5": 8} if spec == "proggan" else {"convs.1": 32, "convs.3.conv.modulation": 16}
    assert units == expected


# -- bad checkpoints --

def test_wrong_architecture(tmp_path: Path, proggan_file: Path, stylegan2_file: Path) -> None:
    with pytest.raises(GanscopeError, match="not a ProGAN"):
        load_generator(f"proggan:{stylegan2_file}")
    with pytest.raises(GanscopeError, match="not a StyleGAN2"):
        load_generator(f"stylegan2:{proggan_file}")
    state = torch.load(proggan_file, weights_only=True)
    state["layer3.extra"] = state.pop("layer3.wscale.b")
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(GanscopeError, match=r"missing \(1\): layer3.wscale.b; unexpected \(1\): layer3.extra"):
        load_generator(f"proggan:{tmp_path / 'broken.pth'}")


def test_truncated_checkpoint(tmp_path: Path, proggan_file: Path) -> None:
    data = proggan_file.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(GanscopeError, match="truncated"):
        load_generator(f"proggan:{tmp_path / 'cut.pth'}")
    legacy = tmp_path / "legacy.pth"  # the pre-zip format of older .pth files
    torch.save(torch.load(proggan_file, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    assert load_generator(f"proggan:{legacy}").latent_shape == (32,)
    legacy.write_bytes(legacy.read_bytes()[:2000])
    with pytest.raises(GanscopeError, match="truncated"):
        load_generator(f"proggan:{legacy}")


def test_pickle_needs_trust(tmp_path: Path, proggan_file: Path) -> None:
    runner = CliRunner()
    state = torch.load(proggan_file, weights_only=True)
    torch.save({"state_dict": state, "origin": pathlib.PurePosixPath("lsun")}, tmp_path / "pickled.pth")
    with pytest.raises(GanscopeError, match="needs pickle.*trust=true"):
        load_generator(f"proggan:{tmp_path / 'pickled.pth'}")
    assert load_generator(f"proggan:{tmp_path / 'pickled.pth'}?trust=true").latent_shape == (32,)
    out = tmp_path / "safe.safetensors"
    refused = runner.invoke(app, ["convert", str(tmp_path / "pickled.pth"), str(out)])
    assert refused.exit_code == 2 and "--trust-checkpoint" in refused.output and not out.exists()
    done = runner.invoke(app, ["convert", str(tmp_path / "pickled.pth"), str(out), "--trust-checkpoint"])
    assert done.exit_code == 0 and "dropped non-tensors: origin" in done.output
    z = torch.randn(2, 32)
    assert torch.equal(load_generator(f"proggan:{out}")(z), load_generator(f"proggan:{proggan_file}")(z))


def test_unknown_option(proggan_file: Path) -> None:
    with pytest.raises(GanscopeError, match="unknown option 'truncation'"):
        load_generator(f"proggan:{proggan_file}?truncation=0.5")


# -- catalog and fetch --

@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GANSCOPE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def local_entry(tmp_path: Path, sha256: str, url: str | None = None) -> CatalogEntry:
    source = tmp_path / "published.pth"
    source.write_bytes(b"weights" * 1000)
    return CatalogEntry("proggan-test", "proggan", 16, "proggan_test.pth", url or source.as_uri(), sha256, "test")


def test_fetch_checks_sha256(tmp_path: Path, cache: Path) -> None:
    digest = hashlib.sha256(b"weights" * 1000).hexdigest()
    assert fetch(local_entry(tmp_path, digest[:8]), progress=False) == cache / "proggan_test.pth"
    (cache / "proggan_test.pth").unlink()
    with pytest.raises(GanscopeError, match="does not match the published 00000000"):
        fetch(local_entry(tmp_path, "00000000"), progress=False)
    assert not list(cache.iterdir())


def test_fetch_offline_says_where(tmp_path: Path, cache: Path) -> None:
    entry = local_entry(tmp_path, "", url="http://127.0.0.1:9/proggan_test.pth")
    with pytest.raises(GanscopeError, match=f"place it at {cache / 'proggan_test.pth'}"):
        fetch(entry, progress=False)


def test_catalog_names_resolve_to_cache(cache: Path, proggan_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    with pytest.raises(GanscopeError, match="ganscope fetch proggan-churchoutdoor"):
        checkpoint_path("churchoutdoor", "proggan")
    cache.mkdir()
    cached = cache / "proggan_churchoutdoor-7e701dd5.pth"
    cached.write_bytes(proggan_file.read_bytes())  # not the published file: its sha256 differs
    with pytest.raises(GanscopeError, match="does not match the published 7e701dd5"):
        load_generator("proggan:churchoutdoor")
    entry = catalog_module.CATALOG["proggan-churchoutdoor"]
    digest = hashlib.sha256(cached.read_bytes()).hexdigest()
    monkeypatch.setitem(catalog_module.CATALOG, entry.name, dataclasses.replace(entry, sha256=digest[:8]))
    assert load_generator("proggan:churchoutdoor").latent_shape == (32,)
    record = cache / "proggan_churchoutdoor-7e701dd5.pth.verified"
    assert record.read_text().endswith(digest)  # checked once, remembered
    hashed = []
    monkeypatch.setattr("ganscope.models.integrity.sha256_of", lambda path: hashed.append(path) or digest)
    load_generator("proggan:churchoutdoor")
    assert hashed == []
    os.utime(cached, ns=(cached.stat().st_atime_ns, cached.stat().st_mtime_ns + 1))  # a changed file: hashed again
    load_generator("proggan:churchoutdoor")
    assert hashed == [cached]
    result = CliRunner().invoke(app, ["models"], env={"COLUMNS": "80"})
    assert result.exit_code == 0 and "proggan-churchoutdoor" in result.output and "stylegan2-church" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "segformer" in result.output
    listing = json.loads(CliRunner().invoke(app, ["models", "--json"]).stdout)
    assert {m["name"] for m in listing["generators"]} >= {"proggan-churchoutdoor", "stylegan2-church"}
    assert any(m["name"] == "segformer-b0-ade" for m in listing["segmenters"])
    assert "https://" in CliRunner().invoke(app, ["models", "--wide"], env={"COLUMNS": "300"}).output
    assert CliRunner().invoke(app, ["fetch", "nope"]).exit_code == 2


def _segformer_b0(directory: Path, id2label: dict[int, str] | None = None) -> Path:
    """A random SegFormer of the B0 shape with its image processor's config, as save_pretrained writes them."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    torch.manual_seed(0)
    config = SegformerConfig(num_labels=150, id2label=id2label, label2id=None if id2label is None else
                             {v: k for k, v in id2label.items()})
    SegformerForSemanticSegmentation(config).save_pretrained(directory)
    SegformerImageProcessor().save_pretrained(directory)
    return directory


@pytest.mark.slow
def test_segformer_agrees_with_the_transformers_pipeline(tmp_path: Path) -> None:
    """Our segmenter on images in [-1, 1] vs the processor + model + post-processing on the same pictures."""
    transformers = pytest.importorskip("transformers")
    directory = _segformer_b0(tmp_path / "b0")
    images = load_generator("demo")(latents(0, range(8), (128,)))
    ours = load_segmenter(f"segformer:{directory}").segment(images) - 1
    processor = transformers.SegformerImageProcessor.from_pretrained(directory)
    model = transformers.SegformerForSemanticSegmentation.from_pretrained(directory).eval()
    pictures = [Image.fromarray(array) for array in to_uint8(images)]
    with torch.no_grad():
        outputs = model(**processor(images=pictures, return_tensors="pt"))
    theirs = torch.stack(processor.post_process_semantic_segmentation(outputs, target_sizes=[(64, 64)] * 8))
    agreement = float((ours == theirs).float().mean())
    assert agreement >= 0.99, agreement


def test_segformer_reads_its_processor_and_strips_label_names(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    names = {i: f"class {i} " for i in range(150)}
    directory = _segformer_b0(tmp_path / "b0", names)
    seg = load_segmenter(f"segformer:{directory}")
    assert seg.size == 512 and seg.concepts[1] == "class 0"
    assert load_segmenter(f"segformer:{directory}?size=0").size is None
    labels = seg.segment(torch.zeros(1, 3, 16, 16), size=(8, 8))  # argmax at the label size
    assert labels.shape == (1, 8, 8)


@pytest.mark.parametrize(("content", "what"), [
    (b"<!DOCTYPE html><html><body>403 Forbidden</body></html>", "an HTML page"),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\n", "a text file"),
    (b"", "empty"),
    (b"\x00\x01\x02\x03garbage", "not a PyTorch checkpoint"),
])
def test_a_file_that_is_not_a_checkpoint_says_what_it_is(tmp_path: Path, content: bytes, what: str) -> None:
    (tmp_path / "model.pth").write_bytes(content)
    with pytest.raises(GanscopeError, match=f"the file is {what}"):
        load_generator(f"proggan:{tmp_path / 'model.pth'}")


def test_trust_hint_names_the_spec_and_missing_code_is_a_clear_error(tmp_path: Path, stylegan2_file: Path) -> None:
    state = torch.load(stylegan2_file, weights_only=False)  # our own test file
    torch.save({**state, "origin": pathlib.PurePosixPath("ffhq")}, tmp_path / "pickled.pt")
    with pytest.raises(GanscopeError, match=r"stylegan2:PATH\?trust=true"):
        load_generator(f"stylegan2:{tmp_path / 'pickled.pt'}")
    nvidia = tmp_path / "network.pkl"  # a pickle naming NVIDIA's persistence module, which is not installed
    nvidia.write_bytes(b"\x80\x02ctorch_utils.persistence\n_reconstruct_persistent_obj\nq\x00.")
    with pytest.raises(GanscopeError, match="an NVIDIA network pickle; .*stylegan:PATH"):
        load_generator(f"proggan:{nvidia}?trust=true")


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["proggan", "stylegan2"])
def test_paint_sets_on_real_architectures(spec: str, proggan_file: Path, stylegan2_file: Path,
                                          tmp_path: Path) -> None:
    """`ganscope paint-sets` on a dissected small random checkpoint: the mechanics, end to end."""
    segmenter_spec = "synthetic:make_segmenter"  # few concepts: quick (SegFormer's soft labels: the next test)
    path = proggan_file if spec == "proggan" else stylegan2_file
    layers = ["layer2", "layer3"] if spec == "proggan" else ["convs.1", "convs.2"]
    model = f"{spec}:{path}"
    dissected = CliRunner().invoke(app, ["dissect", "--model", model, "--segmenter", segmenter_spec, *sum(
        (["-l", name] for name in layers), []), "--samples", "8", "--batch-size", "4", "--out", str(tmp_path),
        "--no-report", "--no-progress"])
    assert dissected.exit_code == 0, dissected.output
    run = CliRunner().invoke(app, ["paint-sets", "--results", str(tmp_path), "--model", model, "--segmenter",
                                   segmenter_spec, "--sizes", "2", "--steps", "2", "--samples", "4", "--selection",
                                   "4", "--layer", layers[-1]])
    assert run.exit_code == 0, run.output
    from ganscope.paintsets import PaintSets

    sets = PaintSets.load(tmp_path)
    assert sets.complete and {s.layer for s in sets.sets} == {layers[-1]} and sets.sets


def test_segformer_soft_labels_carry_gradients(segmenter_spec: str) -> None:
    if not segmenter_spec.startswith("segformer"):
        pytest.skip("transformers is not installed")
    seg = load_segmenter(segmenter_spec)
    images = (torch.rand(2, 3, 24, 24) * 2 - 1).requires_grad_(True)
    soft = seg.probabilities(images)
    assert soft.shape == (2, 151, 24, 24) and torch.allclose(soft.sum(1), torch.ones(2, 24, 24), atol=1e-5)
    assert torch.equal(soft[:, 1:].argmax(1) + 1, seg.segment(images.detach()))
    soft[:, 5].mean().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
