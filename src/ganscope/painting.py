"""Painting with units: brush strokes to a region, and a concept's units drawn or removed in it.

What the paint page, the notebook widgets and ``ganscope.painting.paint`` users share. A paint
edit uses a concept's top units by IoU in a dissected layer (default: the top 20 units of the
middle dissected layer): "remove" ablates them in the region, "draw" inserts them at their
99.5th-percentile activation. Regions are max-pooled onto the layer's grid (the original GAN
Dissection server's default, ``maskpooling: "max"``): a feature cell is edited when any painted
pixel falls in it, so even a thin brush stroke edits something; ``"mean"`` blends by coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import nn

from ganscope.edits import Intervention, check_units
from ganscope.errors import GanscopeError
from ganscope.intervene.values import insertion_values
from ganscope.regions import Region
from ganscope.results import Results
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


@dataclass(frozen=True)
class PooledRegion(Region):
    """A region whose cells are the max-pooled (or mean-pooled, fractional) mask."""

    pooling: str = "max"

    def cells(self, h: int, w: int) -> torch.Tensor:
        pool = F.adaptive_max_pool2d if self.pooling == "max" else F.adaptive_avg_pool2d
        return pool(self.mask[None, None].float(), (h, w))[0, 0]


def pooled(mask: np.ndarray, pooling: str = "max") -> PooledRegion | None:
    """The region of a boolean mask (H, W); None when nothing is painted (the edit does nothing)."""
    if not mask.any():
        return None
    return PooledRegion(torch.from_numpy(mask.astype(bool)), pooling=pooling)


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
          concept: str | None = None, units: Sequence[int] | None = None, top: int = PAINT_UNITS,
          strength: float = 1.0) -> Intervention:
    """Draw (insert) or remove (ablate) ``units``, or ``concept``'s top ``top`` units, in ``region``."""
    if mode not in ("draw", "remove"):
        raise GanscopeError(f"mode must be draw or remove, got {mode!r}", argument="mode")
    if units is None:
        if concept is None:
            raise GanscopeError("name a concept or the units to paint with", argument="concept")
        units = results.top_units(layer, concept, top)
    chosen = check_units(units, len(results.layer(layer).units), layer)
    values = insertion_values(results, layer, chosen) if mode == "draw" else None
    return Intervention(layer, chosen, values, region, strength)
