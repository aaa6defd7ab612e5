"""The embedded demo: world renderer, shipped weights, resumable training on tiny runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from ganscope.models import load_generator
from ganscope.sampling import latents
from ganscope.segmenters import load_segmenter
from ganscope.train.demo import TrainConfig, train_segmenter
from ganscope.train.evaluate import generator_quality, segmenter_iou
from ganscope.world import CATEGORIES, CONCEPTS, render


def test_world_is_seeded_per_sample_and_labels_every_pixel():
    a = render(range(10), seed=4)
    b = render([7, 8], seed=4)
    assert torch.equal(a.images[7:9], b.images) and torch.equal(a.labels[7:9], b.labels)
    assert a.images.shape == (10, 3, 64, 64) and a.images.min() >= -1 and a.images.max() <= 1
    assert a.labels.min() >= 1 and a.labels.max() < len(CONCEPTS)
    assert len(CONCEPTS) == len(CATEGORIES) and {"object", "part", "material"} <= set(CATEGORIES)
    present = set(torch.unique(render(range(200)).labels).tolist())
    assert present == set(range(1, len(CONCEPTS)))


def test_world_renders_other_sizes():
    assert render([0], size=128).labels.shape == (1, 128, 128)


def test_world_batches_drawn_in_chunks_match_single_renders():
    big = render(range(40), seed=4, size=128)  # 32 scenes of 128 x 128 per chunk
    small = render(range(28, 40), seed=4, size=128)
    assert torch.equal(big.images[28:], small.images) and torch.equal(big.labels[28:], small.labels)


# sha256 of images (float32) and labels (int64) as rendered when the shipped generator and segmenter were trained.
PINNED_RENDERS = [
    (range(32), 0, 64, "7150b6e6cc224c7244d4e538d036d7417256d1e08b00de12cd72f67441753b2a",
     "dc3a53c0c12cff119b200d8f0f302f683b64fd778376838f01201bcef9364b88"),
    ([0, 5, 977, 4096], 1, 32, "6b383bba92921b9c403dd011d0d375d5d0ab7f5f6d94903964512356503bdf11",
     "95f89634d5846b28b7ec351b406d78d164a3f13f2dd02939a76c0bbee595e401"),
    ([3], 2, 128, "4066ef4b508b27124d63e830c28ad7f698da945409edb1a54975b7dffc67d803",
     "035d93536ad74e3a505090291bef841b391a14f67dca76df0a04986549c3eda6"),
]


@pytest.mark.parametrize(("indices", "seed", "size", "images_sha", "labels_sha"), PINNED_RENDERS)
def test_world_output_is_pinned(indices, seed, size, images_sha, labels_sha):
    """The world is the demo models' training data: any change to a render, even one bit, must be deliberate.

    Labels are integers and should never drift; images also depend on torch's CPU randn (sensor noise),
    so a torch upgrade that changes randn shows up here too, as a change of the training distribution.
    """
    scenes = render(indices, seed=seed, size=size)
    assert scenes.images.dtype == torch.float32 and scenes.labels.dtype == torch.int64
    assert hashlib.sha256(scenes.labels.numpy().tobytes()).hexdigest() == labels_sha
    assert hashlib.sha256(scenes.images.numpy().tobytes()).hexdigest() == images_sha


def test_shipped_generator_is_deterministic_and_in_range():
    gen = load_generator("demo")
    z = latents(0, range(4), gen.latent_shape)
    with torch.no_grad():
        a, b = gen(z), gen(z)
    assert torch.equal(a, b) and a.shape == (4, 3, 64, 64)
    assert a.min() >= -1 and a.max() <= 1 and a.std() > 0.1
    assert [f"layer{i}" for i in range(1, 11)] == [n for n, _ in gen.named_children() if n.startswith("layer")]


def test_shipped_generator_draws_the_world():
    """The model card's figures, cheaply: 200 samples (the card, on 1,000: KID 0.00025, every concept within 20 %)."""
    figures = generator_quality(load_generator("demo"), load_segmenter("demo"), samples=200)
    assert figures["kid_generated_vs_world"] < 0.002  # the card's target (on 1,000 samples)
    errors = {c: figures["frequencies"][c]["relative_error"] for c in ("building", "roof", "dome", "door", "window")}
    assert all(abs(e) < 0.35 for e in errors.values()), errors  # v1: building -47 %, roof -54 %, dome -63 %


def test_shipped_segmenter_reads_held_out_renders():
    figures = segmenter_iou(load_segmenter("demo"), samples=20, batch=20)
    assert figures["mean_iou_common"] > 0.9


def test_segmenter_training_runs(tmp_path: Path):
    train_segmenter(TrainConfig(run_dir=tmp_path, steps=2, batch=2, export=tmp_path / "s.safetensors"))
    assert load_segmenter(f"demo:{tmp_path / 's.safetensors'}").segment(render([0]).images).shape == (1, 64, 64)
