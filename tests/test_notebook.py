"""Rich displays in a notebook: results, layers and units show as self-contained HTML."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import synthetic
from ganscope.notebook import TOP_UNITS, layer_html, results_html, show_unit, unit_html
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
    page = results_html(results)
    assert "<table>" in page and "layer1" in page and "layer2" in page
    assert all(f"<td>{n}</td>" in page for n in results.layers["layer1"].interpretable.values())
    assert repr(results).startswith("Results(model='custom', samples=24, layers: layer1 (6 units")
    assert "alpha" in unit_html(results.layers["layer1"].units[0])
    assert repr(results.layers["layer1"]).startswith("LayerResult('layer1', 6 units")


def test_a_unit_shows_the_strip_the_report_draws(dissected: Path):
    results = Results.load(dissected)
    view = show_unit(results, "layer1", 0)
    page = view._repr_html_()
    assert "alpha" in page and "IoU" in page
    url = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(url))))
    report_strip = np.asarray(Image.open(dissected / "report" / "strips" / "layer1" / "0.png"))
    assert np.array_equal(shown, report_strip)
    loose = Results.load(dissected)
    loose._directory = None  # results held in memory only: no images to show, and it says so
    assert "no sample images" in show_unit(loose, "layer1", 0)._repr_html_()


def test_a_large_layer_lists_the_best_units_first_and_the_rest_behind_more():
    units = [UnitResult(unit=i, threshold=0.0, label="alpha", category="object", iou=(i % 97) / 100,
                        top_concepts=[], top_samples=[], insertion_value=0.0, mean=0.0, std=0.0) for i in range(512)]
    layer = LayerResult(name="big", shape=[512, 8, 8], units=units, interpretable={"object": 400},
                        threshold_bound=0.0)
    page = layer_html(layer)
    assert len(page.encode()) < 40 * 1024  # a 512-unit layer's display stays under 40 KB (32 KB today)
    shown, rest = page.split("<details>")
    assert shown.count("<tr><td>") == TOP_UNITS and rest.count("<tr><td>") == 512 - TOP_UNITS
    assert "<td>0.960</td>" in shown  # the best IoU comes first
    assert "more (500 units)" in page


def test_unknown_unit_is_a_clear_error(dissected: Path):
    from ganscope.errors import GanscopeError

    with pytest.raises(GanscopeError, match="unit 9 is out of range"):
        show_unit(Results.load(dissected), "layer1", 9)
    with pytest.raises(GanscopeError, match="was not dissected"):
        show_unit(Results.load(dissected), "layer7", 0)


def test_in_a_kernel_results_display_as_html(dissected: Path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import ganscope\nresults = ganscope.Results.load({str(dissected)!r})\nresults"),
        nbformat.v4.new_code_cell("results.layers['layer1']"),
        nbformat.v4.new_code_cell("from ganscope.notebook import show_unit\nshow_unit(results, 'layer1', 0)")])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    shown = [cell.outputs[0]["data"] for cell in notebook.cells]
    assert "<table>" in shown[0]["text/html"] and "layer2" in shown[0]["text/html"]
    assert "more" in shown[1]["text/html"] or "<table>" in shown[1]["text/html"]
    assert "data:image/png;base64," in shown[2]["text/html"]
    assert shown[0]["text/plain"].startswith("Results(model=")


def test_an_edit_shows_before_after_and_the_concept_fractions():
    from ganscope.edits import ablation
    from ganscope.notebook import show_edit

    session = Session(synthetic.make_generator(), synthetic.make_segmenter(), batch_size=8)
    concept = session.concepts[1]
    view = show_edit(session, ablation("layer1", [0, 1, 2]), samples=2, start=2, concept=concept)
    before = session.fractions(session.images([2, 3]), concept)
    assert view.fractions[0] == before.tolist()
    after = session.fractions(session.images([2, 3], edits=[ablation("layer1", [0, 1, 2])]), concept)
    assert view.fractions[1] == after.tolist()
    page = view._repr_html_()
    assert page.count("data:image/png;base64,") == 4 and "sample 3" in page and "zeroed" in page
    assert repr(view).startswith("Edit(layer1: 3 units, 2 samples, ")
