"""The FastAPI app: JSON API, the original tool's ``/api/generate``, and the paint and unit-browser pages.

``create_app(session, results, directory=DIR)`` builds it; ``ganscope serve`` runs
it under uvicorn. API docs (OpenAPI) are at ``/docs``. The only file the server writes is
``DIR/marked_units.json`` (units marked as artifacts in the unit browser).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ganscope.artifacts.marks import MarkStore
from ganscope.errors import GanscopeError
from ganscope.painting import PAINT_UNITS, Palette
from ganscope.results import Results
from ganscope.server import schemas as s
from ganscope.server.errors import add_handlers
from ganscope.server.limits import MAX_BODY_BYTES, BodyLimit, HeadAsGet
from ganscope.server.photos import add_photo_routes
from ganscope.server.routes import artifacts as artifact_routes
from ganscope.server.routes import images as image_routes
from ganscope.server.routes import paint as paint_routes
from ganscope.server.routes import results as results_routes
from ganscope.server.service import ModelService
from ganscope.server.state import ServerState
from ganscope.session import Session


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
    state = ServerState(results, service, palette, store, None if directory is None else Path(directory))
    app = FastAPI(title="ganscope", summary="GAN Dissection: dissection results, interventions, painting.",
                  version="1")
    app.add_middleware(BodyLimit, max_bytes=max_body)
    app.add_middleware(HeadAsGet)
    add_handlers(app)
    app.include_router(results_routes.router(state, _info(results, palette, store is not None)))
    app.include_router(image_routes.router(state))
    app.include_router(artifact_routes.router(state))
    app.include_router(paint_routes.router(state))
    add_photo_routes(app, service, palette, photo_options or {})
    app.mount("/static", StaticFiles(directory=paint_routes.STATIC), name="static")
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
