"""Size caps for what clients may send, and the ASGI middleware that enforces the body cap.

The body is read in full (up to the cap) before the app sees it, so an oversized or
endlessly streamed upload is answered with 413 without reaching JSON parsing or the model.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

MAX_BODY_BYTES = 4 << 20  # a 1024 x 1024 PNG mask as a data URL fits comfortably
MAX_MASK_SIDE = 2048  # pixels per side of a decoded mask
MAX_IMAGES = 16  # images per request (ids or zs)
MAX_EDITS = 256  # strokes / interventions per request (the paint page sends its whole history)
MAX_POINTS = 4096  # points per stroke
MAX_COORD = 65536.0  # |x|, |y| of a stroke point: drawing a thin line costs time in proportion to its length
MAX_UNITS = 4096  # ablation records per intervention

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Reject request bodies over ``max_bytes`` with 413 (declared by Content-Length or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            await self._reject(send, "a numeric Content-Length" if not declared.isdigit() else None)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await self._reject(send)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, send: Send, need: str | None = None) -> None:
        status = 400 if need else 413
        detail = f"the request needs {need}" if need else f"request body is larger than {self.max_bytes} bytes"
        payload = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})


# -- work budgets, checked on the parsed request before any work starts ---------------------------------------
STROKE_OVERHEAD = 16  # a stroke point costs about as much as 16 pixels of brush radius to rasterise
MAX_STROKE_WORK = 2_000_000  # sum over stroke points of (radius + overhead): about 1 s of rasterising at worst
MAX_MASK_PIXELS = 16 << 20  # decoded mask pixels per request (four 2048 x 2048 masks)
MAX_MASK_WORK = 64 << 20  # mask pixels x images: each image pools every mask onto its layers
MAX_IN_FLIGHT = 8  # model requests one client may have queued or running at once
UPLOADS_PER_MINUTE = 6  # photo uploads one client may start a minute
MAX_QUEUED_PHOTOS = 2  # uploads waiting for or in inversion


def stroke_work(strokes: Iterable[tuple[int, float]]) -> int:
    """The rasterising work of strokes given as (points, radius): sum of points x (radius + overhead)."""
    return int(sum(points * (radius + STROKE_OVERHEAD) for points, radius in strokes))


def over_budget(work: int, limit: int, what: str) -> str | None:
    """The 413 message when ``work`` is over ``limit``, naming the limit; None when it fits."""
    if work <= limit:
        return None
    return f"the request's {what} is {work:,}, over the server's limit of {limit:,}; send fewer or smaller edits"


class ClientLimits:
    """Per-client limits (by address): model requests in flight, and photo uploads per minute."""

    def __init__(self, in_flight: int = MAX_IN_FLIGHT, uploads: int = UPLOADS_PER_MINUTE,
                 clock: Callable[[], float] = time.monotonic):
        self.in_flight, self.uploads, self.clock = in_flight, uploads, clock
        self.busy: dict[str, int] = defaultdict(int)
        self.recent: dict[str, deque[float]] = defaultdict(deque)

    @contextmanager
    def slot(self, client: str) -> Iterator[None]:
        """Hold one of the client's in-flight slots; a client with none free gets 429 (retry after a second)."""
        if self.busy[client] >= self.in_flight:
            raise TooMany(f"more than {self.in_flight} requests of this client are waiting for the model", 1)
        self.busy[client] += 1
        try:
            yield
        finally:
            self.busy[client] -= 1
            if not self.busy[client]:
                del self.busy[client]

    def upload(self, client: str) -> None:
        """Count an upload; over the per-minute limit is a 429 that says when the oldest one expires."""
        now, times = self.clock(), self.recent[client]
        while times and now - times[0] >= 60:
            times.popleft()
        if len(times) >= self.uploads:
            raise TooMany(f"more than {self.uploads} photo uploads a minute from this client",
                          int(60 - (now - times[0])) + 1)
        times.append(now)


class TooMany(Exception):
    """A client over its limit: answered 429 with Retry-After."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class HeadAsGet:
    """Answer HEAD like GET, without the body (a client checking a URL gets 200, not 405)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
