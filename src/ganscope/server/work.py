"""What a request will cost, priced from the parsed request before any work starts (over the budget: 413)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException

from ganscope.server.limits import MAX_MASK_PIXELS, MAX_MASK_WORK, MAX_STROKE_WORK, over_budget, stroke_work
from ganscope.server.masks import mask_pixels
from ganscope.server.schemas import Edit, LegacyIntervention

LEGACY_MASK_SHAPE = (256, 256)  # the original server's default mask size


def paint_work(edits: Sequence[Edit], image_size: Sequence[int]) -> list[str | None]:
    """The 413 messages of paint edits: rasterising work of the strokes, decoded mask pixels."""
    strokes = stroke_work((len(s.points), s.radius) for e in edits for s in e.strokes or [])
    pixels = sum(mask_pixels(e.mask.bitstring, e.mask.shape, image_size) for e in edits if e.mask is not None)
    return [over_budget(strokes, MAX_STROKE_WORK, "stroke work (points x (brush radius + 16))"),
            over_budget(pixels, MAX_MASK_PIXELS, "mask pixels")]


def legacy_work(interventions: Sequence[LegacyIntervention], images: int) -> list[str | None]:
    """The 413 messages of the original ``/api/generate``: mask pixels, and mask pixels x images."""
    pixels = sum(mask_pixels(i.mask.bitstring, i.mask.shape, LEGACY_MASK_SHAPE)
                 for i in interventions if i.mask is not None)
    return [over_budget(pixels, MAX_MASK_PIXELS, "mask pixels"),
            over_budget(pixels * max(1, images), MAX_MASK_WORK, "mask pixels x images")]


def refuse_costly(messages: list[str | None]) -> None:
    """413 with the first message, if any."""
    first = next((m for m in messages if m), None)
    if first is not None:
        raise HTTPException(413, first)
