"""What every route of one server shares: the results, the model service, the palette, the marks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from ganscope.artifacts.marks import MarkStore
from ganscope.errors import GanscopeError
from ganscope.painting import Palette
from ganscope.results import LayerResult, Results, UnitResult
from ganscope.server.service import ModelService

PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}, "description": "a PNG image"}}


@dataclass(frozen=True)
class ServerState:
    """The server's parts; ``directory`` is the results directory (None: no marks, no artifact ranking)."""

    results: Results
    service: ModelService
    palette: Palette
    store: MarkStore | None
    directory: Path | None

    def layer(self, name: str) -> LayerResult:
        """The dissected layer, or a 404 naming the known ones."""
        try:
            return self.results.layer(name)
        except GanscopeError as err:
            raise HTTPException(404, str(err)) from None

    def unit(self, name: str, unit: int) -> UnitResult:
        units = self.layer(name).units
        if not 0 <= unit < len(units):
            raise HTTPException(404, f"unit {unit} is out of range: layer {name!r} has {len(units)} units")
        return units[unit]


def strip_url(name: str, unit: int) -> str:
    return f"/api/layers/{name}/units/{unit}/strip.png"
