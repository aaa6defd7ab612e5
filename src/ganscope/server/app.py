"""The FastAPI app: JSON API, the original tool's ``/api/generate``, and the paint and unit-browser pages.

``create_app(session, results, directory=DIR)`` builds it; ``ganscope serve`` runs
it under uvicorn. API docs (OpenAPI) are at ``/docs``. The only file the server writes is
``DIR/marked_units.json`` (units marked as artifacts in the unit browser).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from ganscope.artifacts.marks import MarkStore
from ganscope.artifacts.summary import candidate_ranking
from ganscope.errors import GanscopeError
from ganscope.painting import PAINT_UNITS, Palette
from ganscope.results import Results
from ganscope.server import schemas as s
from ganscope.server.errors import add_handlers
from ganscope.server.limits import MAX_BODY_BYTES, BodyLimit, HeadAsGet
from ganscope.server.photos import add_photo_routes
from ganscope.server.service import ModelService, data_url
from ganscope.server.work import legacy_work, paint_work, refuse_costly
from ganscope.session import Session

STATIC = Path(__file__).parent / "static"
PNG = {200: {"content": {"image/png": {}}, "description": "a PNG image"}}


def create_app(session: Session, results: Results, *, layer: str | None = None, units: int = PAINT_UNITS,
               max_body: int = MAX_BODY_BYTES, directory: str | Path | None = None,
               photo_options: dict[str, Any] | None = None) -> FastAPI:
    """The server for the session's generator and its dissection ``results``.

    Painting a concept edits its paint set (``paint_sets.json`` in ``directory``, from
    ``ganscope paint-sets``); without one, or when ``layer`` is given, it edits the top ``units`` by IoU of
    ``layer`` (default: 20, of the middle dissected layer), and the page says so.
    The session's segmenter must be the one the results were dissected with (or None): its concepts
    are checked against theirs, so a palette never names the wrong labels.
    ``directory`` is the results directory: artifact marks are kept there (without it, units
    cannot be marked) and the artifact ranking of ``ganscope artifacts`` is read from there.
    Uploaded photos are inverted at the paint layer with ``ganscope.photos.invert``'s defaults, or
    ``photo_options`` (its keyword arguments, e.g. fewer steps).
    """
    if list(getattr(session.segmenter, "concepts", results.concept_names)) != results.concept_names:
        raise GanscopeError(f"the segmenter's concepts differ from those of the results ({results.segmenter}); "
                            "serve the results with the segmenter they were dissected with")
    service = ModelService(session, results)
    store = None if directory is None else MarkStore(directory)
    if store is not None:
        store.load()  # a corrupt marks file stops the server at start, with the file named
    palette = Palette.of(session, results, directory, layer=layer, top=units, sets="auto" if layer is None else None)
    app = FastAPI(title="ganscope", summary="GAN Dissection: dissection results, interventions, painting.",
                  version="1")
    app.add_middleware(BodyLimit, max_bytes=max_body)
    app.add_middleware(HeadAsGet)
    add_handlers(app)
    info = _info(results, palette, store is not None)

    def layer_result(name: str) -> Any:
        try:
            return results.layer(name)
        except GanscopeError as err:
            raise HTTPException(404, str(err)) from None

    def unit_result(name: str, unit: int) -> Any:
        units_ = layer_result(name).units
        if not 0 <= unit < len(units_):
            raise HTTPException(404, f"unit {unit} is out of range: layer {name!r} has {len(units_)} units")
        return units_[unit]

    def marks(name: str, change: Callable[[MarkStore], list[int]] | None = None) -> s.MarkedUnits:
        """The layer's marked units after ``change(store)``; marks that cannot be read or kept are a 409."""
        layer_result(name)
        if store is None:
            raise HTTPException(409, "this server keeps no marks: it was started without its results directory")
        try:
            return s.MarkedUnits(layer=name, units=(change or (lambda st: st.marked(name)))(store))
        except GanscopeError as err:  # a corrupt marks file (MarksError) or an unwritable results directory
            raise HTTPException(409, str(err)) from None

    def strip_url(name: str, unit: int) -> str:
        return f"/api/layers/{name}/units/{unit}/strip.png"

    @app.get("/api/info", response_model=s.Info, tags=["results"])
    def get_info() -> s.Info:
        """Everything the pages need: layers, concepts with their units, paint defaults."""
        return info

    @app.get("/api/layers", response_model=list[s.LayerInfo], tags=["results"])
    def get_layers() -> list[s.LayerInfo]:
        return info.layers

    @app.get("/api/concepts", response_model=list[s.ConceptInfo], tags=["results"])
    def get_concepts() -> list[s.ConceptInfo]:
        return info.concepts

    @app.get("/api/layers/{name}/units", response_model=list[s.UnitSummary], tags=["results"])
    def get_units(name: str, concept: str | None = None, n: int = Query(0, ge=0, le=100_000)) -> list[s.UnitSummary]:
        """The layer's units; with ``concept``, its top ``n`` units by IoU for that concept (IoU for it)."""
        result = layer_result(name)
        if concept is None:
            chosen = list(range(len(result.units)))[: n or None]
            ious = [u.iou for u in result.units]
        else:
            chosen = results.top_units(name, concept, n or len(result.units))
            ious = results.iou_table(name)[:, results.concept_names.index(concept)].tolist()
        return [s.UnitSummary(unit=u, label=result.units[u].label, category=result.units[u].category,
                              iou=ious[u], strip=strip_url(name, u)) for u in chosen]

    @app.get("/api/layers/{name}/units/{unit}", response_model=s.UnitDetail, tags=["results"])
    def get_unit(name: str, unit: int) -> s.UnitDetail:
        """A unit's dissection data; its top images are at ``strip``."""
        return s.UnitDetail(layer=name, strip=strip_url(name, unit), **unit_result(name, unit).model_dump())

    @app.get("/api/layers/{name}/units/{unit}/strip.png", response_class=Response, responses=PNG, tags=["images"])
    async def get_strip(name: str, unit: int) -> Response:
        """The unit's top samples, its thresholded region outlined (as in the report)."""
        unit_result(name, unit)
        if f"{name}/topk_maps" not in results.tables:
            raise HTTPException(404, f"the results hold no top-sample maps for layer {name!r}")
        return Response(await service.call(service.unit_strip, name, unit), media_type="image/png")

    @app.get("/api/layers/{name}/marked", response_model=s.MarkedUnits, tags=["artifacts"])
    def get_marked(name: str) -> s.MarkedUnits:
        """The layer's units marked as artifacts (``ganscope artifacts --marked`` ablates them)."""
        return marks(name)

    @app.put("/api/layers/{name}/units/{unit}/mark", response_model=s.MarkedUnits, tags=["artifacts"])
    def mark_unit(name: str, unit: int) -> s.MarkedUnits:
        """Mark the unit as an artifact unit (kept in the results directory's ``marked_units.json``)."""
        unit_result(name, unit)
        return marks(name, lambda st: st.mark(name, unit, True))

    @app.delete("/api/layers/{name}/units/{unit}/mark", response_model=s.MarkedUnits, tags=["artifacts"])
    def unmark_unit(name: str, unit: int) -> s.MarkedUnits:
        """Remove the unit's artifact mark (nothing happens when it has none)."""
        unit_result(name, unit)
        return marks(name, lambda st: st.mark(name, unit, False))

    @app.get("/api/layers/{name}/candidates", response_model=s.Candidates, tags=["artifacts"])
    def get_candidates(name: str) -> s.Candidates:
        """The layer's artifact ranking, if ``ganscope artifacts`` wrote one (``artifacts.json``) to the results."""
        count = len(layer_result(name).units)
        ranking = None if directory is None else candidate_ranking(Path(directory), name)
        if ranking is None:
            return s.Candidates(layer=name, score=None, features=None, top=0, units=[])
        ranked = [s.Candidate(**u) for u in ranking.pop("units") if 0 <= u["unit"] < count]
        return s.Candidates(**ranking, units=ranked)

    @app.get("/api/samples", response_model=s.SampleList, tags=["images"])
    def get_samples(start: int = Query(0, ge=0, le=2**31 - 1), count: int = Query(12, ge=1, le=256),
                    seed: int | None = Query(None, ge=0, le=2**63 - 1)) -> s.SampleList:
        seed = results.seed if seed is None else seed
        return s.SampleList(seed=seed, samples=[s.Sample(index=i, url=f"/api/samples/{i}.png?seed={seed}")
                                                for i in range(start, start + count)])

    @app.get("/api/samples/{index}.png", response_class=Response, responses=PNG, tags=["images"])
    async def get_sample(index: int, seed: int | None = Query(None, ge=0, le=2**63 - 1)) -> Response:
        """Sample ``index`` (latent(seed, index)) without edits."""
        if not 0 <= index < 2**31:
            raise HTTPException(400, "index must be in 0 .. 2^31 - 1")
        seed = results.seed if seed is None else seed
        return Response(await service.call(service.sample_png, seed, index), media_type="image/png")

    @app.post("/api/intervene", response_model=s.ImageResponse, tags=["interventions"])
    async def intervene(request: s.InterveneRequest, http: Request) -> s.ImageResponse:
        """One sample with edits applied in order: draw (insert) or remove (ablate) units in a region.

        The paint page sends its whole stroke history with each stroke (the server keeps no state).
        """
        refuse_costly(paint_work(request.edits, results.image_size))
        seed = results.seed if request.seed is None else request.seed
        png = await service.call(service.painted_png, seed, request.index, palette, request.edits, request=http)
        return s.ImageResponse(image=data_url(png), width=results.image_size[1], height=results.image_size[0])

    @app.post("/api/generate", response_model=s.GenerateResponse, tags=["compatibility"])
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

    @app.get("/", include_in_schema=False)
    def paint_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/browse", include_in_schema=False)
    def browse_page() -> FileResponse:
        return FileResponse(STATIC / "browse.html")

    add_photo_routes(app, service, palette, photo_options or {})
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.service = service
    return app


def _info(results: Results, palette: Palette, marking: bool) -> s.Info:
    """The results' layers and concepts (units labelled with each, best IoU first)."""
    layers = [s.LayerInfo(name=name, units=len(r.units), shape=r.shape, interpretable=r.interpretable)
              for name, r in results.layers.items()]
    concepts = []
    for concept in results.concepts[1:]:
        labelled = {name: [u.unit for u in sorted(r.units, key=lambda u: -u.iou)
                           if u.label == concept.name and u.iou > results.iou_cutoff]
                    for name, r in results.layers.items()}
        concepts.append(s.ConceptInfo(name=concept.name, category=concept.category, units=labelled))
    return s.Info(model=results.model, segmenter=results.segmenter,
                  seed=results.seed, image_size=results.image_size,
                  paint=_paint_defaults(palette), layers=layers, concepts=concepts,
                  marking=marking)



def _paint_defaults(palette: Palette) -> s.PaintDefaults:
    """What each concept's draw and remove buttons edit, for the page to show."""
    buttons = {}
    for concept in palette.results.concept_names[1:]:
        chosen = {mode: palette.button(concept, mode) for mode in ("draw", "remove")}
        buttons[concept] = {mode: s.PaintButton(layer=b.layer, units=len(b.units), source=b.source)
                            for mode, b in chosen.items()}
    return s.PaintDefaults(layer=palette.layer, units=palette.top, source="IoU" if palette.sets is None else
                           "paint set", note=palette.note, buttons=buttons)
