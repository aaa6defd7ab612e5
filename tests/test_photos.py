"""Real photos: loading with the documented rule, inversion (steps 1 and 2, resume), composited edits through
the session, the CLI round trip, and ProGAN / StyleGAN2 adapters (small random models)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from dissecting import dissect
from ganscope.cli import app
from ganscope.edits import ablation
from ganscope.errors import GanscopeError
from ganscope.models import load_generator
from ganscope.models.proggan import ProgressiveGenerator
from ganscope.models.stylegan2 import StyleGAN2Generator
from ganscope.photos import Inversion, PhotoGenerator, invert, read_photo
from ganscope.photos.composite import MARGIN, edit_limit
from ganscope.photos.images import MAX_PHOTO_PIXELS
from ganscope.regions import Region
from ganscope.segmenters import load_segmenter
from ganscope.session import Session
from ganscope.world import render
from test_models import SMALL_PROGGAN, SMALL_STYLEGAN2, randomise

FAST = dict(starts=2, search_steps=3, steps=8, adapt_steps=10)
PHOTO_SEED = 17  # a world seed the demo models never trained on


@pytest.fixture(scope="module")
def session() -> Session:
    torch.set_num_threads(1)
    return Session(load_generator("demo"), load_segmenter("demo"), model_name="demo", segmenter_name="demo")


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    return render([0], seed=PHOTO_SEED).images[0]


@pytest.fixture(scope="module")
def inverted(session: Session, photo: torch.Tensor) -> Inversion:
    return invert(session, photo, layer="layer6", **FAST)


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_inversion_lowers_the_error_and_step_2_improves_on_step_1(session: Session, photo: torch.Tensor,
                                                                  inverted: Inversion):
    untouched = invert(session, photo, layer="layer6", starts=2, search_steps=0, steps=0, adapt_steps=0)
    step1, step2 = inverted.metrics["step1"], inverted.metrics["step2"]
    assert step1["psnr"] > untouched.metrics["step1"]["psnr"] + 1
    assert step2["psnr"] > step1["psnr"] and step2["mean_iou"] >= step1["mean_iou"]
    assert 0 <= step2["mean_iou"] <= 1


def test_the_adapted_generator_is_a_normal_generator_and_leaves_its_base_alone(session: Session,
                                                                               inverted: Inversion):
    gen = inverted.generator
    assert isinstance(gen, PhotoGenerator) and gen.adapted == ["layer7", "layer8", "layer9", "layer10"]
    assert gen.residual.abs().sum() > 0
    z = session.latents([0])
    before = session.images([0])
    assert torch.equal(gen(z), inverted.session.images(z=z))  # the session runs the adapted module
    assert torch.equal(session.images(z=z), before)  # the shared base generator is unchanged


def test_edits_on_an_inverted_photo_go_through_the_session_and_stay_local(inverted: Inversion):
    region = Region.box(8, 8, 24, 24, (64, 64))
    edit = ablation("layer6", range(64), region)
    raw = inverted.edited([edit])
    assert torch.equal(raw, inverted.session.images(z=inverted.latent, edits=[edit])[0])
    assert (raw - inverted.reconstruction()).abs().amax() > 0.1
    image = inverted.edit([edit])
    far = edit_limit([edit], (64, 64), MARGIN) == 0
    assert far.sum() > 1000 and torch.equal(image[:, far], inverted.photo[:, far])  # exactly the photo's pixels
    assert (image[:, ~far] - inverted.photo[:, ~far]).abs().amax() > 0.1


def test_an_interrupted_inversion_resumes_to_the_same_result(session: Session, photo: torch.Tensor, tmp_path: Path):
    whole = invert(session, photo, layer="layer6", out=tmp_path / "whole", checkpoint_every=4, **FAST)

    class Stop(Exception):
        pass

    def stop_at_9(done: float, total: float) -> None:
        if done == 9:
            raise Stop

    with pytest.raises(Stop):
        invert(session, photo, layer="layer6", out=tmp_path / "cut", checkpoint_every=4, progress=stop_at_9, **FAST)
    assert (tmp_path / "cut" / "inversion.ckpt").is_file() and not (tmp_path / "cut" / "inversion.safetensors").exists()
    resumed = invert(session, photo, layer="layer6", out=tmp_path / "cut", checkpoint_every=4, **FAST)
    assert torch.allclose(resumed.latent, whole.latent, atol=1e-6)
    for name, value in whole.generator.adaptation().items():
        assert torch.allclose(resumed.generator.adaptation()[name], value, atol=1e-6), name
    loaded = Inversion.load(tmp_path / "cut", session)
    assert torch.equal(loaded.reconstruction(), resumed.reconstruction())
    assert loaded.metrics["step2"] == resumed.metrics["step2"]
    assert {p.name for p in (tmp_path / "cut").iterdir()} == {"inversion.safetensors", "metrics.json", "photo.png",
                                                             "reconstruction.png"}


@settings(max_examples=25, deadline=None)
@given(width=st.integers(1, 300), height=st.integers(1, 300), mode=st.sampled_from(["L", "LA", "RGB", "RGBA", "P",
                                                                                      "I;16"]))
def test_any_png_becomes_a_centred_square_rgb_photo(width: int, height: int, mode: str):
    rng = np.random.default_rng(width * 1000 + height)
    image = Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).convert(
        "RGBA" if mode == "P" else mode if mode != "I;16" else "L")
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image).astype(np.uint16) * 257)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    photo = read_photo(buffer.getvalue(), 64)
    assert photo.shape == (3, 64, 64) and photo.min() >= -1 and photo.max() <= 1


def test_the_crop_rule_keeps_the_centre_and_transparency_becomes_white():
    wide = np.zeros((64, 128, 3), np.uint8)
    wide[:, 32:96] = 200  # the centred square
    assert torch.allclose(read_photo(png(wide), 64), torch.full((3, 64, 64), 200 / 127.5 - 1))
    clear = np.zeros((64, 64, 4), np.uint8)
    assert torch.equal(read_photo(png(clear, "RGBA"), 64), torch.ones(3, 64, 64))
    gray = np.full((32, 32), 0, np.uint8)
    assert torch.equal(read_photo(png(gray), 64), -torch.ones(3, 64, 64))


def bomb(width: int, height: int) -> bytes:
    """A PNG header that declares ``width`` x ``height`` pixels (with a tiny, truncated body)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize(("data", "message"), [
    (b"not an image at all", "is not a PNG or JPEG"),
    (b"", "is empty"),
    (bomb(20_000, 20_000), "pixels"),
    (bomb(7000, 7000), f"at most {MAX_PHOTO_PIXELS:,} pixels"),
    (bomb(64, 64), "cannot be decoded"),
])
def test_bad_photos_are_clear_errors(data: bytes, message: str):
    with pytest.raises(GanscopeError, match=message) as err:
        read_photo(data, 64)
    assert err.value.argument == "photo"


def test_bad_files_and_options_are_clear_errors(session: Session, tmp_path: Path):
    gif = tmp_path / "photo.gif"
    Image.new("RGB", (8, 8)).save(gif)
    with pytest.raises(GanscopeError, match="not a PNG or JPEG"):
        read_photo(gif, 64)
    with pytest.raises(GanscopeError, match="not found"):
        read_photo(tmp_path / "missing.png", 64)
    with pytest.raises(GanscopeError, match=r"photo tensor must be \(3, 64, 64\)"):
        invert(session, torch.zeros(3, 32, 32), layer="layer6")
    with pytest.raises(GanscopeError, match="starts must be in 1..256") as err:
        invert(session, torch.zeros(3, 64, 64), layer="layer6", starts=0)
    assert err.value.argument == "starts"
    with pytest.raises(GanscopeError, match="unknown layer"):
        invert(session, torch.zeros(3, 64, 64), layer="layer66")
    with pytest.raises(GanscopeError, match="no inversion"):
        Inversion.load(tmp_path)


def test_cli_inverts_and_paints_a_photo(tmp_path: Path, photo: torch.Tensor):
    from ganscope.images import save_png

    save_png(tmp_path / "photo.png", photo)
    gen, seg = load_generator("demo"), load_segmenter("demo")
    dissect(gen, seg, ["layer6"], samples=16, seed=0, batch_size=16, progress=False, model_name="demo",
            segmenter_name="demo").save(tmp_path / "results")
    runner = CliRunner()
    run = runner.invoke(app, ["invert", "--image", str(tmp_path / "photo.png"), "--layer", "layer6", "--out",
                              str(tmp_path / "inv"), "--starts", "2", "--search-steps", "2", "--steps", "4",
                              "--adapt-steps", "4"])
    assert run.exit_code == 0, run.output
    assert "step 2 (adapted): PSNR" in run.output and (tmp_path / "inv" / "inversion.safetensors").is_file()
    out = tmp_path / "painted.png"
    run = runner.invoke(app, ["paint-photo", "--inversion", str(tmp_path / "inv"), "--results",
                              str(tmp_path / "results"), "--mode", "remove", "--concept", "tree", "--box",
                              "0,0,32,32", "--out", str(out)])
    assert run.exit_code == 0, run.output
    painted = np.asarray(Image.open(out))
    assert painted.shape == (64, 64, 3) and (tmp_path / "painted-before-after.png").is_file()
    bad = runner.invoke(app, ["invert", "--image", str(tmp_path / "results" / "results.json"), "--layer", "layer6",
                              "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "--image is not a PNG or JPEG" in bad.output and "Traceback" not in bad.output
    nowhere = runner.invoke(app, ["paint-photo", "--inversion", str(tmp_path / "inv"), "--results",
                                  str(tmp_path / "results"), "--mode", "remove", "--concept", "tree"])
    assert nowhere.exit_code == 2 and "--mask" in nowhere.output


@pytest.mark.parametrize("kind", ["proggan", "stylegan2"])
def test_proggan_and_stylegan2_adapters_invert(kind: str):
    if kind == "proggan":
        gen, layer, adapted = randomise(ProgressiveGenerator(SMALL_PROGGAN)), "layer4", "output_16x16"
    else:
        gen, layer, adapted = randomise(StyleGAN2Generator(**SMALL_STYLEGAN2), seed=1), "convs.1", "to_rgbs.2"
    gen = gen.eval().requires_grad_(False)
    session = Session(gen, None)
    size = session.images([0]).shape[-1]
    target = session.images([5])[0].clamp(-1, 1)  # a picture the generator can make
    inversion = invert(session, target, layer=layer, perceptual="none", **FAST)
    assert inversion.generator.space == ("w" if kind == "stylegan2" else "z") and adapted in inversion.generator.adapted
    assert inversion.metrics["step2"]["psnr"] > inversion.metrics["step1"]["psnr"]
    assert inversion.reconstruction().shape == (3, size, size)
    edit = ablation(layer, [0, 1, 2], Region.box(0, 0, size // 2, size // 2, (size, size)))
    assert inversion.edit([edit]).shape == (3, size, size)
