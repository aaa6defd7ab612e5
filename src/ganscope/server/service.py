"""The session behind the server: used by one request at a time, off the event loop.

Every model call goes through ``ModelService.call``, which runs it in a worker thread
under a lock: requests keep being accepted and parsed (and slow clients keep uploading)
while one image is computed, and hooks of concurrent edits never mix on the shared
generator. Sample images and unit strips are cached, since the pages ask for them often.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from fastapi import HTTPException, Request
from PIL import Image
from starlette.concurrency import run_in_threadpool

from ganscope.errors import GanscopeError
from ganscope.images import png_bytes, to_pil, to_uint8
from ganscope.intervene import Intervention
from ganscope.painting import Palette
from ganscope.report.strips import SampleImages, compose, encode, regions, tile_size
from ganscope.results import SAMPLES_DIR, Results
from ganscope.server.edits import legacy_edits, paint_edits
from ganscope.server.limits import ClientLimits
from ganscope.server.schemas import Edit, LegacyIntervention
from ganscope.session import Session

T = TypeVar("T")
CACHED_IMAGES = 256


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class ModelService:
    """A session + its dissection results; every public method that runs the model is serialised."""

    def __init__(self, session: Session, results: Results):
        self.session, self.results = session.with_options(seed=results.seed), results
        self.latent_shape = session.latent_shape
        self._lock = threading.Lock()
        self._queue = asyncio.Lock()  # requests wait their turn here, in the event loop, where a hang-up is seen
        self.limits = ClientLimits()
        self.sample_png = lru_cache(CACHED_IMAGES)(self._sample_png)
        self.unit_strip = lru_cache(CACHED_IMAGES)(self._unit_strip)

    async def call(self, fn: Callable[..., T], *args: Any, request: Request | None = None) -> T:
        """Run ``fn(*args)`` in a worker thread, one at a time.

        For a client's ``request``: at most ``MAX_IN_FLIGHT`` of the client's calls wait at once (else 429), and
        a call whose client hung up while it waited is dropped, never run.
        """
        if request is None:
            return await run_in_threadpool(self._locked, fn, *args)
        with self.limits.slot(request.client.host if request.client else "-"):
            async with self._queue:
                if await request.is_disconnected():
                    raise HTTPException(499, "the client closed the request")
                return await run_in_threadpool(self._locked, fn, *args)

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock, torch.inference_mode():
            return fn(*args)

    def generator_copy(self) -> torch.nn.Module:
        """A private copy of the generator, taken between model calls (so with no hooks on it), for work with
        gradients (called from a worker thread).

        Taken under ``no_grad``, not inference mode: a copy made in inference mode holds inference tensors, which
        autograd cannot save (batch norm's running statistics, for one).
        """
        with self._lock, torch.no_grad():
            return copy.deepcopy(self.session.generator)

    def parse_z(self, zs: Sequence[Sequence[float]]) -> torch.Tensor:
        """Client latents, flat or not, checked against the generator's latent size."""
        size = int(np.prod(self.latent_shape))
        bad = [len(z) for z in zs if len(z) != size]
        if bad:
            raise GanscopeError(f"each z must have {size} numbers (latent shape {list(self.latent_shape)}), "
                                f"got {bad[0]}")
        z = torch.tensor(zs, dtype=torch.float32).reshape(len(zs), *self.latent_shape)
        if not torch.isfinite(z).all():
            raise GanscopeError("zs must be finite numbers")
        return z

    def sample_pngs(self, seed: int, indices: Sequence[int], edits: Sequence[Intervention]) -> list[bytes]:
        """PNG bytes of samples (seed, i) with ``edits`` applied in order."""
        return _pngs(self.session.with_options(seed=seed).images(indices, edits=edits))

    def painted_png(self, seed: int, index: int, palette: Palette, edits: Sequence[Edit]) -> bytes:
        """PNG bytes of sample (seed, index) with the client's paint edits (rasterised here, off the event loop)."""
        return self.sample_pngs(seed, [index], paint_edits(edits, palette))[0]

    def generated_pngs(self, ids: Sequence[int] | None, zs: Sequence[Sequence[float]] | None,
                       interventions: Sequence[LegacyIntervention]) -> list[bytes]:
        """The original ``/api/generate``: masks decoded and images drawn here, off the event loop."""
        edits = legacy_edits(interventions, self.session.generator)
        if ids is not None:
            return self.sample_pngs(self.results.seed, ids, edits)
        return self.z_pngs(self.parse_z(zs or []), edits)

    def z_pngs(self, z: torch.Tensor, edits: Sequence[Intervention]) -> list[bytes]:
        """PNG bytes of the images of client latents ``z`` with ``edits`` applied in order."""
        return _pngs(self.session.images(z=z, edits=edits))

    def _sample_png(self, seed: int, index: int) -> bytes:
        return self.sample_pngs(seed, [index], [])[0]

    def _unit_strip(self, layer: str, unit: int) -> bytes:
        """The unit's top samples with its thresholded region outlined, as in the report."""
        maps, indices = self.results.tables[f"{layer}/topk_maps"], self.results.tables[f"{layer}/topk_indices"]
        threshold = torch.tensor([self.results.layers[layer].units[unit].threshold])
        samples = GeneratedSamples(self, tile_size(self.results.image_size))
        mask = regions(maps[unit : unit + 1], threshold, samples.tile)
        return encode(compose(samples.stack(indices[unit : unit + 1].numpy()), mask)[0])


def _pngs(images: torch.Tensor) -> list[bytes]:
    return [png_bytes(to_pil(image)) for image in images]


class GeneratedSamples(SampleImages):
    """The report's sample tiles: the dissection's own images (``samples/{index}.png`` in the results
    directory, written once by the tally pass) where there are, else drawn by the served generator."""

    def __init__(self, service: ModelService, tile: tuple[int, int]):
        directory = service.results.directory
        super().__init__(Path() if directory is None else directory / SAMPLES_DIR, tile)
        self.service, self.on_disk = service, directory is not None

    def read(self, index: int) -> np.ndarray:
        if self.on_disk and (self.directory / f"{index}.png").is_file():
            return super().read(index)
        image = Image.fromarray(to_uint8(self.service.session.images([index])[0]))
        return np.asarray(image.resize(self.tile[::-1], Image.Resampling.BILINEAR))
