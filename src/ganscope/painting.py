"""Painting with units: brush strokes to a region, and a concept's units drawn or removed in it.

What the paint page, the notebook widgets and ``ganscope.painting.paint`` users share. A
:class:`Palette` says what each button edits: with the results' paint sets
(``ganscope paint-sets``), a concept's causal set for that button (its layer, units and
per-unit levels); without them, the concept's top units by IoU in a dissected layer (default:
the top 20 units of the middle dissected layer), "remove" ablating them in the region and
"draw" inserting them at their 99.5th-percentile activation, with a note saying so.
Brush strokes become ``regions.PooledRegion``s (a cell is edited when any painted pixel falls in it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from ganscope.edits import Intervention, check_units
from ganscope.errors import GanscopeError
from ganscope.intervene.values import insertion_values
from ganscope.paintsets.store import PaintSets, find
from ganscope.regions import Region
from ganscope.results import Results
from ganscope.session import Session
from ganscope.trace import layer_names

PAINT_UNITS = 20
Stroke = tuple[Sequence[tuple[float, float]], float]  # a polyline of (x, y) image pixels and a brush radius


def paint_layer(generator: nn.Module, results: Results) -> str:
    """The middle dissected layer in the generator's order (e.g. layer6 of layer2, layer6, layer9)."""
    order = {name: i for i, name in enumerate(layer_names(generator))}
    layers = sorted(results.layers, key=lambda name: order.get(name, len(order)))
    if not layers:
        raise GanscopeError("the results hold no layers")
    return layers[len(layers) // 2]


def rasterise(strokes: Sequence[Stroke], size: Sequence[int]) -> np.ndarray:
    """Boolean mask (H, W) of brush strokes: polylines of (x, y) image pixels with a brush radius each."""
    h, w = size
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for points, radius in strokes:
        xy = [(float(x), float(y)) for x, y in points]
        if len(xy) > 1:
            draw.line(xy, fill=255, width=max(1, round(2 * radius)), joint="curve")
        for x, y in xy:  # round caps and joints; a single point is a dab
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(canvas) > 0


def paint(results: Results, layer: str, mode: Literal["draw", "remove"], region: Region | None = None, *,
          concept: str | None = None, units: Sequence[int] | None = None, values: Sequence[float] | None = None,
          top: int = PAINT_UNITS, strength: float = 1.0, sets: PaintSets | None = None) -> Intervention:
    """Draw (insert) or remove (ablate) in ``region``: ``concept``'s paint set from ``sets`` when it has one,
    else ``units`` (drawn at ``values``, default their 99.5th percentiles) or ``concept``'s top ``top`` units
    by IoU, at ``layer``."""
    if mode not in ("draw", "remove"):
        raise GanscopeError(f"mode must be draw or remove, got {mode!r}", argument="mode")
    chosen_set = sets.get(concept, mode) if sets is not None and units is None and concept is not None else None
    if chosen_set is not None:
        levels = torch.tensor(chosen_set.levels) if mode == "draw" else None
        return Intervention(chosen_set.layer, chosen_set.units, levels, region, strength)
    if units is None:
        if concept is None:
            raise GanscopeError("name a concept or the units to paint with", argument="concept")
        units = results.top_units(layer, concept, top)
    chosen = check_units(units, len(results.layer(layer).units), layer)
    if values is not None and len(values) != len(chosen):
        raise GanscopeError(f"{len(values)} values for {len(chosen)} units", argument="values")
    if mode == "remove":
        return Intervention(layer, chosen, None, region, strength)
    level = torch.tensor(list(values)) if values is not None else insertion_values(results, layer, chosen)
    return Intervention(layer, chosen, level, region, strength)


@dataclass(frozen=True)
class Button:
    """What one paint button edits."""

    layer: str
    units: list[int]
    levels: list[float] | None  # None: the units' 99.5th-percentile values (draw) or 0 (remove)
    source: Literal["paint set", "IoU"]


@dataclass(frozen=True)
class Palette:
    """The paint buttons of a dissection: paint sets where the results have them, else the IoU ranking."""

    results: Results
    layer: str  # the IoU fallback's layer
    top: int = PAINT_UNITS
    sets: PaintSets | None = None

    @classmethod
    def of(cls, session: Session, results: Results, directory: str | Path | None = None, *,
           layer: str | None = None, top: int = PAINT_UNITS,
           sets: PaintSets | Literal["auto"] | None = "auto", weights: str | None = None) -> Palette:
        """The palette of ``results``, painting by IoU at ``layer`` (default: the middle dissected layer) where a
        concept has no paint set.

        ``sets="auto"`` reads the paint sets of the results directory (``directory``, default: where ``results``
        were loaded from) when it has them; ``None`` paints by IoU only. Sets are checked against the weights
        fingerprint ``weights`` (default: the session's): stale sets are an error that says to recompute them.
        """
        if sets == "auto":
            path = find(directory if directory is not None else results.directory)
            sets = PaintSets.load(path) if path is not None else None
        if sets is not None:
            sets.check(weights or session.weights_fingerprint, {n: r.shape[0] for n, r in results.layers.items()})
        layer = layer or paint_layer(session.generator, results)
        results.layer(layer)
        return cls(results, layer, top, sets)

    @property
    def note(self) -> str | None:
        """Why the buttons fall back to the IoU ranking, or None when the paint sets drive them."""
        if self.sets is not None:
            return None
        return (f"no paint sets: each concept edits its top {self.top} units of {self.layer} by IoU, which often "
                "fails to draw; compute causal sets with `ganscope paint-sets`")

    def button(self, concept: str, mode: Literal["draw", "remove"]) -> Button:
        chosen = self.sets.get(concept, mode) if self.sets is not None else None
        if chosen is not None:
            return Button(chosen.layer, chosen.units, chosen.levels if mode == "draw" else None, "paint set")
        return Button(self.layer, self.results.top_units(self.layer, concept, self.top), None, "IoU")

    def edit(self, mode: Literal["draw", "remove"], region: Region | None = None, *, concept: str | None = None,
             units: Sequence[int] | None = None, values: Sequence[float] | None = None, layer: str | None = None,
             top: int | None = None, strength: float = 1.0) -> Intervention:
        """The button's edit for ``concept``; explicit ``units``, ``layer`` or ``top`` paint by IoU instead."""
        by_set = units is None and layer is None and top is None
        return paint(self.results, layer or self.layer, mode, region, concept=concept, units=units, values=values,
                     top=top or self.top, strength=strength, sets=self.sets if by_set else None)
