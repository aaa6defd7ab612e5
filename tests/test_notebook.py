"""Rich displays in a notebook: results, layers and units show as self-contained HTML."""

from __future__ import annotations

import base64
import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import synthetic
from ganscope.notebook import TOP_UNITS, layer_html
from ganscope.pipeline import run_dissection
from ganscope.results import LayerResult, Results, UnitResult
from ganscope.session import Session


@pytest.fixture(scope="module")
def dissected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("notebook") / "run"
    session = Session(synthetic.make_generator(), synthetic.make_segmenter(), batch_size=8)
    run_dissection(session, ["layer1", "layer2"], 24, out=out, threshold="iqr")
    return out


def test_results_show_counts_and_layers(dissected: Path):
    results = Results.load(dissected)
    page = results._repr_html_()
    assert "<table>" in page and "layer1" in page and "layer2" in page
    assert all(f"<td>{n}</td>" in page for n in results.layers["layer1"].interpretable.values())
    assert repr(results).startswith("Results(model='custom', samples=24, layers: layer1 (6 units")
    assert "alpha" in results.layers["layer1"].units[0]._repr_html_()
    assert repr(results.layers["layer1"]).startswith("LayerResult('layer1', 6 units")


def test_a_unit_shows_the_strip_the_report_draws(dissected: Path):
    results = Results.load(dissected)
    view = results.show_unit("layer1", 0)
    page = view._repr_html_()
    assert "alpha" in page and "IoU" in page
    url = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(url))))
    report_strip = np.asarray(Image.open(dissected / "report" / "strips" / "layer1" / "0.png"))
    assert np.array_equal(shown, report_strip)
    loose = Results.load(dissected)
    loose._directory = None  # results held in memory only: no images to show, and it says so
    assert "no sample images" in loose.show_unit("layer1", 0)._repr_html_()


def test_a_large_layer_lists_the_best_units_first_and_the_rest_behind_more():
    units = [UnitResult(unit=i, threshold=0.0, label="alpha", category="object", iou=(i % 97) / 100,
                        top_concepts=[], top_samples=[], insertion_value=0.0, mean=0.0, std=0.0) for i in range(512)]
    layer = LayerResult(name="big", shape=[512, 8, 8], units=units, interpretable={"object": 400},
                        threshold_bound=0.0)
    started = time.perf_counter()
    page = layer_html(layer)
    assert time.perf_counter() - started < 1.0
    shown, rest = page.split("<details>")
    assert shown.count("<tr><td>") == TOP_UNITS and rest.count("<tr><td>") == 512 - TOP_UNITS
    assert "<td>0.960</td>" in shown  # the best IoU comes first
    assert "more (500 units)" in page


def test_unknown_unit_is_a_clear_error(dissected: Path):
    from ganscope.errors import GanscopeError

    with pytest.raises(GanscopeError, match="unit 9 is out of range"):
        Results.load(dissected).show_unit("layer1", 9)
    with pytest.raises(GanscopeError, match="was not dissected"):
        Results.load(dissected).show_unit("layer7", 0)
