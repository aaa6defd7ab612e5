"""The dissection engine end to end on the synthetic world: labels, resume, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import synthetic
from dissecting import dissect
from ganscope.dissection import DissectConfig, Dissection
from ganscope.errors import GanscopeError
from ganscope.results import Results, Upsampling
from ganscope.session import Session


def test_unit_k_is_labelled_concept_k(generator, segmenter):
    results = dissect(generator, segmenter, ["layer1"], samples=40, threshold="iqr", batch_size=8)
    units = results.layers["layer1"].units
    for k in range(synthetic.K):
        assert units[k].label == synthetic.CONCEPTS[k + 1]
        assert units[k].iou > 0.9
    assert units[-1].iou == 0.0  # the dead unit
    assert results.layers["layer1"].interpretable["object"] >= 2


def test_quantile_rule_labels_units(generator, segmenter):
    results = dissect(generator, segmenter, ["layer1", "layer2"], samples=24, batch_size=5)
    units = results.layers["layer1"].units
    assert [u.label for u in units[: synthetic.K]] == synthetic.CONCEPTS[1:]
    assert results.layers["layer2"].shape == [8, 16, 16]
    assert results.upsampling == Upsampling(mode="bilinear", align_corners=False, size=[32, 32])


def test_seg_size_changes_resolution(generator, segmenter):
    results = dissect(generator, segmenter, ["layer1"], samples=8, seg_size=16)
    assert results.upsampling.size == [16, 16]


def test_results_do_not_depend_on_batch_size(generator, segmenter):
    a = dissect(generator, segmenter, ["layer2"], samples=20, batch_size=3)
    b = dissect(generator, segmenter, ["layer2"], samples=20, batch_size=20)
    strip = lambda r: {**r.model_dump(mode="json"), "elapsed_seconds": 0}  # noqa: E731
    assert json.dumps(strip(a)) == json.dumps(strip(b))


def test_interrupted_run_resumes_to_the_same_result(generator, segmenter, tmp_path: Path):
    def config(checkpoint: Path | None) -> DissectConfig:
        return DissectConfig(layers=["layer1", "layer2"], samples=30, checkpoint=checkpoint, checkpoint_every=1,
                             pilot=8)

    session = Session(generator, segmenter, batch_size=4)
    whole = Dissection(session, config(None))
    whole.run()

    def stop_after(done: int) -> None:
        if done >= 20:
            raise KeyboardInterrupt

    first = Dissection(session, config(tmp_path / "ckpt"))
    with pytest.raises(KeyboardInterrupt):
        first.run(on_shard=stop_after)
    resumed = Dissection(session, config(tmp_path / "ckpt"))
    assert resumed.try_resume() and 0 < resumed.done < 30
    resumed.run()
    a, b = whole.results(), resumed.results()
    assert {**a.model_dump(mode="json"), "elapsed_seconds": 0} == {**b.model_dump(mode="json"), "elapsed_seconds": 0}
    for key, value in a.tables.items():
        assert torch.equal(value, b.tables[key]), key


def test_save_and_load_round_trip(small_results: Path):
    results = Results.load(small_results)
    assert results.schema_version == 1
    assert set(results.layers) == {"layer1", "layer2"}
    unit = results.layers["layer1"].units[0]
    assert unit.label == "alpha" and unit.top_concepts[0][0] == "alpha"
    assert results.top_units("layer1", "beta", 2)[0] == 1
    assert results.iou_table("layer1").shape == (6, len(synthetic.CONCEPTS))
    data = json.loads((small_results / "results.json").read_text())
    for key in ("schema_version", "model", "segmenter", "samples", "seed", "threshold_rule", "concepts", "layers"):
        assert key in data
    assert set(data["layers"]["layer1"]) >= {"units", "interpretable"}
    assert set(data["layers"]["layer1"]["units"][0]) >= {
        "unit", "threshold", "label", "category", "iou", "top_concepts", "top_samples"}


def test_load_rejects_bad_results(tmp_path: Path, small_results: Path):
    with pytest.raises(GanscopeError, match="no results.json"):
        Results.load(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(GanscopeError, match="not valid JSON"):
        Results.load(tmp_path)
    data = json.loads((small_results / "results.json").read_text())
    (tmp_path / "results.json").write_text(json.dumps({**data, "schema_version": 0}))
    with pytest.raises(GanscopeError, match="schema version 0"):
        Results.load(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": 1, "layers": {}}))
    with pytest.raises(GanscopeError, match="does not match"):
        Results.load(tmp_path)


def _edit(data: dict, path: list, value: object) -> dict:
    copy = json.loads(json.dumps(data))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


@pytest.mark.parametrize(("path", "value", "message"), [
    (["upsampling"], {}, "upsampling.mode: Field required"),
    (["upsampling", "extra"], 1, "upsampling.extra: Extra inputs are not permitted"),
    (["image_size"], [], r"image_size must be \[height, width\]"),
    (["upsampling", "size"], [64], r"upsampling.size must be \[height, width\]"),
    (["layers", "layer1", "name"], "other", "named 'other' inside"),
    (["layers", "layer1", "shape"], [4, 8], "shape must be"),
    (["layers", "layer1", "units", 0, "unit"], 3, "lists unit 3 at position 0"),
    (["layers", "layer1", "units", 0, "label"], "ghost", "unknown concepts"),
])
def test_load_rejects_inconsistent_results(tmp_path: Path, small_results: Path, path: list, value: object,
                                           message: str):
    data = json.loads((small_results / "results.json").read_text())
    (tmp_path / "results.json").write_text(json.dumps(_edit(data, path, value)))
    with pytest.raises(GanscopeError, match=message):
        Results.load(tmp_path)


def test_load_rejects_a_unit_count_that_disagrees_with_the_shape(tmp_path: Path, small_results: Path):
    data = json.loads((small_results / "results.json").read_text())
    data["layers"]["layer1"]["units"].pop()
    (tmp_path / "results.json").write_text(json.dumps(data))
    with pytest.raises(GanscopeError, match="units"):
        Results.load(tmp_path)


def test_nan_activations_name_the_sample(segmenter):
    import badmodels

    with pytest.raises(GanscopeError, match="NaN or Inf in activations of layer 'layer1' for sample 0"):
        dissect(badmodels.nan_layer_generator(), segmenter, ["layer1"], samples=4)


def test_a_weight_change_starts_afresh_and_says_why(generator, segmenter, tmp_path: Path, caplog):
    cfg = DissectConfig(layers=["layer1"], samples=12, checkpoint=tmp_path / "ckpt", checkpoint_every=1, pilot=4)
    Dissection(Session(generator, segmenter, batch_size=4), cfg).run()
    assert Dissection(Session(generator, segmenter, batch_size=8), cfg).try_resume()  # batch size is not in it
    with torch.no_grad():
        next(generator.parameters()).add_(1e-3)
    changed = Dissection(Session(generator, segmenter, batch_size=4), cfg)
    assert not changed.try_resume()
    assert "weights changed" in caplog.text
    assert not Dissection(Session(generator, segmenter, seed=1, batch_size=4), cfg).try_resume()
    assert "the options and the weights changed" in caplog.text  # the weights above were changed in place


@pytest.mark.parametrize(("option", "value"), [("samples", 0), ("quantile", 1.5), ("threshold", "max"),
                                               ("bins", 0), ("tail_factor", 0.5), ("seg_size", 0)])
def test_library_errors_name_the_python_argument(generator, segmenter, option: str, value: object):
    options = {"samples": 4, option: value}
    with pytest.raises(GanscopeError, match=f"^{option} ") as err:
        dissect(generator, segmenter, ["layer1"], **options)
    assert err.value.argument == option


class RandomMaps(torch.nn.Module):
    """Units = the latent itself, 4 maps of 4 x 4; the image paints units 0-2 as colour channels."""

    latent_shape = (64,)

    def __init__(self):
        super().__init__()
        self.maps = torch.nn.Identity()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        acts = self.maps(z.view(-1, 4, 4, 4))
        return torch.tanh(torch.nn.functional.interpolate(acts[:, :3], size=(32, 32), mode="nearest"))


def synthetic_layer2(generator, z: torch.Tensor) -> np.ndarray:
    """The synthetic generator's layer2 by hand, not through the traced forward pass."""
    units = generator.layer1(generator.layout(z))
    return generator.layer2(torch.nn.functional.interpolate(units, scale_factor=2, mode="bilinear")).numpy()


@pytest.mark.parametrize(("case", "pilot", "tail_factor"), [("synthetic", 64, 2.0), ("synthetic", 2, 1.0),
                                                            ("random", 1, 1.0)])
def test_layer_results_against_numpy_brute_force(segmenter, case: str, pilot: int, tail_factor: float):
    """Thresholds, IoUs, labels, counts and tail warnings from their definitions: the synthetic world's layer2
    (8 dense units, 16 x 16) and random maps whose one-sample pilot misjudges some units' ranges."""
    import brute
    from ganscope.sampling import latents

    generator, layer_name = (synthetic.make_generator(), "layer2") if case == "synthetic" else (RandomMaps(), "maps")
    samples, q = 24, 0.01
    run = Dissection(Session(generator, segmenter, batch_size=5),
                     DissectConfig(layers=[layer_name], samples=samples, pilot=pilot, tail_factor=tail_factor))
    run.run()
    layer = run.results().layers[layer_name]
    z = latents(0, range(samples), generator.latent_shape)
    with torch.no_grad():
        acts = synthetic_layer2(generator, z) if case == "synthetic" else z.view(-1, 4, 4, 4).numpy()
        labels = segmenter.segment(generator(z)).numpy()
    hist = run.tallies[layer_name].histogram
    expected_counts = {c: 0 for c in layer.interpretable}
    warned = []
    for u, result in enumerate(layer.units):
        up = brute.bilinear(acts[:, u], (32, 32))
        lo, top = float(hist.lo[u]), float(hist.edges()[u, -1])
        if (up > lo).mean() < q or (up >= top).mean() >= q:
            warned.append(u)
            continue  # the threshold is the range's edge, not the quantile: what the warning says
        exact = np.quantile(up, 1 - q, method="inverted_cdf")
        assert abs(result.threshold - exact) <= layer.threshold_bound + 1e-6
        active = up > result.threshold
        ious = [brute.iou(active, labels, c) for c in range(len(synthetic.CONCEPTS))]
        best = int(np.argmax(ious[1:])) + 1
        assert result.iou == pytest.approx(ious[best], abs=1e-5)
        assert result.label == synthetic.CONCEPTS[best]
        if ious[best] > 0.04:
            expected_counts[synthetic.CATEGORIES[best]] += 1
    assert layer.tail_warnings == warned
    assert bool(warned) == (case == "random")
    if not warned:
        assert layer.interpretable == expected_counts


def test_the_pass_writes_each_top_sample_once(generator, segmenter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The top samples' PNGs come from the tally pass: none is generated again, none is left over, and each is
    byte for byte what rendering it afresh gives."""
    from ganscope.pipeline import run_dissection
    from ganscope.results import SAMPLES_DIR

    session = Session(generator, segmenter, batch_size=4)
    again: list[int] = []
    render = Session.iter_images
    monkeypatch.setattr(Session, "iter_images", lambda self, idx, edits=(): (again.extend(idx), render(self, idx,
                                                                                                        edits))[1])
    out = tmp_path / "run"
    (out / SAMPLES_DIR).mkdir(parents=True)
    (out / SAMPLES_DIR / "39.png").write_bytes(b"a stale image of an earlier run")
    results = run_dissection(session, ["layer1", "layer2"], 40, out=out, report=False, pilot=8, checkpoint_every=2,
                             topk=3)
    tops = {i for layer in results.layers.values() for u in layer.units for i in u.top_samples}
    written = {int(p.stem) for p in (out / SAMPLES_DIR).glob("*.png")}
    assert written == tops and not again and 0 < len(tops) < 40
    monkeypatch.setattr(Session, "iter_images", render)
    fresh = tmp_path / "fresh"
    session.render_samples(sorted(tops), fresh)
    assert all((out / SAMPLES_DIR / f"{i}.png").read_bytes() == (fresh / f"{i}.png").read_bytes() for i in tops)
