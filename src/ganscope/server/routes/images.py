"""``images`` routes: unit strips and plain samples, as PNG."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from ganscope.server import schemas as s
from ganscope.server.state import PNG, ServerState


def router(state: ServerState) -> APIRouter:
    results, service = state.results, state.service
    api = APIRouter(tags=["images"])

    @api.get("/api/layers/{name}/units/{unit}/strip.png", response_class=Response, responses=PNG)
    async def get_strip(name: str, unit: int) -> Response:
        """The unit's top samples, its thresholded region outlined (as in the report)."""
        state.unit(name, unit)
        if f"{name}/topk_maps" not in results.tables:
            raise HTTPException(404, f"the results hold no top-sample maps for layer {name!r}")
        return Response(await service.call(service.unit_strip, name, unit), media_type="image/png")

    @api.get("/api/samples", response_model=s.SampleList)
    def get_samples(start: int = Query(0, ge=0, le=2**31 - 1), count: int = Query(12, ge=1, le=256),
                    seed: int | None = Query(None, ge=0, le=2**63 - 1)) -> s.SampleList:
        seed = results.seed if seed is None else seed
        return s.SampleList(seed=seed, samples=[s.Sample(index=i, url=f"/api/samples/{i}.png?seed={seed}")
                                                for i in range(start, start + count)])

    @api.get("/api/samples/{index}.png", response_class=Response, responses=PNG)
    async def get_sample(index: int, seed: int | None = Query(None, ge=0, le=2**63 - 1)) -> Response:
        """Sample ``index`` (latent(seed, index)) without edits."""
        if not 0 <= index < 2**31:
            raise HTTPException(400, "index must be in 0 .. 2^31 - 1")
        seed = results.seed if seed is None else seed
        return Response(await service.call(service.sample_png, seed, index), media_type="image/png")

    return api
