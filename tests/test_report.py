"""The HTML report: page structure, strip drawing, bad inputs, the CLI, and a real headless browser."""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import synthetic
from browser import CHROMIUM, chromium_page
from ganscope.cli import app
from ganscope.errors import GanscopeError
from ganscope.report import build_report, compare_report
from ganscope.report.strips import BACKDROP, FADE, OUTLINE, compose, outline
from ganscope.results import Results
from ganscope.session import Session


class Page(HTMLParser):
    """Collects a page's links, image sources and unit cards."""

    def __init__(self, path: Path):
        super().__init__()
        self.refs: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.cards: list[dict[str, str | None]] = []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        self.refs += [v for k, v in attrs if k in ("href", "src") and v]
        if tag == "img":
            self.images.append(attr)
        if tag == "article" and "card" in (attr.get("class") or ""):
            self.cards.append(attr)


def copy_dissection(source: Path, target: Path) -> Path:
    """A private copy of a results directory, with the sample images the strips need."""
    shutil.copytree(source, target)
    results = Results.load(target)
    tops = sorted({i for layer in results.layers.values() for u in layer.units for i in u.top_samples})
    Session(synthetic.make_generator(), seed=results.seed).render_samples(tops, target / "samples")
    return target


@pytest.fixture(scope="module")
def report_dir(small_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    directory = copy_dissection(small_results, tmp_path_factory.mktemp("report") / "run")
    build_report(directory)
    return directory


def test_every_link_resolves_offline(report_dir: Path):
    pages = [report_dir / "index.html", *sorted((report_dir / "report").glob("*.html"))]
    assert len(pages) >= 5  # index, layer pages, layer comparison, concepts, concept pages
    for page in pages:
        refs = Page(page).refs
        assert not [r for r in refs if re.match(r"^[a-z]+:", r)], f"{page.name} references the network"
        for ref in refs:
            target = ref.split("#")[0]
            assert not target or (page.parent / target).is_file(), f"{page.name}: broken link {ref}"


def test_layer_page_lists_units_by_iou_with_lazy_strips(report_dir: Path):
    results = Results.load(report_dir)
    for name, layer in results.layers.items():
        page = Page(report_dir / "report" / f"layer-{name}.html")
        assert [int(c["data-unit"]) for c in page.cards] == [u.unit for u in sorted(layer.units, key=lambda u: -u.iou)]
        assert [c["data-label"] for c in page.cards] == [layer.units[int(c["data-unit"])].label for c in page.cards]
        strips = [i for i in page.images if "strips/" in (i["src"] or "")]
        assert len(strips) == len(layer.units) and all(i["loading"] == "lazy" for i in strips)
    index = (report_dir / "index.html").read_text()
    assert "layer1" in index and "interpretable" in index and "plots/layer1-concepts.svg" in index


def test_concept_page_lists_units_detecting_it(report_dir: Path):
    results = Results.load(report_dir)
    expected = {(name, u.unit) for name, layer in results.layers.items() for u in layer.units
                if dict(u.top_concepts).get("alpha", 0) > results.iou_cutoff}
    cards = Page(report_dir / "report" / "concept-alpha.html").cards
    assert {(c["data-layer"], int(c["data-unit"])) for c in cards} == expected
    assert ("layer1", 0) in expected  # the synthetic unit 0 fires exactly on alpha


def test_strip_keeps_region_fades_outside_and_outlines_boundary():
    images = np.full((1, 2, 6, 6, 3), 200, np.uint8)
    mask = np.zeros((1, 2, 6, 6), bool)
    mask[0, 0, 1:5, 1:5] = True
    strip = compose(images, mask)
    assert strip.shape == (1, 6, 2 * 6 + 2, 3)
    edge = outline(mask)[0, 0]
    assert edge.sum() == 12 and not edge[2:4, 2:4].any()
    tile = strip[0, :, :6]
    assert (tile[2, 2] == 200).all() and (tile[1, 1] == OUTLINE).all()
    assert (tile[0, 0] == int(200 * FADE + BACKDROP * (1 - FADE))).all()
    assert (strip[0, :, 6:8] == 255).all()  # gutter


def test_strip_of_synthetic_unit_outlines_its_concept(report_dir: Path):
    from PIL import Image

    strip = np.asarray(Image.open(report_dir / "report" / "strips" / "layer1" / "0.png"))
    alpha = np.array([255, 0, 0])  # synthetic concept 1's colour
    drawn = (strip == OUTLINE).all(-1) | (strip == alpha).all(-1)
    assert (strip == OUTLINE).all(-1).any() and drawn.mean() > 0.05


def test_compare_page(report_dir: Path, tmp_path: Path):
    other = copy_dissection(report_dir, tmp_path / "other")
    out = compare_report([report_dir, other], tmp_path / "cmp")
    text = out.read_text()
    assert "run / layer1" in text and "other / layer2" in text and "plots/compare.svg" in text
    assert Page(out).refs and all((out.parent / r).is_file() for r in Page(out).refs if not r.startswith("#"))
    with pytest.raises(GanscopeError, match="at least two"):
        compare_report([report_dir], tmp_path / "one")
    with pytest.raises(GanscopeError, match="overwritten"):
        compare_report([report_dir, other], other)


def break_missing(d: Path) -> None:
    (d / "results.json").unlink()


def break_corrupt(d: Path) -> None:
    (d / "results.json").write_text('{"schema_version": 1, "layers": {')


def break_old_schema(d: Path) -> None:
    data = json.loads((d / "results.json").read_text())
    (d / "results.json").write_text(json.dumps({**data, "schema_version": 0}))


def break_schema(d: Path) -> None:
    data = json.loads((d / "results.json").read_text())
    del data["layers"]["layer1"]["units"][0]["threshold"]
    (d / "results.json").write_text(json.dumps(data))


def break_tables(d: Path) -> None:
    tables = d / "tables.safetensors"
    tables.write_bytes(tables.read_bytes()[:100])


@pytest.mark.parametrize(("damage", "message"), [
    (break_missing, "no results.json"), (break_corrupt, "not valid JSON"), (break_old_schema, "schema version 0"),
    (break_schema, "does not match the results schema"), (break_tables, "cannot read weights"),
])
def test_bad_input_is_one_clear_error_and_no_index(small_results: Path, tmp_path: Path, damage, message):
    directory = tmp_path / "run"
    shutil.copytree(small_results, directory)
    damage(directory)
    with pytest.raises(GanscopeError, match=message):
        build_report(directory)
    assert not (directory / "index.html").exists() and not (directory / "report").exists()
    run = CliRunner().invoke(app, ["report", str(directory)])
    assert run.exit_code == 2 and message in run.output and len(run.output.strip().splitlines()) == 1


def test_cli_report_and_compare(report_dir: Path, tmp_path: Path):
    runner = CliRunner()
    run = runner.invoke(app, ["report", str(report_dir)])
    assert run.exit_code == 0 and "index.html" in run.output
    run = runner.invoke(app, ["compare", str(report_dir), str(report_dir), "--out", str(tmp_path)])
    assert run.exit_code == 0 and (tmp_path / "index.html").is_file()


def chromium_or_skip() -> None:
    """Skip (or fail under CI, where ``make test`` installs it) when no browser can be driven."""
    pytest.importorskip("playwright", reason="playwright is not installed: pip install -e '.[test]'")
    if CHROMIUM.is_file():
        return
    installable = shutil.which("apt-get") is not None and os.geteuid() == 0
    if installable and os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing although apt-get is usable: `make test` should have installed it")
    pytest.skip(f"{CHROMIUM} is missing" + ("; run `make test` (it installs chromium with apt-get)" if installable
                                          else " and cannot be installed here (no apt-get, or not root)"))


@pytest.mark.slow
def test_report_in_headless_chromium(report_dir: Path, tmp_path: Path):
    chromium_or_skip()
    errors: list[str] = []
    layer2 = Results.load(report_dir).layers["layer2"]
    concept = layer2.units[0].label
    with chromium_page(errors, width=1200) as page:
        for name in ["index.html", "report/layers.html", "report/concepts.html", "report/concept-alpha.html"]:
            page.goto((report_dir / name).as_uri(), wait_until="load")
        page.goto((report_dir / "report" / "layer-layer2.html").as_uri(), wait_until="load")
        page.select_option("select[name=concept]", concept)
        visible = page.locator(".card:visible")
        labels = visible.evaluate_all("cards => cards.map(c => c.dataset.label)")
        assert labels and set(labels) == {concept}
        assert len(labels) == sum(1 for u in layer2.units if u.label == concept)
        assert "showing" in page.inner_text("output[data-count]")
        page.select_option("select[name=concept]", "")
        page.fill("input[name=unit]", "3")
        assert visible.evaluate_all("cards => cards.map(c => c.dataset.unit)") == ["3"]
        page.fill("input[name=unit]", "")
        page.screenshot(path=tmp_path / "layer2.png", full_page=True)
    assert errors == []
    assert (tmp_path / "layer2.png").stat().st_size > 10_000
