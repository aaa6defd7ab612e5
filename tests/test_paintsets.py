"""Paint sets: spots, the benchmark's figures and the chosen sets, checked against direct computations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import synthetic
from ganscope.edits import Intervention
from ganscope.errors import GanscopeError
from ganscope.intervene.confidence import ratio_ci, wilson
from ganscope.painting import Palette
from ganscope.paintsets import PaintSets, compute_paint_sets
from ganscope.paintsets.measure import DRAW_GAIN, DRAW_SHARE, draw_trials, removed_share
from ganscope.paintsets.spots import Context, candidate_centres, dab_mask, disc, learned_contexts, remove_mask
from ganscope.paintsets.train import concept_levels
from ganscope.regions import pooled
from ganscope.results import Results
from ganscope.session import Session

NAMES = ["-", "a", "b", "c"]
TINY = {"layers": ["layer1", "layer2"], "sizes": [1, 2], "steps": 15, "samples": 16, "selection": 8}


def session() -> Session:
    return Session(synthetic.make_generator(), synthetic.make_segmenter(), seed=0, batch_size=8)


def copy_results(small_results: Path, tmp_path: Path) -> Results:
    shutil.copytree(small_results, tmp_path / "r")
    return Results.load(tmp_path / "r")


labels_st = st.integers(1, 3).flatmap(lambda b: st.lists(st.integers(0, 3), min_size=b * 144, max_size=b * 144).map(
    lambda v: torch.tensor(v).view(-1, 12, 12)))


@settings(max_examples=30, deadline=None)
@given(labels_st, st.sampled_from(["on", "top"]), st.floats(1.0, 3.5))
def test_candidate_centres_match_brute_force(labels: torch.Tensor, placement: str, radius: float):
    context = Context(("b", "c"), placement)
    got = candidate_centres(labels, 1, context, NAMES, radius)
    b, h, w = labels.shape
    r, half = int(np.ceil(radius)), int(np.ceil(radius / 2))
    for k in range(b):
        on = (labels[k] == 2) | (labels[k] == 3)
        for y in range(h):
            for x in range(w):
                dab = dab_mask((y, x), (h, w), radius)
                area = disc(radius).sum().item()  # shares count the whole disc, also outside the image
                share_on = (on & dab).sum().item() / area
                share_c = ((labels[k] == 1) & dab).sum().item() / area
                if placement == "on":
                    ok = bool(on[y, x]) and share_on >= 0.5
                else:
                    above = y == 0 or bool(on[y - 1, x]) or labels[k, y - 1, x] == 1
                    ok = bool(on[y, x]) and not above and share_on >= 0.25
                ok = ok and half <= y < h - half and half <= x < w - half and share_c < 0.5
                assert bool(got[k, y, x]) == ok, (k, y, x, r)


def test_remove_mask_is_the_grown_concept():
    labels = torch.zeros(1, 9, 9, dtype=torch.long)
    labels[0, 4, 4] = 2
    mask = remove_mask(labels, 2, margin=2)[0]
    ys, xs = torch.nonzero(mask, as_tuple=True)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (2, 6, 2, 6) and mask.sum() == 25


def test_learned_context_is_the_most_common_neighbour():
    labels = torch.full((1, 10, 10), 1)
    labels[0, 4:6, 4:6] = 2  # a "b" blob in "a"
    labels[0, 0, :] = 3
    assert learned_contexts(labels, NAMES)["b"] == Context(("a",), avoid=("c",))  # c: common, never beside b


def test_wilson_and_ratio_intervals():
    lo, hi = wilson(7, 10)
    assert lo == pytest.approx(0.3968, abs=1e-3) and hi == pytest.approx(0.8922, abs=1e-3)  # textbook values
    ratio, (lo, hi) = ratio_ci(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 2.0, 4.0]))
    assert ratio == pytest.approx(6 / 8) and lo <= ratio <= hi


def test_concept_levels_are_means_over_covered_cells():
    s = session()
    levels = concept_levels(s.at("layer1"), range(16))
    acts, images = s.observe(list(range(16)), ["layer1"])
    labels = s.labels(images)
    share = torch.nn.functional.adaptive_avg_pool2d(
        torch.nn.functional.one_hot(labels, 5).permute(0, 3, 1, 2).float(), (8, 8))
    for c in range(1, 5):
        cells = share[:, c] >= 0.5
        expected = acts["layer1"].permute(1, 0, 2, 3)[:, cells].mean(1)
        assert torch.allclose(levels[c], expected, atol=1e-6)
    assert levels[1][0] == pytest.approx(1.0)  # unit 0 draws "alpha" at 1


def test_draw_and_remove_figures_match_a_direct_count():
    """In the synthetic world unit k paints concept k + 1: the benchmark's figures, counted by hand."""
    s = session()
    indices = list(range(8))
    labels = s.labels(s.images(indices))
    context = Context(("beta",))

    def painter(concept: str, mode: str, mask: np.ndarray) -> Intervention:
        return Intervention("layer1", [0], 1.0 if mode == "draw" else None, pooled(mask))

    draws, _ = draw_trials(s, painter, "alpha", context, indices, None, labels)
    expected = []
    ok = candidate_centres(labels, 1, context, s.concepts)
    for k, i in enumerate(indices):
        ys, xs = torch.nonzero(ok[k], as_tuple=True)
        if len(ys):
            pick = int(np.random.default_rng([0, i, __import__("zlib").crc32(b"alpha")]).integers(len(ys)))
            mask = dab_mask((int(ys[pick]), int(xs[pick])), (32, 32))
            after = s.labels(s.images([i], edits=[painter("alpha", "draw", mask.numpy())]))[0]
            share, was = (after[mask] == 1).float().mean(), (labels[k][mask] == 1).float().mean()
            expected.append(bool(share >= DRAW_SHARE and share - was >= DRAW_GAIN))
    assert draws == expected and len(draws) > 0
    assert removed_share(s, painter, "alpha", indices, labels) == pytest.approx(1.0)  # unit 0 off: no alpha left


def test_compute_paint_sets_finds_the_causal_unit_and_resumes(small_results: Path, tmp_path: Path):
    results = copy_results(small_results, tmp_path)
    s = session()
    sets = compute_paint_sets(s, results, out=results.directory, **TINY)
    draw = sets.get("alpha", "draw")
    assert draw.layer == "layer1" and draw.units[0] == 0 and draw.score == 1.0  # layer2 does not reach the image
    assert sets.complete and len(sets.sets) == 2 * len(sets.sets) // 2
    first = json.loads((results.directory / "paint_sets.json").read_text())
    # an interrupted run: keep the first button only, re-run, and get the same file
    partial = dict(first, sets=first["sets"][:1], complete=False)
    (results.directory / "paint_sets.json").write_text(json.dumps(partial))
    again = compute_paint_sets(s, results, out=results.directory, **TINY)
    assert again.model_dump() == sets.model_dump()


def test_palette_uses_the_sets_and_refuses_stale_ones(small_results: Path, tmp_path: Path):
    results = copy_results(small_results, tmp_path)
    s = session()
    assert Palette.of(s, results).note is not None  # no sets yet: the IoU fallback says so
    compute_paint_sets(s, results, out=results.directory, **TINY)
    palette = Palette.of(s, results)
    assert palette.note is None and palette.button("alpha", "draw").source == "paint set"
    edit = palette.edit("draw", None, concept="alpha")
    chosen = palette.sets.get("alpha", "draw")
    assert (edit.layer, edit.units, edit.values.tolist()) == (chosen.layer, chosen.units, pytest.approx(chosen.levels))
    assert palette.edit("draw", None, concept="alpha", top=2).units == results.top_units(palette.layer, "alpha", 2)
    path = results.directory / "paint_sets.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps(dict(data, weights="0123456789abcdef")))
    with pytest.raises(GanscopeError, match="other weights.*ganscope paint-sets"):
        Palette.of(s, results)


@pytest.mark.parametrize("corrupt, message", [
    (lambda d: "{not json", "cannot read paint sets"),
    (lambda d: json.dumps(dict(d, schema_version=99)), "schema version 99"),
    (lambda d: json.dumps(dict(d, sets=[dict(d["sets"][0], levels=[])])), "levels"),
    (lambda d: json.dumps(dict(d, extra=1)), "extra"),
    (lambda d: json.dumps(dict(d, sets=[dict(d["sets"][0], units=[99])])), "units this model does not have"),
])
def test_corrupt_paint_sets_are_refused(small_results: Path, tmp_path: Path, corrupt, message: str):
    results = copy_results(small_results, tmp_path)
    s = session()
    sets = compute_paint_sets(s, results, out=results.directory, **dict(TINY, sizes=[1], layers=["layer1"]))
    path = results.directory / "paint_sets.json"
    path.write_text(corrupt(sets.model_dump(mode="json")))
    with pytest.raises(GanscopeError, match=message):
        Palette.of(s, results)


def test_bad_settings_name_the_argument(small_results: Path, tmp_path: Path):
    results = copy_results(small_results, tmp_path)
    with pytest.raises(GanscopeError) as err:
        compute_paint_sets(session(), results, layers=["layer1"], sizes=[9])
    assert err.value.argument == "sizes"
    with pytest.raises(GanscopeError, match="was not dissected; layers are: layer1, layer2"):
        compute_paint_sets(session(), results, layers=["layer9"])


@pytest.mark.slow
def test_the_demo_sets_beat_the_iou_ranking_for_trees_on_grass():
    """The shipped demo sets against the old default (IoU top 20 of layer6, ranked and valued on a 1000-sample
    dissection as `make demo` makes it), on held-out samples."""
    from dissecting import dissect
    from ganscope.models import DEMO_PAINT_SETS
    from ganscope.models import load_generator as gen_of
    from ganscope.paintsets import WORLD_CONTEXTS, benchmark
    from ganscope.segmenters import load_segmenter

    gen, seg = gen_of("demo"), load_segmenter("demo")
    results = dissect(gen, seg, ["layer4", "layer6"], samples=1000, seed=0, batch_size=16, progress=False,
                      model_name="demo", segmenter_name="demo")
    s = Session(gen, seg, seed=0)
    shipped = PaintSets.load(DEMO_PAINT_SETS)
    grids = {name: tuple(r.shape[1:]) for name, r in results.layers.items()}
    scores = {}
    for name, palette in (("sets", Palette.of(s, results, sets=shipped)), ("iou", Palette.of(s, results, sets=None,
                                                                                            layer="layer6"))):
        def painter(concept: str, mode: str, mask: np.ndarray, palette: Palette = palette) -> Intervention:
            return palette.edit(mode, pooled(mask), concept=concept)

        scores[name] = benchmark(s, painter, {"tree": WORLD_CONTEXTS["tree"]}, range(300, 324), grids)[0]
    assert scores["sets"].draw_trials >= 10
    assert scores["sets"].draw_success >= scores["iou"].draw_success + 0.5
    assert scores["sets"].removed >= scores["iou"].removed


def test_the_two_region_rules_differ_as_documented():
    """A 1-pixel-wide stroke: a brush region (PooledRegion) edits every cell it touches; a mask region (Region)
    only cells it covers by half, so the same thin mask edits nothing there and says so."""
    from ganscope.regions import Region

    mask = np.zeros((32, 32), bool)
    mask[10, 4:28] = True
    cells = pooled(mask).cells(8, 8)
    assert cells[2, 1:7].all() and cells.sum() == 6
    with pytest.raises(GanscopeError, match="covers no 8x8 feature cell by at least 50%"):
        Region.from_array(mask).cells(8, 8)
    block = np.zeros((32, 32), bool)
    block[8:12, 4:10] = True  # covers cell (2, 1) whole and half of cell (2, 2)
    assert Region.from_array(block).cells(8, 8).sum() == 2 and pooled(block).cells(8, 8).sum() == 2
    block[8:12, 4:9] = True
    block[8:12, 9] = False  # a quarter of cell (2, 2): the brush edits it, the mask rule does not
    assert Region.from_array(block).cells(8, 8).sum() == 1 and pooled(block).cells(8, 8).sum() == 2


def test_cli_defaults_are_the_library_defaults():
    """``ganscope paint-sets`` with no options computes what ``compute_paint_sets`` does with its defaults."""
    import inspect

    from ganscope.commands.paintsets import paint_sets
    from ganscope.paintsets import choose

    cli = {name: p.default.default if hasattr(p.default, "default") else p.default
           for name, p in inspect.signature(paint_sets).parameters.items()}
    lib = inspect.signature(choose.compute_paint_sets).parameters
    assert cli["selection"] == lib["selection"].default == choose.SELECTION_SAMPLES
    assert cli["samples"] == lib["samples"].default
    assert cli["start"] == lib["start"].default
    assert cli["steps"] == lib["steps"].default
    assert [int(n) for n in cli["sizes"].split(",")] == list(choose.SIZES)
    assert [float(g) for g in cli["gains"].split(",")] == list(choose.GAINS)
