"""The dissection engine end to end on the synthetic world: labels, resume, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import synthetic
from ganscope.dissect import DissectConfig, Dissection, dissect
from ganscope.io import GanscopeError
from ganscope.results import Results, Upsampling


def test_unit_k_is_labelled_concept_k(generator, segmenter):
    results = dissect(generator, segmenter, ["layer1"], samples=40, threshold="iqr", batch_size=8, progress=False)
    units = results.layers["layer1"].units
    for k in range(synthetic.K):
        assert units[k].label == synthetic.CONCEPTS[k + 1]
        assert units[k].iou > 0.9
    assert units[-1].iou == 0.0  # the dead unit
    assert results.layers["layer1"].interpretable["object"] >= 2


def test_quantile_rule_labels_units(generator, segmenter):
    results = dissect(generator, segmenter, ["layer1", "layer2"], samples=24, batch_size=5, progress=False)
    units = results.layers["layer1"].units
    assert [u.label for u in units[: synthetic.K]] == synthetic.CONCEPTS[1:]
    assert results.layers["layer2"].shape == [8, 16, 16]
    assert results.upsampling == Upsampling(mode="bilinear", align_corners=False, size=[32, 32])


def test_seg_size_changes_resolution(generator, segmenter):
    results = dissect(generator, segmenter, ["layer1"], samples=8, seg_size=16, progress=False)
    assert results.upsampling.size == [16, 16]


def test_results_do_not_depend_on_batch_size(generator, segmenter):
    a = dissect(generator, segmenter, ["layer2"], samples=20, batch_size=3, progress=False)
    b = dissect(generator, segmenter, ["layer2"], samples=20, batch_size=20, progress=False)
    strip = lambda r: {**r.to_json(), "elapsed_seconds": 0}  # noqa: E731
    assert json.dumps(strip(a)) == json.dumps(strip(b))


def test_interrupted_run_resumes_to_the_same_result(generator, segmenter, tmp_path: Path):
    def config(checkpoint: Path | None) -> DissectConfig:
        return DissectConfig(layers=["layer1", "layer2"], samples=30, batch_size=4, checkpoint=checkpoint,
                             checkpoint_every=1, progress=False, pilot=8)

    whole = Dissection(generator, segmenter, config(None))
    whole.run()

    def stop_after(done: int) -> None:
        if done >= 20:
            raise KeyboardInterrupt

    first = Dissection(generator, segmenter, config(tmp_path / "ckpt"))
    with pytest.raises(KeyboardInterrupt):
        first.run(on_shard=stop_after)
    resumed = Dissection(generator, segmenter, config(tmp_path / "ckpt"))
    assert resumed.try_resume() and 0 < resumed.done < 30
    resumed.run()
    a, b = whole.results(), resumed.results()
    assert {**a.to_json(), "elapsed_seconds": 0} == {**b.to_json(), "elapsed_seconds": 0}
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
    (["upsampling"], {}, "missing"),
    (["upsampling", "extra"], 1, "unknown fields"),
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
        dissect(badmodels.nan_layer_generator(), segmenter, ["layer1"], samples=4, progress=False)
