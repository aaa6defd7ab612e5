"""Rich displays in Jupyter: what ``Results``, a layer and a unit show when they end a cell.

``import ganscope`` inside IPython registers these as the HTML displays of ``Results``,
``LayerResult`` and ``UnitResult`` (``register``), so the results module knows nothing of them.
``show_unit(results, layer, unit)`` adds the unit's top samples with its regions, and
``show_edit(session, edit, samples=n, concept=...)`` an intervention's outcome: the images before and
after, with the concept's pixel fraction in each. Everything is
self-contained HTML (images as data URLs), so a saved notebook shows it anywhere. Layers with many
units list the best ``TOP_UNITS`` first and the rest behind a "more" control.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganscope.edits import Intervention
from ganscope.errors import GanscopeError
from ganscope.images import png_bytes, to_pil
from ganscope.intervene.generate import EditResult
from ganscope.report.strips import SampleImages, compose, encode, regions, tile_size
from ganscope.results import SAMPLES_DIR, LayerResult, Results, UnitResult
from ganscope.session import Session

TOP_UNITS = 12


def results_html(results: Results) -> str:
    """Summary, interpretable units per layer and category (a table with bars), and each layer's best units."""
    head = (f"<b>{_e(results.model)}</b> dissected with <b>{_e(results.segmenter)}</b>: {results.samples} samples, "
            f"seed {results.seed}, {_e(results.threshold_rule)} rule, IoU cutoff {results.iou_cutoff}")
    rows = "".join(_counts_row(name, layer, results.iou_cutoff) for name, layer in results.layers.items())
    categories = _categories(results)
    header = "".join(f"<th>{_e(c)}</th>" for c in ["layer", "units", *categories, "interpretable"])
    layers = "".join(f"<details><summary>{_e(name)}: best units</summary>"
                     f"{layer_html(layer, results.iou_cutoff)}</details>" for name, layer in results.layers.items())
    return f"<div>{head}<table><tr>{header}</tr>{rows}</table>{layers}</div>"


def layer_html(layer: LayerResult, cutoff: float = 0.04) -> str:
    """The layer's counts with a bar, and its units by IoU (the best first; the rest behind "more")."""
    ranked = sorted(layer.units, key=lambda u: -u.iou)
    units = "".join(_unit_row(u) for u in ranked[:TOP_UNITS])
    rest = "".join(_unit_row(u) for u in ranked[TOP_UNITS:])
    more = f"<details><summary>more ({len(ranked) - TOP_UNITS} units)</summary><table>{rest}</table></details>" \
        if rest else ""
    counts = ", ".join(f"{c} {n}" for c, n in layer.interpretable.items())
    good = sum(layer.interpretable.values())
    return (f"<div><b>{_e(layer.name)}</b>: {layer.shape[0]} units at {layer.shape[1]} x {layer.shape[2]}; "
            f"interpretable (IoU > {cutoff}): {good} ({_e(counts)}) {_bar(good, layer.shape[0])}"
            f"<table><tr><th>unit</th><th>label</th><th>category</th><th>IoU</th></tr>{units}</table>{more}</div>")


def unit_html(unit: UnitResult) -> str:
    top = ", ".join(f"{_e(c)} {iou:.3f}" for c, iou in unit.top_concepts)
    return (f"<div>unit <b>{unit.unit}</b>: <b>{_e(unit.label)}</b> ({_e(unit.category)}), IoU {unit.iou:.3f}, "
            f"threshold {unit.threshold:.4g}; top concepts: {top or 'none'}; top samples: {unit.top_samples}</div>")


def register(ipython: Any) -> None:
    """Make ``ipython`` display results, layers and units as HTML."""
    html_formatter = ipython.display_formatter.formatters["text/html"]
    html_formatter.for_type(Results, results_html)
    html_formatter.for_type(LayerResult, layer_html)
    html_formatter.for_type(UnitResult, unit_html)


def show_unit(results: Results, layer: str, unit: int) -> UnitView:
    """A displayable unit: label, IoU and its top samples with their regions."""
    return UnitView(results, layer, unit)


class UnitView:
    """A unit with its results: label, IoU and the strip of its top samples with its regions outlined."""

    def __init__(self, results: Results, layer: str, unit: int):
        units = results.layer(layer).units
        if not 0 <= unit < len(units):
            raise GanscopeError(f"unit {unit} is out of range: layer {layer!r} has {len(units)} units",
                                argument="unit")
        self.results, self.layer, self.unit = results, layer, units[unit]

    def __repr__(self) -> str:
        u = self.unit
        return f"Unit({self.layer}:{u.unit} {u.label!r} ({u.category}), IoU {u.iou:.3f})"

    def strip_png(self) -> bytes | None:
        """The unit's top samples as the report draws them, or None without sample images on disk."""
        directory = self.results.directory
        maps_key, index_key = f"{self.layer}/topk_maps", f"{self.layer}/topk_indices"
        if directory is None or not (directory / SAMPLES_DIR).is_dir() or maps_key not in self.results.tables:
            return None
        u = self.unit.unit
        tile = tile_size(self.results.image_size)
        samples = SampleImages(Path(directory) / SAMPLES_DIR, tile)
        mask = regions(self.results.tables[maps_key][u : u + 1], torch.tensor([self.unit.threshold]), tile)
        indices = self.results.tables[index_key][u : u + 1].numpy().astype(np.int64)
        return encode(compose(samples.stack(indices), mask)[0])

    def _repr_html_(self) -> str:
        png = self.strip_png()
        strip = (f'<img src="{data_url(png)}" alt="top samples of unit {self.unit.unit}">' if png else
                 "<i>(no sample images: dissect with out=DIR to see the top samples)</i>")
        return f"<div>{_e(self.layer)} {unit_html(self.unit)}{strip}</div>"


def show_edit(session: Session, edit: Intervention, *, samples: int, start: int = 0,
              concept: str | None = None) -> EditView:
    """A displayable intervention outcome: samples [start, start + samples) before and after ``edit``."""
    from ganscope.intervene.generate import generate

    if concept is not None:
        session.concept(concept)
    return EditView(generate(session.at(edit.layer), edit, samples=samples, start=start), session, concept)


class EditView:
    """Before/after images of an edit and, with a concept, its pixel fraction in each (per sample and mean)."""

    def __init__(self, result: EditResult, session: Session, concept: str | None = None):
        self.result, self.concept = result, concept
        self.indices = list(range(result.start, result.start + result.samples))
        self.before, self.after = result.original, result.edited
        self.fractions = None if concept is None else (session.fractions(self.before, concept).tolist(),
                                                       session.fractions(self.after, concept).tolist())

    def __repr__(self) -> str:
        change = ""
        if self.fractions is not None:
            before, after = (sum(f) / len(f) for f in self.fractions)
            change = f", {self.concept} {before:.3f} -> {after:.3f}"
        return f"Edit({self.result.layer}: {len(self.result.units)} units, {len(self.indices)} samples{change})"

    def _repr_html_(self) -> str:
        cells = []
        for k, index in enumerate(self.indices):
            share = "" if self.fractions is None else \
                f"<br>{_e(self.concept)} {self.fractions[0][k]:.3f} -> {self.fractions[1][k]:.3f}"
            cells.append(f"<td>{_img(self.before[k])}{_img(self.after[k])}<br>sample {index}{share}</td>")
        what = "inserted" if self.result.values is not None else "zeroed"
        units = self.result.units
        return (f"<div>{_e(repr(self))}: units {units[:16]}{' ...' if len(units) > 16 else ''}"
                f" {what}; each cell: before, after<table><tr>{''.join(cells)}</tr></table></div>")


def _img(image: torch.Tensor) -> str:
    return f'<img src="{data_url(png_bytes(to_pil(image)))}" style="width:96px">'


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _categories(results: Results) -> list[str]:
    return list(next(iter(results.layers.values())).interpretable) if results.layers else []


def _counts_row(name: str, layer: LayerResult, cutoff: float) -> str:
    good = sum(layer.interpretable.values())
    cells = "".join(f"<td>{n}</td>" for n in layer.interpretable.values())
    return f"<tr><td>{_e(name)}</td><td>{layer.shape[0]}</td>{cells}<td>{good} {_bar(good, layer.shape[0])}</td></tr>"


def _unit_row(unit: UnitResult) -> str:
    return (f"<tr><td>{unit.unit}</td><td>{_e(unit.label)}</td><td>{_e(unit.category)}</td>"
            f"<td>{unit.iou:.3f}</td></tr>")


def _bar(value: int, total: int) -> str:
    width = round(120 * value / max(total, 1))
    return (f'<span style="display:inline-block;width:{width}px;height:.7em;background:#2f6fdf"'
            f' title="{value} of {total}"></span>')


def _e(text: object) -> str:
    return html.escape(str(text))
