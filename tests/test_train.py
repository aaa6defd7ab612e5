"""Training of the demo generator: recipes, resumable safetensors state, DiffAugment, discriminators."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganscope.checkpoint import load_state, save_state
from ganscope.errors import GanscopeError
from ganscope.models import load_generator
from ganscope.models.demo import DemoDiscriminator, DemoGenerator, StridedDiscriminator
from ganscope.train.augment import cutout, diff_augment, translation
from ganscope.train.demo import TrainConfig, export_generator, train_generator
from ganscope.train.recipes import DIFF_AUGMENT, RECIPES, Recipe, get_recipe

TINY = Recipe(channels=(8, 8, 8, 8, 8), disc="strided", batch=4, r1_every=2, augment=DIFF_AUGMENT,
              projected=True, instance_noise=0.05)


def test_state_round_trips_nested_values_and_key_types(tmp_path: Path):
    net = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 2)).sum().backward()
    opt.step()  # creates per-parameter state under integer keys
    state = {"opt": opt.state_dict(), "step": 7, "cpu": 1.5, "recipe": {"augment": ["colour"], "x": None}}
    back = load_state(save_state(tmp_path / "s.safetensors", state))
    assert back["step"] == 7 and back["cpu"] == 1.5 and back["recipe"] == {"augment": ["colour"], "x": None}
    assert set(back["opt"]["state"]) == {0, 1}
    torch.testing.assert_close(back["opt"]["state"][0]["exp_avg"], state["opt"]["state"][0]["exp_avg"])
    opt.load_state_dict(back["opt"])  # loadable as it is


def test_state_load_errors_are_clear(tmp_path: Path):
    with pytest.raises(GanscopeError, match="not found"):
        load_state(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(GanscopeError, match="cannot read checkpoint"):
        load_state(tmp_path / "junk.safetensors")
    from ganscope.io import save_weights
    save_weights(tmp_path / "w.safetensors", {"a": torch.zeros(1)})
    with pytest.raises(GanscopeError, match="not a ganscope checkpoint"):
        load_state(tmp_path / "w.safetensors")


def test_unknown_recipe_suggests_close_names():
    with pytest.raises(GanscopeError, match="did you mean wide-da"):
        get_recipe("wide-dx")
    assert get_recipe("v1") is RECIPES["v1"]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_translation_shifts_each_image_by_whole_pixels_within_range(seed: int):
    x = torch.arange(2 * 16 * 16, dtype=torch.float32).view(2, 1, 16, 16) + 1  # unique values, 0 = fill
    y = translation(x, torch.Generator().manual_seed(seed))
    for i in range(2):
        rows, cols = torch.nonzero(y[i, 0], as_tuple=True)
        source = (y[i, 0, rows, cols].long() - 1 - i * 256)
        dy, dx = rows - source // 16, cols - source % 16
        assert dy.unique().numel() == dx.unique().numel() == 1  # one rigid shift per image
        assert abs(int(dy[0])) <= 2 and abs(int(dx[0])) <= 2  # ratio 1/8 of 16 px
        assert rows.numel() == (16 - abs(int(dy[0]))) * (16 - abs(int(dx[0])))  # the rest is fill


def test_cutout_zeroes_one_square_of_half_the_side():
    y = cutout(torch.ones(3, 1, 8, 8), torch.Generator().manual_seed(0))
    assert (y == 0).sum(dim=(1, 2, 3)).tolist() == [16, 16, 16]


def test_diff_augment_is_seeded_and_differentiable():
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    a = diff_augment(x, DIFF_AUGMENT, torch.Generator().manual_seed(3))
    b = diff_augment(x, DIFF_AUGMENT, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_strided_discriminator_maps_images_to_logits():
    assert StridedDiscriminator((8, 8, 8, 8, 8))(torch.randn(4, 3, 64, 64)).shape == (4,)


def test_generator_training_resumes_exactly(tmp_path: Path):
    straight = train_generator(TrainConfig(run_dir=tmp_path / "a", steps=3, checkpoint_every=10), TINY)
    cfg = TrainConfig(run_dir=tmp_path / "b", steps=2, checkpoint_every=1, export=tmp_path / "g.safetensors")
    train_generator(cfg, TINY)
    resumed = train_generator(dataclasses.replace(cfg, steps=3), TINY)
    a, b = load_state(straight), load_state(resumed)
    assert a["step"] == b["step"] == 3
    for key in a["ema"]:
        torch.testing.assert_close(a["ema"][key], b["ema"][key], rtol=0, atol=0)
    assert load_generator(f"demo:{tmp_path / 'g.safetensors'}").resolution == 64
    with pytest.raises(GanscopeError, match="another recipe"):
        train_generator(cfg, dataclasses.replace(TINY, lr=1e-3))


def test_cpu_budget_stops_training(tmp_path: Path):
    path = train_generator(TrainConfig(run_dir=tmp_path, steps=10_000), TINY, cpu_seconds=0.01)
    state = load_state(path)
    assert state["step"] == 1 and state["cpu"] > 0.01
    # with both budgets, whichever runs out first
    assert load_state(train_generator(TrainConfig(run_dir=tmp_path / "b", steps=2), TINY, cpu_seconds=1e9))["step"] == 2


def test_export_writes_generator_with_its_widths(tmp_path: Path):
    path = train_generator(TrainConfig(run_dir=tmp_path, steps=1), dataclasses.replace(TINY, channels=(16, 8, 8, 4, 4)))
    export_generator(path, tmp_path / "g.safetensors")
    gen = load_generator(f"demo:{tmp_path / 'g.safetensors'}")
    assert gen.layer10.conv.weight.shape[0] == 4 and gen(torch.randn(1, 128)).shape == (1, 3, 64, 64)


def test_plain_step_sizes_move_effective_weights_as_a_plain_parametrisation_would():
    from ganscope.models.demo import EqualConv2d
    from ganscope.train.demo import _param_groups

    def first_step(equalised: bool) -> float:
        torch.manual_seed(0)
        conv = EqualConv2d(16, 4, 3, padding=1)
        groups = _param_groups([conv], dataclasses.replace(TINY, lr=1e-3, equalised_lr=equalised))
        opt = torch.optim.Adam(groups, betas=(0.5, 0.99))
        before = (conv.weight * conv.scale).detach().clone()
        conv(torch.randn(2, 16, 5, 5)).square().sum().backward()
        opt.step()
        return ((conv.weight * conv.scale).detach() - before).abs().max().item()

    # Adam's first step moves each parameter by lr; a plain weight is the effective one
    assert first_step(equalised=False) == pytest.approx(1e-3, rel=1e-3)
    assert first_step(equalised=True) == pytest.approx(1e-3 / 12, rel=1e-3)  # scale = 1 / sqrt(16 * 9)


def test_recipes_stored_before_a_field_existed_still_match():
    stored = RECIPES["wide-da"].describe()
    del stored["equalised_lr"]
    assert RECIPES["wide-da"].matches(stored) and not RECIPES["wide-da-plain"].matches(stored)


@pytest.mark.parametrize("norm", ["batch", "batch-pixel"])
def test_batch_norm_generator_exports_its_statistics_and_loads_as_trained(tmp_path: Path, norm: str):
    recipe = dataclasses.replace(TINY, generator_norm=norm, projected=False)
    path = train_generator(TrainConfig(run_dir=tmp_path, steps=2), recipe)
    state = load_state(path)
    ema_mean = state["ema"]["layer3.norm.running_mean"]
    torch.testing.assert_close(ema_mean, state["gen"]["layer3.norm.running_mean"])  # copied, not averaged
    assert ema_mean.abs().sum() > 0  # the statistics moved during training
    export_generator(path, tmp_path / "g.safetensors")
    gen = load_generator(f"demo:{tmp_path / 'g.safetensors'}")
    assert gen.layer3.norm is not None and gen.layer3.pixel == (norm == "batch-pixel") and not gen.training
    z = torch.randn(3, 128)
    # running statistics: a sample depends on its latent only (up to the float noise of batched convs)
    torch.testing.assert_close(gen(z)[:1], gen(z[:1]), rtol=0, atol=1e-4)
    trained = DemoGenerator(channels=TINY.channels, norm=norm)
    trained.load_state_dict(state["ema"])
    torch.testing.assert_close(gen(z), trained.eval()(z), rtol=0, atol=0)


@pytest.mark.parametrize("disc", ["strided", "resnet"])
def test_exported_discriminator_loads_with_its_kind_and_widths(tmp_path: Path, disc: str):
    from ganscope.artifacts.sources import load_discriminator

    recipe = dataclasses.replace(TINY, disc=disc, disc_channels=(16, 8, 8, 4, 4), projected=False)
    path = train_generator(TrainConfig(run_dir=tmp_path, steps=1), recipe)
    export_generator(path, tmp_path / "g.safetensors")
    loaded = load_discriminator(f"demo:{tmp_path / 'demo_discriminator.safetensors'}")
    trained = {"strided": StridedDiscriminator, "resnet": DemoDiscriminator}[disc]((16, 8, 8, 4, 4))
    trained.load_state_dict(load_state(path)["disc"]["pixel"])
    images = torch.randn(4, 3, 64, 64)
    torch.testing.assert_close(loaded(images), trained.eval()(images), rtol=0, atol=0)


def test_concept_frequency_term_against_brute_force():
    """of_world counts rendered labels; loss is the mean squared log ratio over the concepts the world has."""
    import numpy as np

    from ganscope.train.concepts import ConceptFrequencies
    from ganscope.world import CONCEPTS, render

    terms = ConceptFrequencies.of_world(seed=5, size=32, scenes=6)
    labels = render(range(6), seed=5, size=32).labels.numpy().ravel()
    world = np.bincount(labels, minlength=len(CONCEPTS)) / labels.size
    np.testing.assert_array_equal(terms.concepts.numpy(), np.flatnonzero(world))
    np.testing.assert_allclose(terms.log_world.exp().numpy(), world[world > 0], rtol=1e-5)
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    soft = terms.segmenter.probabilities(images).detach().numpy()  # (3, concepts, 32, 32)
    q = np.maximum(soft.mean(axis=(0, 2, 3))[world > 0], 1e-6)
    expected = np.mean((np.log(q) - np.log(world[world > 0])) ** 2)
    images.requires_grad_(True)
    loss = terms.loss(images)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-4)
    loss.backward()
    assert images.grad.abs().sum() > 0 and not any(p.requires_grad for p in terms.segmenter.net.parameters())
    # a boost weighs one concept's squared log ratio more: a weighted mean
    cloud = list(np.flatnonzero(world)).index(CONCEPTS.index("cloud"))
    weights = np.ones(q.size)
    weights[cloud] = 4.0
    boosted = ConceptFrequencies.of_world(seed=5, size=32, scenes=6, boost={"cloud": 4.0})
    expected = np.sum(weights * (np.log(q) - np.log(world[world > 0])) ** 2) / weights.sum()
    assert float(boosted.loss(images.detach())) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(GanscopeError, match="cloud"):
        ConceptFrequencies.of_world(seed=5, size=32, scenes=6, boost={"clowd": 4.0})


def test_a_fine_tuning_recipe_continues_its_warm_start_state(tmp_path: Path, monkeypatch):
    """The step and CPU counters carry on, the phases are recorded, and other recipes are still refused."""
    base = dataclasses.replace(TINY, projected=False, augment=())
    tuned = dataclasses.replace(base, concept_weight=0.5, concept_every=1, warm_start="tiny")
    monkeypatch.setitem(RECIPES, "tiny", base)
    train_generator(TrainConfig(run_dir=tmp_path, steps=2), base)
    before = load_state(tmp_path / "generator.safetensors")
    state = load_state(train_generator(TrainConfig(run_dir=tmp_path, steps=3), tuned))
    assert state["step"] == 3 and state["cpu"] > before["cpu"]
    assert [p["from_step"] for p in state["phases"]] == [0, 2]
    assert state["phases"][1]["recipe"]["concept_weight"] == 0.5 and tuned.matches(state["recipe"])
    assert load_state(train_generator(TrainConfig(run_dir=tmp_path, steps=4), tuned))["phases"] == state["phases"]
    with pytest.raises(GanscopeError, match="another recipe"):
        train_generator(TrainConfig(run_dir=tmp_path, steps=5), base)
