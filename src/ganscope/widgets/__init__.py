"""Notebook widgets: paint with units, switch units off, rank units by a painted mask.

Each widget is an anywidget (JupyterLab, Notebook 7, VS Code, marimo) whose front-end is one
ES module, ``widget.js``: it shows the image, takes brush strokes and clicks, and sends them as
synced traits. The kernel side answers through the same session and ``ganscope.painting`` as the
paint page, with the new image as a data URL; nothing starts a web server. Every change of
``index``, ``strokes`` or ``off`` recomputes the image, so a widget is also scriptable:
``widget.strokes = [...]`` does what a stroke in the browser does. Install with
``pip install 'ganscope[notebook]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganscope.errors import GanscopeError

try:
    import anywidget
    import traitlets as t
except ImportError as err:  # pragma: no cover - depends on the environment
    raise GanscopeError("the notebook widgets need anywidget: pip install 'ganscope[notebook]'") from err

from dataclasses import replace

import torch

from ganscope.edits import Intervention, ablation, check_units
from ganscope.images import png_bytes, to_pil
from ganscope.intervene.rankmask import ABLATION_SIZES, rank_by_mask
from ganscope.notebook import data_url
from ganscope.painting import PAINT_UNITS, Palette, paint_layer, rasterise
from ganscope.paintsets.store import PaintSets
from ganscope.regions import pooled
from ganscope.results import Results
from ganscope.session import Session

__all__ = ["MaskRanker", "PaintWidget", "UnitBrowser"]
BROWSER_UNITS = 24


class _SampleWidget(anywidget.AnyWidget):
    """One sample of the session at a time, redrawn whenever what edits it changes."""

    _esm = Path(__file__).with_name("widget.js")
    kind = t.Unicode().tag(sync=True)
    index = t.Int(0).tag(sync=True)
    size = t.List(t.Int()).tag(sync=True)  # image (H, W)
    layer = t.Unicode().tag(sync=True)
    image = t.Unicode("").tag(sync=True)  # the current image, a PNG data URL
    error = t.Unicode("").tag(sync=True)  # why the last change could not be drawn, or ""
    _redraw_on = ("index",)

    def __init__(self, session: Session, results: Results, layer: str | None = None, **traits: Any):
        self.session, self.results = session.with_options(seed=results.seed), results
        layer = layer or paint_layer(session.generator, results)
        results.layer(layer)
        super().__init__(layer=layer, size=list(results.image_size), **traits)
        self.observe(lambda _change: self.redraw(), names=list(self._redraw_on))
        self.redraw()

    @t.validate("index")
    def _valid_index(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] < 0:
            raise t.TraitError(f"index must be >= 0, got {proposal['value']}")
        return proposal["value"]

    def edits(self) -> list[Intervention]:
        return []

    def redraw(self) -> None:
        """Recompute the image; a bad edit (say, an empty region) is shown as the widget's error."""
        try:
            self.image = _png_url(self.session.images([self.index], edits=self.edits())[0])
            self.error = ""
        except GanscopeError as err:
            self.error = str(err)


class PaintWidget(_SampleWidget):
    """GANPaint in a notebook: draw or remove a concept's top units of ``layer`` with a brush.

    ``strokes`` is the history, in order: dicts ``{"points": [[x, y], ...], "radius": r,
    "mode": "draw" | "remove", "concept": name}`` in image pixels. ``undo`` and ``reset`` edit it.
    """

    kind = t.Unicode("paint").tag(sync=True)
    concepts = t.List(t.Unicode()).tag(sync=True)
    units = t.Int(PAINT_UNITS).tag(sync=True)
    strokes = t.List(t.Dict()).tag(sync=True)
    note = t.Unicode("").tag(sync=True)  # why the buttons paint by IoU (no paint sets), or ""
    _redraw_on = ("index", "strokes", "units")

    def __init__(self, session: Session, results: Results, layer: str | None = None, *, units: int = PAINT_UNITS,
                 sets: PaintSets | None = None, **traits: Any):
        self.palette = Palette.of(session, results, layer=layer, top=units, sets="auto" if sets is None else sets)
        if self.palette.sets is not None:
            concepts = sorted({s.concept for s in self.palette.sets.sets}, key=results.concept_names.index)
        else:
            labels = {u.label for u in results.layer(self.palette.layer).units}
            concepts = [c for c in results.concept_names[1:] if c in labels] or results.concept_names[1:]
        super().__init__(session, results, self.palette.layer, concepts=concepts, units=units,
                         note=self.palette.note or "", **traits)

    def edits(self) -> list[Intervention]:
        """The strokes' edits: each concept's paint set, or its top ``units`` by IoU without paint sets."""
        palette = replace(self.palette, top=self.units)
        edits = []
        for stroke in self.strokes:
            region = pooled(rasterise([(stroke["points"], float(stroke["radius"]))], self.size))
            if region is not None:
                edits.append(palette.edit(stroke["mode"], region, concept=stroke["concept"]))
        return edits

    def undo(self) -> None:
        self.strokes = self.strokes[:-1]

    def reset(self) -> None:
        self.strokes = []


class UnitBrowser(_SampleWidget):
    """Switch units of ``layer`` off and on (zeroed everywhere) and watch the sample change.

    ``units`` lists the units offered (default: the layer's best ``BROWSER_UNITS`` by IoU) with
    their labels; ``off`` holds the ones switched off.
    """

    kind = t.Unicode("units").tag(sync=True)
    units = t.List(t.Dict()).tag(sync=True)
    off = t.List(t.Int()).tag(sync=True)
    _redraw_on = ("index", "off")

    def __init__(self, session: Session, results: Results, layer: str | None = None, *,
                 units: list[int] | None = None, **traits: Any):
        layer = layer or paint_layer(session.generator, results)
        ranked = results.layer(layer).units
        best = [u.unit for u in sorted(ranked, key=lambda u: -u.iou)][:BROWSER_UNITS]
        chosen = check_units(best if units is None else units, len(ranked), layer)
        info = [{"unit": u, "label": ranked[u].label, "iou": ranked[u].iou} for u in chosen]
        super().__init__(session, results, layer, units=info, **traits)

    def edits(self) -> list[Intervention]:
        return [ablation(self.layer, self.off)] if self.off else []


class MaskRanker(_SampleWidget):
    """The walk-through in a widget: paint a mask, rank ``layer``'s units by it, zero the top ones.

    ``strokes`` (dicts with ``points`` and ``radius``) make the mask. ``ranking`` holds the best
    units (unit, score) and ``ablated`` the images with the top 4, 16 and 128 units zeroed, with
    ``concept``'s share of the masked pixels left in each when a concept is chosen.
    """

    kind = t.Unicode("mask").tag(sync=True)
    strokes = t.List(t.Dict()).tag(sync=True)
    concept = t.Unicode("").tag(sync=True)
    concepts = t.List(t.Unicode()).tag(sync=True)
    ranking = t.List(t.Dict()).tag(sync=True)
    ablated = t.List(t.Dict()).tag(sync=True)  # {"top": n, "image": data URL, "left": fraction or None}
    _redraw_on = ("index", "strokes", "concept")

    def __init__(self, session: Session, results: Results, layer: str | None = None, **traits: Any):
        super().__init__(session, results, layer, concepts=results.concept_names[1:], **traits)

    def redraw(self) -> None:
        mask = rasterise([(s["points"], float(s["radius"])) for s in self.strokes], self.size)
        if not mask.any():
            self.ranking, self.ablated = [], []
            super().redraw()
            return
        ranking = rank_by_mask(self.session.at(self.layer), torch.from_numpy(mask), start=self.index)
        images = ranking.images
        self.image, self.error = _png_url(images[0]), ""  # the original, already drawn by the ranking
        left: list[float | None] = [None] * len(images)
        if self.concept:
            left = self.session.fractions(images, self.concept, footprint=torch.from_numpy(mask).float()).tolist()
        self.ranking = [{"unit": u, "score": round(ranking.scores[u], 4)} for u in ranking.ranking[:8]]
        self.ablated = [{"top": n, "image": _png_url(image), "left": share}
                        for n, image, share in zip((0, *ABLATION_SIZES), images, left)]


def _png_url(image: torch.Tensor) -> str:
    return data_url(png_bytes(to_pil(image)))
