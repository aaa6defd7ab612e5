"""``interventions`` and ``compatibility`` routes (painted samples, the original tool's ``/api/generate``),
and the two pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ganscope.server import schemas as s
from ganscope.server.service import data_url
from ganscope.server.state import ServerState
from ganscope.server.work import legacy_work, paint_work, refuse_costly

STATIC = Path(__file__).parents[1] / "static"


def router(state: ServerState) -> APIRouter:
    results, service, palette = state.results, state.service, state.palette
    api = APIRouter()

    @api.post("/api/intervene", response_model=s.ImageResponse, tags=["interventions"])
    async def intervene(request: s.InterveneRequest, http: Request) -> s.ImageResponse:
        """One sample with edits applied in order: draw (insert) or remove (ablate) units in a region.

        The paint page sends its whole stroke history with each stroke (the server keeps no state).
        """
        refuse_costly(paint_work(request.edits, results.image_size))
        seed = results.seed if request.seed is None else request.seed
        png = await service.call(service.painted_png, seed, request.index, palette, request.edits, request=http)
        return s.ImageResponse(image=data_url(png), width=results.image_size[1], height=results.image_size[0])

    @api.post("/api/generate", response_model=s.GenerateResponse, tags=["compatibility"])
    async def generate(request: s.GenerateRequest, http: Request) -> s.GenerateResponse:
        """The original GAN Dissection server's generate call: ``ids`` or ``zs``, with ``interventions``.

        Masks are max-pooled to each layer's feature size (``maskpooling: "mean"`` blends by coverage).
        Images come back as PNG data URLs in ``res[i].d``.
        """
        ids, interventions = request.ids, request.interventions or []
        refuse_costly(legacy_work(interventions, len(ids if ids is not None else request.zs or [])))
        pngs = await service.call(service.generated_pngs, ids, request.zs, interventions, request=http)
        return s.GenerateResponse(request=request, res=[
            s.GeneratedImage(id=ids[k] if ids is not None else None, d=data_url(png)) for k, png in enumerate(pngs)])

    @api.get("/", include_in_schema=False)
    def paint_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @api.get("/browse", include_in_schema=False)
    def browse_page() -> FileResponse:
        return FileResponse(STATIC / "browse.html")

    return api
