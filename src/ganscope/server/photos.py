"""Photo uploads on the paint page: invert in the background, report progress, paint like on samples.

An upload (the PNG or JPEG file as the request body, capped by the server's body limit and by
``ganscope.photos.images``) gets a random token; everything about it (status, the photo, edits) is
served only under ``/api/photos/{token}``, so one user's photo is never reachable from another path.
Inversions run one at a time in a worker thread, each on its own copy of the generator, taken when
its turn comes (the shared one keeps serving samples, and no hooks mix); the server keeps the last
``MAX_PHOTOS`` uploads. At most ``MAX_QUEUED_PHOTOS`` wait or invert at once and each client may
start ``UPLOADS_PER_MINUTE`` a minute (else 429 with Retry-After); an evicted upload is never inverted.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ganscope.errors import GanscopeError
from ganscope.images import png_bytes, to_pil
from ganscope.painting import Palette
from ganscope.photos import Inversion, invert, read_photo
from ganscope.server import schemas as s
from ganscope.server.edits import paint_edits
from ganscope.server.errors import log
from ganscope.server.limits import MAX_EDITS, MAX_QUEUED_PHOTOS, TooMany
from ganscope.server.service import ModelService, data_url
from ganscope.server.state import PNG
from ganscope.session import Session

MAX_PHOTOS = 8


class PhotoStatus(BaseModel):
    token: str = Field(description="the upload's secret name: its only address")
    status: Literal["queued", "inverting", "ready", "failed"]
    done: int
    total: int
    error: str | None = None
    metrics: dict[str, Any] | None = Field(None, description="PSNR and segmentation mean IoU after steps 1 and 2")


class PhotoEditRequest(s.Strict):
    edits: list[s.Edit] = Field(default_factory=list, max_length=MAX_EDITS, description="applied in order")


@dataclass
class Upload:
    photo: torch.Tensor
    status: str = "queued"
    done: int = 0
    total: int = 0
    error: str | None = None
    inversion: Inversion | None = None
    evicted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)  # one edit at a time on its generator


class PhotoStore:
    """The uploads, by token, and the one worker that inverts them."""

    def __init__(self, session: Session, layer: str, options: dict[str, Any],
                 copy_generator: Callable[[], torch.nn.Module]):
        self.session, self.layer, self.options, self.copy_generator = session, layer, options, copy_generator
        self.uploads: OrderedDict[str, Upload] = OrderedDict()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ganscope-invert")
        self.size = int(session.images([0]).shape[-1])

    def add(self, photo: torch.Tensor) -> str:
        """Queue the inversion of ``photo``; its new token. A full queue is a 429."""
        waiting = sum(u.status in ("queued", "inverting") for u in self.uploads.values())
        if waiting >= MAX_QUEUED_PHOTOS:
            raise TooMany(f"{waiting} photos are already waiting for inversion; try again when one is ready", 30)
        upload = Upload(photo)
        token = secrets.token_urlsafe(16)
        self.uploads[token] = upload
        while len(self.uploads) > MAX_PHOTOS:
            self.uploads.popitem(last=False)[1].evicted = True
        self.worker.submit(self._invert, upload)
        return token

    def get(self, token: str) -> Upload:
        upload = self.uploads.get(token)
        if upload is None:
            raise HTTPException(404, "no such photo (uploads are kept for the last few only)")
        return upload

    def _invert(self, upload: Upload) -> None:
        if upload.evicted:
            return
        upload.status = "inverting"
        own = Session(self.copy_generator(), self.session.segmenter, seed=self.session.seed,
                      device=self.session.device, model_name=self.session.model_name,
                      segmenter_name=self.session.segmenter_name)

        def progress(done: float, total: float) -> None:
            upload.done, upload.total = int(done), int(total)

        try:
            upload.inversion = invert(own, upload.photo, layer=self.layer, progress=progress, **self.options)
            upload.status = "ready"
        except GanscopeError as err:
            upload.status, upload.error = "failed", str(err)
        except Exception as err:  # a failure in the models: said to the page, logged with its traceback
            log.exception("inverting an uploaded photo failed", exc_info=err)
            upload.status, upload.error = "failed", f"internal error ({type(err).__name__}); see the server log"


def add_photo_routes(app: FastAPI, service: ModelService, palette: Palette, options: dict[str, Any]) -> PhotoStore:
    """``POST /api/photos``, ``GET /api/photos/{token}`` (+ ``.png``), ``POST /api/photos/{token}/intervene``."""
    store = PhotoStore(service.session, palette.layer, options, service.generator_copy)

    def status(token: str) -> PhotoStatus:
        upload = store.get(token)
        metrics = upload.inversion.metrics if upload.inversion else None
        return PhotoStatus(token=token, status=upload.status, done=upload.done, total=upload.total,
                           error=upload.error, metrics=metrics and {k: metrics[k] for k in ("step1", "step2")})

    @app.post("/api/photos", response_model=PhotoStatus, tags=["photos"])
    async def upload_photo(request: Request) -> PhotoStatus:
        """Upload a PNG or JPEG (the file itself as the body); its inversion starts in the background."""
        service.limits.upload(request.client.host if request.client else "-")
        photo = await run_in_threadpool(read_photo, await request.body(), store.size)  # decoded off the event loop
        return status(store.add(photo))

    @app.get("/api/photos/{token}.png", response_class=Response, responses=PNG, tags=["photos"])
    def photo_png(token: str) -> Response:
        """The photo as the generator sees it (centre-cropped and resized)."""
        return Response(png_bytes(to_pil(store.get(token).photo)), media_type="image/png")

    @app.get("/api/photos/{token}", response_model=PhotoStatus, tags=["photos"])
    def photo_status(token: str) -> PhotoStatus:
        """The inversion's progress (steps done of total) and, once ready, its reconstruction metrics."""
        return status(token)

    @app.post("/api/photos/{token}/intervene", response_model=s.ImageResponse, tags=["photos"])
    async def photo_intervene(token: str, request: PhotoEditRequest) -> s.ImageResponse:
        """The photo with paint edits as on samples, composited: pixels far from the edits are the photo's."""
        upload = store.get(token)
        if upload.inversion is None:
            raise HTTPException(409, f"the photo is not inverted yet ({upload.status})")

        def edit() -> bytes:
            edits = paint_edits(request.edits, palette)  # rasterised here, off the event loop
            with upload.lock, torch.inference_mode():
                image = upload.inversion.edit(edits) if edits else upload.photo
                return png_bytes(to_pil(image))

        png = await run_in_threadpool(edit)
        return s.ImageResponse(image=data_url(png), width=store.size, height=store.size)

    return store
