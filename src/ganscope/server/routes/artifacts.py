"""``artifacts`` routes: units marked as artifacts in the unit browser, and the artifact ranking."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, HTTPException

from ganscope.artifacts.marks import MarkStore
from ganscope.artifacts.summary import candidate_ranking
from ganscope.errors import GanscopeError
from ganscope.server import schemas as s
from ganscope.server.state import ServerState


def router(state: ServerState) -> APIRouter:
    api = APIRouter(tags=["artifacts"])

    def marks(name: str, change: Callable[[MarkStore], list[int]] | None = None) -> s.MarkedUnits:
        """The layer's marked units after ``change(store)``; marks that cannot be read or kept are a 409."""
        state.layer(name)
        if state.store is None:
            raise HTTPException(409, "this server keeps no marks: it was started without its results directory")
        try:
            return s.MarkedUnits(layer=name, units=(change or (lambda st: st.marked(name)))(state.store))
        except GanscopeError as err:  # a corrupt marks file (MarksError) or an unwritable results directory
            raise HTTPException(409, str(err)) from None

    @api.get("/api/layers/{name}/marked", response_model=s.MarkedUnits)
    def get_marked(name: str) -> s.MarkedUnits:
        """The layer's units marked as artifacts (``ganscope artifacts --marked`` ablates them)."""
        return marks(name)

    @api.put("/api/layers/{name}/units/{unit}/mark", response_model=s.MarkedUnits)
    def mark_unit(name: str, unit: int) -> s.MarkedUnits:
        """Mark the unit as an artifact unit (kept in the results directory's ``marked_units.json``)."""
        state.unit(name, unit)
        return marks(name, lambda st: st.mark(name, unit, True))

    @api.delete("/api/layers/{name}/units/{unit}/mark", response_model=s.MarkedUnits)
    def unmark_unit(name: str, unit: int) -> s.MarkedUnits:
        """Remove the unit's artifact mark (nothing happens when it has none)."""
        state.unit(name, unit)
        return marks(name, lambda st: st.mark(name, unit, False))

    @api.get("/api/layers/{name}/candidates", response_model=s.Candidates)
    def get_candidates(name: str) -> s.Candidates:
        """The layer's artifact ranking, if ``ganscope artifacts`` wrote one (``artifacts.json``) to the results."""
        count = len(state.layer(name).units)
        ranking = None if state.directory is None else candidate_ranking(state.directory, name)
        if ranking is None:
            return s.Candidates(layer=name, score=None, features=None, top=0, units=[])
        ranked = [s.Candidate(**u) for u in ranking.pop("units") if 0 <= u["unit"] < count]
        return s.Candidates(**ranking, units=ranked)

    return api
