"""Notebook widgets: the kernel side against the session, and the front-end in headless chromium."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dissecting import dissect
from ganscope.edits import ablation
from ganscope.images import png_bytes, to_pil
from ganscope.models import load_generator
from ganscope.notebook import data_url
from ganscope.painting import paint, rasterise
from ganscope.regions import pooled
from ganscope.results import Results
from ganscope.segmenters import load_segmenter
from ganscope.session import Session
from test_report import chromium_or_skip

pytest.importorskip("anywidget", reason="the widgets need the notebook extra: pip install -e '.[notebook]'")
from ganscope.widgets import MaskRanker, PaintWidget, UnitBrowser  # noqa: E402

SCREENSHOTS = os.environ.get("GANSCOPE_SCREENSHOTS")


@pytest.fixture(scope="module")
def demo() -> tuple[Session, Results, int]:
    """The demo models dissected on 64 samples at layer4 and layer6, and the sample with the most tree."""
    torch.set_num_threads(1)
    session = Session(load_generator("demo"), load_segmenter("demo"), batch_size=16)
    res = dissect(session.generator, session.segmenter, ["layer4", "layer6"], 64, model_name="demo",
                  segmenter_name="demo")
    trees = session.labels(session.images(range(16))) == session.concept("tree")
    return session, res, int(trees.flatten(1).sum(1).argmax())


def pixels(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")).astype(int)


def tree_mask(session: Session, index: int) -> np.ndarray:
    return (session.labels(session.images([index])) == session.concept("tree"))[0].numpy()


def test_paint_strokes_are_the_librarys_paint_edits(demo: tuple[Session, Results, int]):
    session, res, index = demo
    widget = PaintWidget(session, res, index=index)
    assert widget.layer == "layer6" and "tree" in widget.concepts
    original = pixels(widget.image)
    stroke = {"points": [[8, 30], [40, 30]], "radius": 5, "mode": "remove", "concept": "tree"}
    widget.strokes = [stroke]
    region = pooled(rasterise([(stroke["points"], 5.0)], res.image_size))
    expected = session.images([index], edits=[paint(res, "layer6", "remove", region, concept="tree")])[0]
    assert np.array_equal(pixels(widget.image), pixels(_url(expected)))
    assert np.abs(pixels(widget.image) - original).sum() > 0
    widget.undo()
    assert widget.strokes == [] and np.array_equal(pixels(widget.image), original)
    widget.strokes = [{**stroke, "concept": "unicorn"}]  # a bad stroke is shown, not raised
    assert "unknown concept 'unicorn'" in widget.error
    widget.reset()
    assert widget.error == "" and np.array_equal(pixels(widget.image), original)


def test_unit_browser_zeroes_the_units_switched_off(demo: tuple[Session, Results, int]):
    session, res, index = demo
    widget = UnitBrowser(session, res, "layer4", index=index)
    best = max(res.layers["layer4"].units, key=lambda u: u.iou)
    assert widget.units[0] == {"unit": best.unit, "label": best.label, "iou": best.iou} and len(widget.units) == 24
    widget.off = [widget.units[0]["unit"], widget.units[1]["unit"]]
    expected = session.images([index], edits=[ablation("layer4", widget.off)])[0]
    assert np.array_equal(pixels(widget.image), pixels(_url(expected)))
    with pytest.raises(Exception, match="index must be >= 0"):
        widget.index = -1


def test_mask_ranker_removes_the_masked_tree(demo: tuple[Session, Results, int]):
    """The walk-through: a mask on the tree, its best units of layer4 zeroed: less tree is left in the mask."""
    session, res, index = demo
    widget = MaskRanker(session, res, "layer4", index=index, concept="tree")
    assert widget.ranking == [] and widget.ablated == []
    mask = tree_mask(session, index)
    ys, xs = mask.nonzero()
    widget.strokes = [{"points": [[float(x), float(y)]], "radius": 1.0} for y, x in zip(ys, xs)]
    assert [a["top"] for a in widget.ablated] == [0, 4, 16, 128]
    left = [a["left"] for a in widget.ablated]
    assert left[0] > 0.5 and left[3] < 0.5 * left[0], left
    assert len(widget.ranking) == 8 and widget.ranking[0]["score"] >= widget.ranking[-1]["score"]


@pytest.mark.slow
def test_widgets_in_headless_chromium(demo: tuple[Session, Results, int], tmp_path: Path):
    """The real front-end module against the real widgets: a stroke reaches Python and changes the image,
    a unit button switches a unit off, and a painted mask shows the ablations. Screenshots go to
    $GANSCOPE_SCREENSHOTS or a temporary folder."""
    chromium_or_skip()
    from browser import chromium_page, drag
    from widget_harness import serve_widget

    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    session, res, index = demo
    errors: list[str] = []
    paint_widget = PaintWidget(session, res, index=index)
    with serve_widget(paint_widget) as url, chromium_page(errors, width=700, height=520) as page:
        page.goto(url, wait_until="networkidle")
        page.wait_for_function("window.ready && document.querySelector('.gs-picture').complete")
        before = page.get_attribute(".gs-picture", "src")
        page.select_option(".gs-concept", "tree")
        drag(page, ".gs-overlay", 30, 8, 40, res.image_size[1])
        page.wait_for_function(f"document.querySelector('.gs-picture').src !== {before!r}")
        assert len(paint_widget.strokes) == 1
        assert paint_widget.strokes[0]["mode"] == "remove" and paint_widget.strokes[0]["concept"] == "tree"
        assert page.get_attribute(".gs-picture", "src") == paint_widget.image
        assert page.text_content(".gs-count") == "1 stroke(s)"
        page.screenshot(path=shots / "widget-paint.png")
        page.click("text=undo")
        page.wait_for_function(f"document.querySelector('.gs-picture').src === {before!r}")
        assert paint_widget.strokes == []
    browser_widget = UnitBrowser(session, res, "layer4", index=index)
    with serve_widget(browser_widget) as url, chromium_page(errors, width=700, height=640) as page:
        page.goto(url, wait_until="networkidle")
        page.wait_for_function("window.ready")
        unit = browser_widget.units[0]["unit"]
        before = page.get_attribute(".gs-picture", "src")
        page.click(f".gs-unit[data-unit='{unit}']")
        page.wait_for_function(f"document.querySelector('.gs-picture').src !== {before!r}")
        assert browser_widget.off == [unit]
        assert "gs-off" in page.get_attribute(f".gs-unit[data-unit='{unit}']", "class")
        page.screenshot(path=shots / "widget-units.png")
    ranker = MaskRanker(session, res, "layer4", index=index)
    mask = tree_mask(session, index)
    row = int(np.median(mask.nonzero()[0]))
    cols = mask[row].nonzero()[0]
    with serve_widget(ranker) as url, chromium_page(errors, width=700, height=700) as page:
        page.goto(url, wait_until="networkidle")
        page.wait_for_function("window.ready")
        page.select_option(".gs-concept", "tree")
        page.wait_for_function("window.synced >= 1")
        drag(page, ".gs-overlay", row, int(cols.min()), int(cols.max()), res.image_size[1])
        page.wait_for_function("document.querySelectorAll('.gs-ablated img').length === 4")
        assert ranker.concept == "tree" and len(ranker.strokes) == 1
        assert "% left" in page.text_content(".gs-ablated figcaption:last-child")
        page.wait_for_function("[...document.images].every(image => image.complete)")
        page.screenshot(path=shots / "widget-mask.png")
    assert errors == []


def _url(image: torch.Tensor) -> str:
    return data_url(png_bytes(to_pil(image)))
