"""Build the report of one dissection directory, or a page comparing several.

Everything is checked (results loaded) before anything is written, every file is
written atomically, and ``index.html`` comes last: a failed build leaves no new index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ganscope.artifacts.summary import artifact_summary
from ganscope.errors import GanscopeError
from ganscope.report import plots, strips
from ganscope.report.pages import copy_static, render
from ganscope.report.summary import LayerSummary, Summary, slug, sorted_units, summarize
from ganscope.results import SAMPLES_DIR, Results

ASSETS = "report"  # DIR/report/ holds every page but index.html, plots, strips and static files


def render_strips(summary: Summary, directory: Path, assets: Path) -> dict[str, dict[str, int]]:
    """Strip images of every layer with activation maps; returns each such layer's strip size."""
    results = summary.results
    samples = strips.SampleImages(directory / SAMPLES_DIR, strips.tile_size(results.image_size))
    sizes = {}
    for layer in results.layers:
        if not strips.has_maps(results, layer):
            continue
        strips.render_layer(results, layer, samples, assets / "strips" / slug(layer))
        h, w = samples.tile
        k = results.tables[f"{layer}/topk_maps"].shape[1]
        sizes[layer] = {"width": k * (w + strips.GUTTER) - strips.GUTTER, "height": h}
    return sizes


def render_plots(summary: Summary, assets: Path) -> None:
    for layer in summary.layers:
        plots.concept_bars(layer.by_concept, summary.concept_category, summary.categories,
                           assets / "plots" / f"{slug(layer.name)}-concepts.svg")
        ious = [u.iou for u in summary.results.layers[layer.name].units]
        plots.iou_histogram(ious, summary.cutoff, assets / "plots" / f"{slug(layer.name)}-iou.svg")
    plots.category_bars([(layer.name, layer.by_category) for layer in summary.layers], summary.categories,
                        assets / "plots" / "layers.svg")


def build_report(directory: str | Path) -> Path:
    """Render ``directory/index.html`` (and ``directory/report/``) from its results; returns the index path."""
    directory = Path(directory)
    results = Results.load(directory)
    summary = summarize(results)
    assets = directory / ASSETS
    copy_static(assets / "static")
    render_plots(summary, assets)
    strip_sizes = render_strips(summary, directory, assets)
    common = {"summary": summary, "results": results, "base": "", "home": "../index.html"}
    rows = [(layer.name, layer) for layer in summary.layers]
    for layer in summary.layers:
        units = sorted_units(results.layers[layer.name])
        labels = [(name, sum(1 for u in units if u.label == name)) for name in sorted({u.label for u in units})]
        render("layer.html", assets / f"layer-{slug(layer.name)}.html", **common, title=f"Layer {layer.name}",
               layer=layer, units=units, labels=labels, strip=strip_sizes.get(layer.name))
    render("layers.html", assets / "layers.html", **common, title="Layer comparison", rows=rows)
    render("concepts.html", assets / "concepts.html", **common, title="Units by concept")
    for concept, units in summary.concept_units.items():
        if units:
            render("concept.html", assets / f"concept-{slug(concept)}.html", **common, title=f"Concept {concept}",
                   concept=concept, units=units, strips=strip_sizes)
    return render("index.html", directory / "index.html", **{**common, "base": f"{ASSETS}/", "home": "index.html"},
                  title=f"Dissection of {results.model}", rows=rows, artifacts=artifact_summary(directory))


@dataclass
class Dissection:
    """One column of a comparison: a results directory, its display name and a link to its report."""

    name: str
    results: Results
    link: str | None
    layers: list[LayerSummary]


def display_names(dirs: list[Path]) -> list[str]:
    """Directory names, or full paths where two directories share a name."""
    names = [d.resolve().name or str(d) for d in dirs]
    return [str(d) if names.count(n) > 1 else n for d, n in zip(dirs, names)]


def compare_report(dirs: list[Path], out: str | Path) -> Path:
    """Render ``out/index.html``: interpretable units per category and concepts covered, per dissection."""
    out = Path(out)
    dirs = [Path(d) for d in dirs]
    if len(dirs) < 2:
        raise GanscopeError(f"give at least two dissection directories to compare (got {len(dirs)})")
    if out.resolve() in {d.resolve() for d in dirs}:
        raise GanscopeError(f"--out {out} is one of the compared dissections; its report would be overwritten")
    dissections = []
    for directory, name in zip(dirs, display_names(dirs)):
        summary = summarize(Results.load(directory))
        index = directory / "index.html"
        link = os.path.relpath(index, out) if index.is_file() else None
        dissections.append(Dissection(name, summary.results, link, summary.layers))
    categories = list(dict.fromkeys(c for d in dissections for layer in d.layers for c in layer.by_category))
    rows = [(f"{d.name} / {layer.name}", layer) for d in dissections for layer in d.layers]
    assets = out / ASSETS
    copy_static(assets / "static")
    plots.category_bars([(label, layer.by_category) for label, layer in rows], categories,
                        assets / "plots" / "compare.svg")
    return render("compare.html", out / "index.html", title=f"Comparing {len(dissections)} dissections",
                  base=f"{ASSETS}/", home="index.html", dissections=dissections, rows=rows, categories=categories)

