"""Shared fixtures: the synthetic world (tests/synthetic.py) and a small dissection of it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import synthetic
from ganscope.dissect import dissect
from ganscope.results import Results


@pytest.fixture(autouse=True)
def _single_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def generator() -> synthetic.SyntheticGenerator:
    return synthetic.make_generator()


@pytest.fixture
def segmenter() -> synthetic.SyntheticSegmenter:
    return synthetic.make_segmenter()


@pytest.fixture(scope="session")
def small_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results directory from dissecting the synthetic generator (layer1, layer2)."""
    out = tmp_path_factory.mktemp("dissection")
    results = dissect(synthetic.make_generator(), synthetic.make_segmenter(), ["layer1", "layer2"], samples=40,
                      seed=0, threshold="iqr", batch_size=8, progress=False, model_name="synthetic:make_generator",
                      segmenter_name="synthetic:make_segmenter")
    results.save(out)
    return out


def load(directory: Path) -> Results:
    return Results.load(directory)
