"""``results`` routes: the dissection's layers, concepts and units."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ganscope.server import schemas as s
from ganscope.server.state import ServerState, strip_url


def router(state: ServerState, info: s.Info) -> APIRouter:
    results = state.results
    api = APIRouter(tags=["results"])

    @api.get("/api/info", response_model=s.Info)
    def get_info() -> s.Info:
        """Everything the pages need: layers, concepts with their units, paint defaults."""
        return info

    @api.get("/api/layers", response_model=list[s.LayerInfo])
    def get_layers() -> list[s.LayerInfo]:
        return info.layers

    @api.get("/api/concepts", response_model=list[s.ConceptInfo])
    def get_concepts() -> list[s.ConceptInfo]:
        return info.concepts

    @api.get("/api/layers/{name}/units", response_model=list[s.UnitSummary])
    def get_units(name: str, concept: str | None = None, n: int = Query(0, ge=0, le=100_000)) -> list[s.UnitSummary]:
        """The layer's units; with ``concept``, its top ``n`` units by IoU for that concept (IoU for it)."""
        result = state.layer(name)
        if concept is None:
            chosen = list(range(len(result.units)))[: n or None]
            ious = [u.iou for u in result.units]
        else:
            chosen = results.top_units(name, concept, n or len(result.units))
            ious = results.iou_table(name)[:, results.concept_names.index(concept)].tolist()
        return [s.UnitSummary(unit=u, label=result.units[u].label, category=result.units[u].category,
                              iou=ious[u], strip=strip_url(name, u)) for u in chosen]

    @api.get("/api/layers/{name}/units/{unit}", response_model=s.UnitDetail)
    def get_unit(name: str, unit: int) -> s.UnitDetail:
        """A unit's dissection data; its top images are at ``strip``."""
        return s.UnitDetail(layer=name, strip=strip_url(name, unit), **state.unit(name, unit).model_dump())

    return api
