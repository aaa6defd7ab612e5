"""Interventions checked against brute-force computations on the synthetic world and a random demo generator."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import stats
from typer.testing import CliRunner

import synthetic
from ganscope.cli import app
from ganscope.errors import GanscopeError
from ganscope.intervene import (
    Intervention,
    Region,
    ablate,
    ablation,
    ace,
    compare_rankings,
    context,
    insert,
    insertion,
    insertion_values,
    mask_iou,
    optimise_alpha,
    rank_by_mask,
    removal_curve,
)
from ganscope.intervene.confidence import mean_ci, t_quantile
from ganscope.intervene.optimize import _straight_through
from ganscope.models.demo import DemoGenerator
from ganscope.results import Results
from ganscope.resume import ProtocolResumer, SequentialResumer, TraceResumer, resumer
from ganscope.sampling import latents
from ganscope.session import Cut, Session
from ganscope.stats import upsample
from ganscope.trace import Trace

SPECS = ["--model", "synthetic:make_generator", "--segmenter", "synthetic:make_segmenter"]


def onehot(z: torch.Tensor) -> torch.Tensor:
    return synthetic.OneHotCells()(z)


def expected_labels(z: torch.Tensor, drop: int | None = None) -> np.ndarray:
    """Brute force: the synthetic scene's labels at 32 x 32, with concept ``drop`` painted as background."""
    cells = onehot(z).argmax(1).numpy()
    if drop is not None:
        cells = np.where(cells == drop, 0, cells)
    return cells.repeat(8, axis=1).repeat(8, axis=2)


@pytest.fixture
def lab(generator, segmenter) -> Cut:
    return Session(generator, segmenter, seed=0, batch_size=8).at("layer1")


def small_demo() -> DemoGenerator:
    torch.manual_seed(0)
    return DemoGenerator(latent=16, channels=(8, 8, 6, 4, 4)).eval().requires_grad_(False)


# -- regions ---------------------------------------------------------------------------------------------------


def test_region_cells_match_block_coverage():
    rng = np.random.default_rng(0)
    mask = rng.random((32, 32)) < 0.5
    cells = Region.from_array(mask).cells(8, 8).numpy()
    blocks = mask.reshape(8, 4, 8, 4).mean(axis=(1, 3))
    np.testing.assert_array_equal(cells, (blocks >= 0.5).astype(np.float32))


def test_box_region_maps_exactly():
    cells = Region.box(8, 4, 24, 16, (32, 32)).cells(8, 8).numpy()
    expected = np.zeros((8, 8), np.float32)
    expected[1:4, 2:6] = 1
    np.testing.assert_array_equal(cells, expected)


def test_region_png_and_wrong_sizes(tmp_path):
    mask = np.zeros((64, 64), np.uint8)
    mask[:32, :32] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    with pytest.warns(UserWarning, match="resized"):
        region = Region.from_png(tmp_path / "m.png", (32, 32))
    assert region.mask.shape == (32, 32) and region.mask[:16, :16].all() and region.mask.sum() == 256
    with pytest.raises(GanscopeError, match="paint the mask on the image"):
        Region.from_array(np.ones((32, 48)), (32, 32))
    with pytest.raises(GanscopeError, match="empty"):
        Region.from_array(np.zeros((32, 32)))
    with pytest.raises(GanscopeError, match="covers no"):
        Region.box(0, 0, 1, 1, (32, 32)).cells(8, 8)
    with pytest.raises(GanscopeError, match="outside"):
        Region.box(0, 0, 40, 8, (32, 32))


# -- edits on the synthetic generator ---------------------------------------------------------------------------


def test_ablating_all_units_gives_the_background_image(generator):
    images = ablate(Session(generator).at("layer1"), range(6), samples=6).edited
    expected = synthetic.PALETTE[0][None, :, None, None].expand(6, 3, 32, 32)
    torch.testing.assert_close(images, expected, rtol=0, atol=0)


@pytest.mark.parametrize("unit", range(synthetic.K))
def test_ablating_unit_k_removes_exactly_concept_k_plus_1(generator, segmenter, unit):
    z = latents(0, range(8), generator.latent_shape)
    labels = segmenter.segment(ablate(Session(generator).at("layer1"), [unit], samples=8).edited).numpy()
    np.testing.assert_array_equal(labels, expected_labels(z, drop=unit + 1))


def test_region_edit_changes_only_the_region(generator, segmenter):
    z = latents(1, range(8), generator.latent_shape)
    region = Region.box(8, 8, 24, 16, (32, 32))
    edited = insert(Session(generator, seed=1).at("layer1"), [2], 1.0, region=region, samples=8).edited
    labels = segmenter.segment(edited).numpy()
    before = expected_labels(z)
    inside = np.zeros((32, 32), bool)
    inside[8:16, 8:24] = True
    np.testing.assert_array_equal(labels[:, ~inside], before[:, ~inside])
    background = inside[None] & (before == 0)  # gamma on background paints gamma
    assert background.any() and (labels[background] == 3).all()


def test_region_edit_leaves_pixels_outside_the_receptive_field_unchanged():
    """Random demo generator: pixels that do not depend on the region (zero JVP) keep their value exactly."""
    gen = small_demo()
    z = latents(0, range(2), gen.latent_shape)
    region = Region.box(16, 16, 24, 24, (64, 64))
    for layer in ("layer3", "layer6"):
        resume = resumer(gen, layer)
        prefix = resume.prepare(z)
        cells = region.cells(*prefix.acts.shape[2:])
        tangent = torch.randn_like(prefix.acts) * cells
        _, jvp = torch.func.jvp(lambda a, p=prefix, r=resume: r.finish(p, a), (prefix.acts,), (tangent,))
        depends = (jvp != 0).any(1)
        edited = resume.finish(prefix, ablation(layer, range(prefix.acts.shape[1]), region)(prefix.acts))
        changed = (edited != resume.finish(prefix, prefix.acts)).any(1)
        assert 0 < depends.float().mean() < 0.6
        assert not (changed & ~depends).any()
        assert changed.any()


# -- resuming from a layer ------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", [f"layer{i}" for i in range(1, 11)])
def test_demo_resume_equals_full_forward_with_the_same_edit(layer):
    gen = small_demo()
    z = latents(3, range(3), gen.latent_shape)
    region = Region.box(0, 0, 40, 24, (64, 64))
    edit = insertion(layer, [0, 2], torch.tensor([3.0, -1.0]), region)
    fast = resumer(gen, layer)
    assert isinstance(fast, ProtocolResumer)
    prefix = fast.prepare(z)
    with Trace(gen, layer, edit=edit):
        full = gen(z)
    torch.testing.assert_close(fast.finish(prefix, edit(prefix.acts)), full, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fast.finish(prefix, prefix.acts), gen(z), rtol=1e-5, atol=1e-6)
    generic = resumer(gen, layer, generic=True)
    assert isinstance(generic, TraceResumer)
    torch.testing.assert_close(generic.finish(generic.prepare(z), edit(prefix.acts)), full, rtol=1e-5, atol=1e-6)


def test_sequential_resume_equals_full_forward():
    torch.manual_seed(0)
    gen = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    z = torch.randn(5, 4)
    edit = ablation("1", [1, 5])
    fast = resumer(gen, "1")
    assert isinstance(fast, SequentialResumer)
    with Trace(gen, "1", edit=lambda a: edit(a[:, :, None, None])[:, :, 0, 0]):
        full = gen(z)
    prefix = fast.prepare(z)
    torch.testing.assert_close(fast.finish(prefix, edit(prefix.acts[:, :, None, None])[:, :, 0, 0]), full)


def test_insertion_then_ablation_is_reproducible(generator):
    session = Session(generator, seed=5)
    cut = session.at("layer1")
    first = insert(cut, [1], 2.0, samples=4).edited, ablate(cut, [1], samples=4).edited
    second = insert(cut, [1], 2.0, samples=4).edited, ablate(cut, [1], samples=4).edited
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_bad_unit_sets(generator):
    session = Session(generator)
    with pytest.raises(GanscopeError, match="unit 6 is out of range: layer 'layer1' has 6 units"):
        ablate(session.at("layer1"), [0, 6], samples=2)
    with pytest.raises(GanscopeError, match="empty"):
        ablate(session.at("layer1"), [], samples=2)
    with pytest.raises(GanscopeError, match="3 insertion values for 2 units"):
        Intervention("layer1", [0, 1], torch.ones(3))(torch.zeros(1, 6, 8, 8))


def test_blend_formula():
    acts = torch.randn(2, 4, 3, 3)
    alpha = torch.tensor([0.0, 0.25, 1.0, 0.5])
    k = torch.tensor([1.0, 2.0, 3.0, 4.0])
    out = Intervention("x", range(4), k, alpha=alpha)(acts)
    torch.testing.assert_close(out, (1 - alpha[:, None, None]) * acts + (alpha * k)[:, None, None])


# -- statistics ----------------------------------------------------------------------------------------------


def test_insertion_values_come_from_the_results(small_results):
    res = Results.load(small_results)
    units = res.layers["layer1"].units
    assert insertion_values(res, "layer1", [3, 0]).tolist() == pytest.approx([units[3].insertion_value,
                                                                              units[0].insertion_value])
    assert insertion_values(res, "layer1", [2], "mean+3std").item() == pytest.approx(units[2].mean + 3 * units[2].std)
    with pytest.raises(GanscopeError, match="not dissected"):
        insertion_values(res, "layer9", [0])
    with pytest.raises(GanscopeError, match="unknown insertion value rule"):
        insertion_values(res, "layer1", [0], "max")


@pytest.mark.parametrize("df", [1, 2, 3, 7, 30, 499])
def test_t_quantile_matches_scipy(df):
    assert t_quantile(0.95, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-9)


def painted_label(cell: int, inserted: int) -> int:
    """Brute force: the label read back where the unit of concept ``inserted`` is 1 on a cell labelled ``cell``."""
    p = synthetic.PALETTE
    colour = p[inserted] + (p[cell] - p[0] if cell not in (0, inserted) else 0)
    return int(((p - colour) ** 2).sum(1).argmin())


def test_ace_arithmetic_and_interval_against_brute_force(lab):
    unit, samples = 1, 24  # unit 1 draws concept 2, beta
    cells = onehot(latents(0, range(samples), (16,))).argmax(1).numpy()  # each cell: 8 x 8 pixels
    base = (cells == unit + 1).mean(axis=(1, 2))
    ablated = np.zeros(samples)
    after = np.array([painted_label(c, unit + 1) for c in range(5)])
    inserted = (after[cells] == unit + 1).mean(axis=(1, 2))
    result = ace(lab, [unit], "beta", samples=samples, values=1.0)
    assert result.baseline == pytest.approx(base.mean(), abs=1e-9)
    assert result.ablated == pytest.approx(ablated.mean(), abs=1e-9)
    assert result.inserted == pytest.approx(inserted.mean(), abs=1e-9)
    d = inserted - ablated
    half = stats.t.ppf(0.975, samples - 1) * d.std(ddof=1) / np.sqrt(samples)
    assert result.ace == pytest.approx(d.mean(), abs=1e-9)
    assert result.ace_ci == pytest.approx([d.mean() - half, d.mean() + half], abs=1e-9)
    lo, hi = stats.t.interval(0.95, samples - 1, loc=base.mean(), scale=stats.sem(base))
    assert result.ablation_ci == pytest.approx([lo, hi], abs=1e-9)
    assert mean_ci(torch.tensor([0.5])) == (0.5, [0.5, 0.5])


def test_ace_in_a_region_counts_region_pixels_only(lab):
    region = Region.box(0, 0, 16, 16, (32, 32))
    result = ace(lab, [0], "alpha", samples=10, values=1.0, region=region)
    cells = onehot(latents(0, range(10), (16,))).argmax(1).numpy()[:, :2, :2]
    assert result.baseline == pytest.approx((cells == 1).mean(), abs=1e-9)
    assert result.ablated == 0.0


def test_removal_curve(lab):
    curve = removal_curve(lab, [2, 0, 1, 3, 4, 5], "gamma", samples=12, sizes=(1, 2, 4, 8))
    assert [p.n for p in curve.points] == [1, 2, 4, 6]
    cells = onehot(latents(0, range(12), (16,))).argmax(1).numpy()
    assert curve.baseline == pytest.approx((cells == 3).mean(), abs=1e-9)
    assert all(p.drop == pytest.approx(1.0) and p.ablated == 0.0 for p in curve.points)


# -- optimised units, mask ranking, context --------------------------------------------------------------------


def test_optimised_alpha_finds_the_concept_unit(lab):
    result = optimise_alpha(lab, "gamma", values=torch.ones(6), samples=8, steps=40)
    assert result.ranking[0] == 2
    assert result.alpha[2] > 0.9 and len(result.losses) == 40
    with pytest.raises(GanscopeError, match="probabilities"):
        optimise_alpha(Session(lab.session.generator, _HardOnly()).at("layer1"), "gamma", values=torch.ones(6),
                       samples=4, steps=1)


def test_a_sized_set_is_trained_as_the_hard_top_n(lab):
    """size=n: each step applies exactly n units at full strength; the concept's unit comes out on top."""
    result = optimise_alpha(lab, "gamma", values=torch.ones(6), samples=8, steps=30, mode="ablate", size=1, lr=0.1)
    assert result.ranking[0] == 2 and result.size == 1 and result.penalty == 0.0
    alpha = torch.tensor([0.2, 0.9, 0.5, 0.1], requires_grad=True)
    mask = _straight_through(alpha, 2)
    assert mask.tolist() == [0.0, 1.0, 1.0, 0.0]
    (mask * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert alpha.grad.tolist() == [1.0, 2.0, 3.0, 4.0]  # straight through: the upstream gradient, unchanged
    with pytest.raises(GanscopeError, match="size or penalty") as err:
        optimise_alpha(lab, "gamma", values=torch.ones(6), samples=4, steps=1, size=2, penalty=0.1)
    assert err.value.argument == "penalty"
    with pytest.raises(GanscopeError, match="between 1 and the layer's 6 units"):
        optimise_alpha(lab, "gamma", values=torch.ones(6), samples=4, steps=1, size=7)


def test_ablation_comparison_reports_pixels_removed_against_brute_force(lab):
    """Ablating gamma's unit removes every gamma pixel: the removed fraction equals the baseline."""
    z = latents(0, range(8, 16), lab.session.generator.latent_shape)
    baseline = (expected_labels(z) == 3).mean()
    comp = compare_rankings(lab, "gamma", samples=8, values=torch.ones(6), alpha_ranking=[2, 0, 1],
                            iou_ranking=[0, 1, 2], sizes=[1, 3], start=8, mode="ablate")
    assert comp.measure == "removed" and comp.baseline == pytest.approx(baseline)
    assert comp.alpha_effect == pytest.approx([baseline, baseline]) and comp.iou_effect == pytest.approx([0, baseline])
    assert compare_rankings(lab, "gamma", samples=8, values=torch.ones(6), alpha_ranking=[2], iou_ranking=[0],
                            sizes=[1], start=8).measure == "ace"


class _HardOnly(synthetic.SyntheticSegmenter):
    probabilities = None


def test_mask_iou_against_numpy(lab):
    (_, prefix), = lab.prefixes([4])
    rng = np.random.default_rng(1)
    mask = rng.random((32, 32)) < 0.3
    scores = mask_iou(prefix.acts[0], torch.from_numpy(mask), quantile=0.05).numpy()
    up = upsample(prefix.acts[0], (32, 32)).reshape(6, -1).numpy()
    for u in range(5):  # unit 5 is dead: constant units score 0
        active = up[u] >= np.quantile(up[u], 0.95)
        union = (active | mask.ravel()).sum()
        assert scores[u] == pytest.approx((active & mask.ravel()).sum() / union, abs=1e-6)
    assert scores[5] == 0


def test_rank_by_mask_finds_the_painted_concept(lab):
    z = latents(0, [4], (16,))
    target = int(np.bincount(expected_labels(z)[0].ravel(), minlength=5)[1:].argmax()) + 1
    mask = torch.from_numpy(expected_labels(z)[0] == target)
    ranking = rank_by_mask(lab, mask, quantile=0.01, sizes=(1, 4), start=4)
    images = ranking.images
    assert ranking.ranking[0] == target - 1
    assert images.shape == (3, 3, 32, 32)
    labels = lab.labels(images[1:2]).numpy()
    assert not (labels == target).any()
    with pytest.raises(GanscopeError, match="mask is"):
        rank_by_mask(lab, mask[:16], sizes=(1,), start=4)


def test_context_success_depends_on_what_is_there(lab):
    """Inserting alpha (red) on beta (green) paints yellow = delta: it fails there, works on background."""
    result = context(lab, [0], "alpha", values=1.0, samples=8, tile=2)  # a tile is one scene cell
    cells = onehot(latents(0, range(8), (16,))).argmax(1).numpy().ravel()
    after = np.array([painted_label(c, 1) for c in range(5)])
    for row in result.rows:
        label = synthetic.CONCEPTS.index(row.before)
        assert row.trials == (cells == label).sum()
        assert row.rate == float(after[label] == 1)
    assert {r.before for r in result.rows if r.rate == 0} == {"beta", "delta"}
    with pytest.raises(GanscopeError, match="^tile must be between") as err:
        context(lab, [0], "alpha", values=1.0, samples=1, tile=9)
    assert err.value.argument == "tile"
    code, output = run("context", "--layer", "layer1", "--concept", "alpha", "--units", "0", "--value", "1",
                       "--samples", "1", "--tile", "9")
    assert code == 2 and "--tile must be between" in output  # the CLI names its flag


def test_unknown_concept_lists_the_known_ones(lab):
    with pytest.raises(GanscopeError, match="unknown concept 'door'; concepts are: alpha, beta, gamma, delta"):
        ace(lab, [0], "door", samples=4, values=1.0)


# -- CLI -------------------------------------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, *SPECS, "--device", "cpu"])
    return result.exit_code, result.output


def test_cli_ace_json_is_alone_on_stdout(small_results, tmp_path):
    args = ["ace", *SPECS, "--layer", "layer1", "--concept", "gamma", "--top", "1", "--results", str(small_results),
            "--samples", "10", "--json", "--curve", "--out", str(tmp_path), "--device", "cpu"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)  # the tables went to stderr
    assert {"concept", "layer", "units", "samples", "baseline", "ablated", "inserted", "ace", "ace_ci"} <= set(data)
    assert data["units"] == [2] and data["ablated"] == 0.0 and data["samples"] == 10
    assert json.loads((tmp_path / "curve.json").read_text())["points"][0]["drop"] == pytest.approx(1.0)
    assert (tmp_path / "curve.png").is_file()


def test_cli_commands_write_their_outputs(small_results, tmp_path):
    res = ["--results", str(small_results)]
    mask = np.zeros((32, 32), np.uint8)
    mask[:16] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    runs = [
        ("ablate.png", ["ablate", "--layer", "layer1", "--units", "0,1", "--samples", "3", "--box", "0,0,16,16"]),
        ("insert.png", ["insert", "--layer", "layer1", "--top", "2", "--concept", "beta", *res, "--samples", "2"]),
        ("optimize.json", ["optimize", "--layer", "layer1", "--concept", "beta", *res, "--samples", "8",
                           "--held-out", "4", "--steps", "20", "--sizes", "1,2"]),
        ("ranking.json", ["rank-mask", "--layer", "layer1", "--mask", str(tmp_path / "mask.png"), "--index", "2"]),
        ("rank-mask.png", ["rank-mask", "--layer", "layer1", "--mask", str(tmp_path / "mask.png"), *res]),
        ("curve.json", ["ace", "--layer", "layer1", "--concept", "beta", "--units", "1", *res, "--samples", "4",
                        "--mask", str(tmp_path / "mask.png"), "--curve"]),
        ("context.json", ["context", "--layer", "layer1", "--concept", "alpha", "--units", "0", "--value", "1",
                          "--samples", "4"]),
    ]
    for name, args in runs:
        code, output = run(*args, "--out", str(tmp_path / name))
        assert code == 0, output
        assert (tmp_path / name / name).is_file()
    assert json.loads((tmp_path / "optimize.json" / "optimize.json").read_text())["ranking"][0] == 1
    assert len(json.loads((tmp_path / "ranking.json" / "ranking.json").read_text())["ranking"]) == 6


@pytest.mark.parametrize(("args", "message"), [
    (["--units", "0,99", "--value", "1"], "unit 99 is out of range"),
    (["--units", ",", "--value", "1"], "unit set is empty"),
    (["--units", "x"], "comma-separated integers"),
    (["--top", "2"], "--top needs --results"),
    (["--units", "0"], "needs --results"),
    (["--units", "0", "--value", "1", "--mask", "MASK"], "paint the mask on the image"),
    (["--units", "0", "--value", "1", "--concept", "door"], "unknown concept 'door'; concepts are: alpha"),
    (["--top", "1", "--results", "MISSING"], "no results.json"),
])
def test_cli_bad_input_exits_2(tmp_path, args, message):
    Image.fromarray(np.full((32, 48), 255, np.uint8)).save(tmp_path / "mask.png")
    args = [{"MASK": str(tmp_path / "mask.png"), "MISSING": str(tmp_path / "none")}.get(a, a) for a in args]
    if "--concept" not in args:
        args += ["--concept", "alpha"]
    code, output = run("ace", "--layer", "layer1", "--samples", "4", *args)
    assert code == 2, output
    assert message in output.replace("\n", " ")
