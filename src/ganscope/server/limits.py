"""Size caps for what clients may send, and the ASGI middleware that enforces the body cap.

The body is read in full (up to the cap) before the app sees it, so an oversized or
endlessly streamed upload is answered with 413 without reaching JSON parsing or the model.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
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
