"""Error responses: every failure is JSON ``{"detail": message}`` with a 4xx status, never a traceback.

Bad input (``GanscopeError`` from anywhere in ganscope) is 400; request validation is
422 with each problem on one line; anything unexpected is logged and answered 500
without internals, and the server keeps serving.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ganscope.errors import GanscopeError, location
from ganscope.server.limits import TooMany

log = logging.getLogger("ganscope.server")


def _validation_message(err: RequestValidationError) -> str:
    problems = []
    for item in err.errors():
        where = location(part for part in item.get("loc", ()) if part != "body") or "body"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


async def _bad_input(_request: Request, err: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(err)}, status_code=400)


async def _invalid(_request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    return JSONResponse({"detail": _validation_message(err)}, status_code=422)


async def _too_many(_request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, TooMany)
    return JSONResponse({"detail": str(err)}, status_code=429, headers={"Retry-After": str(err.retry_after)})


async def _unexpected(request: Request, err: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=err)
    return JSONResponse({"detail": f"internal error ({type(err).__name__}); see the server log"}, status_code=500)


def add_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GanscopeError, _bad_input)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(TooMany, _too_many)
    app.add_exception_handler(Exception, _unexpected)
