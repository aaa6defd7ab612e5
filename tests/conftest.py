"""Shared fixtures: the synthetic world (tests/synthetic.py) and a small dissection of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

import synthetic
from dissecting import dissect
from ganscope.results import Results

# CI replays the same examples on every run (a red CI must be reproducible); local runs explore new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


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
