"""One experiment shape: every experiment is f(cut, ..., *, samples, start=0, progress=False) and returns an
ExperimentResult that saves and loads with validation."""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path

import pytest
import torch

import synthetic
from ganscope.artifacts import ablation_quality, rank_units
from ganscope.artifacts.summary import ArtifactsResult
from ganscope.errors import GanscopeError
from ganscope.experiment import SCHEMA_VERSION, ExperimentResult
from ganscope.intervene import (
    AceResult,
    ablate,
    ace,
    compare_rankings,
    context,
    generate,
    insert,
    optimise_alpha,
    rank_by_mask,
    removal_curve,
)
from ganscope.paintsets import PaintSets, compute_paint_sets
from ganscope.session import Cut, Session

EXPERIMENTS = [ace, removal_curve, context, optimise_alpha, compare_rankings, rank_by_mask, generate, ablate, insert,
               rank_units, ablation_quality, compute_paint_sets]


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda f: f.__name__)
def test_every_experiment_has_the_one_shape(experiment):
    """A Cut (or a Session) first; samples, start=0 and progress=False keyword-only; a validated result back.
    The artifact ranking is the one without samples: the dissection fixed each unit's top samples."""
    hints = typing.get_type_hints(experiment)
    params = inspect.signature(experiment).parameters
    first = next(iter(params))
    assert hints[first] in (Cut, Session)
    assert issubclass(hints["return"], ExperimentResult)
    assert params["progress"].kind is inspect.Parameter.KEYWORD_ONLY and params["progress"].default is False
    if experiment is rank_units:
        assert "samples" not in params
        return
    assert params["samples"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["start"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.fixture(scope="module")
def cut() -> Cut:
    return Session(synthetic.make_generator(), synthetic.make_segmenter(), batch_size=4).at("layer1")


def test_results_save_and_load_unchanged(cut: Cut, tmp_path: Path):
    concept = cut.concepts[2]
    results = [ace(cut, [1], concept, values=1.0, samples=6, start=3),
               removal_curve(cut, [1, 0, 2], concept, sizes=(1, 2), samples=4),
               context(cut, [0], cut.concepts[1], values=1.0, samples=2, start=1),
               optimise_alpha(cut, concept, values=torch.ones(6), steps=3, samples=4)]
    for k, result in enumerate(results):
        saved = result.save(tmp_path / str(k))
        assert json.loads(saved.read_text())["schema_version"] == SCHEMA_VERSION
        assert type(result).load(saved) == result and type(result).load(tmp_path / str(k)) == result


def test_tensor_fields_go_beside_the_json(cut: Cut, tmp_path: Path):
    result = ablate(cut, [0, 1], samples=3, start=2)
    path = result.save(tmp_path)
    assert path.with_suffix(".safetensors").is_file() and "original" not in json.loads(path.read_text())
    loaded = type(result).load(tmp_path)
    torch.testing.assert_close(loaded.edited, result.edited, rtol=0, atol=0)
    assert (loaded.start, loaded.samples, loaded.values, loaded.alpha) == (2, 3, None, [1.0, 1.0])
    images = torch.cat([cut.session.images([2, 3, 4])])
    torch.testing.assert_close(result.original, images, rtol=0, atol=0)  # samples [start, start + samples)
    assert insert(cut, [0], 2.0, samples=1).values == [2.0]


def test_bad_files_give_one_clear_error(tmp_path: Path, cut: Cut):
    result = ace(cut, [1], cut.concepts[2], values=1.0, samples=4)
    path = result.save(tmp_path)
    data = json.loads(path.read_text())
    old = {k: v for k, v in data.items() if k not in ("schema_version", "start")}  # as written before the shape
    path.write_text(json.dumps(old))
    assert AceResult.load(path).model_dump() == {**result.model_dump(), "start": 0}
    cases = [({**data, "schema_version": 99}, "schema version 99; this ganscope reads version 1"),
             ({**data, "ace": "many"}, "invalid AceResult .*: ace: Input should be a valid number"),
             ({**data, "extra": 1}, "extra: Extra inputs are not permitted"), ([1, 2], "not a AceResult")]
    for content, message in cases:
        path.write_text(json.dumps(content))
        with pytest.raises(GanscopeError, match=message) as err:
            AceResult.load(path)
        assert err.value.argument == "path"
    path.write_text('{"ace": NaN')
    with pytest.raises(GanscopeError, match="cannot read"):
        AceResult.load(path)
    with pytest.raises(GanscopeError, match="no AceResult at"):
        AceResult.load(tmp_path / "missing.json")


def test_rank_by_mask_old_files_name_the_sample_index(tmp_path: Path, cut: Cut):
    mask = torch.zeros(32, 32, dtype=torch.bool)
    mask[:16] = True
    result = rank_by_mask(cut, mask, sizes=(1,), start=2)
    assert result.images.shape == (2, 3, 32, 32)
    saved = result.model_copy(update={"images": None}).save(tmp_path)
    data = json.loads(saved.read_text())
    del data["start"], data["samples"], data["sizes"], data["schema_version"]
    saved.write_text(json.dumps({**data, "index": 2}))
    assert type(result).load(saved).start == 2


def test_artifacts_and_paint_sets_are_experiment_results():
    assert ArtifactsResult.FILE == "artifacts.json" and issubclass(ArtifactsResult, ExperimentResult)
    assert PaintSets.FILE == "paint_sets.json" and issubclass(PaintSets, ExperimentResult)
