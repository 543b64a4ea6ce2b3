"""Errors of every package mapped to HTTP problem responses (RFC 9457), in one place."""

from __future__ import annotations

import json
import logging
import traceback

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.db.engine import describe_error
from gis.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    Unauthorized,
    Unavailable,
    WanggeError,
)

PROBLEM = "application/problem+json"

log = logging.getLogger("wangge.errors")


class ProblemResponse(JSONResponse):
    r"""A problem+json answer that can carry any text, even text that UTF-8 cannot encode.

    A message may quote what the caller sent; a lone surrogate in it (from a JSON
    ``"\ud800"``) is written as its JSON escape instead of failing the answer.
    """

    media_type = PROBLEM

    def render(self, content: object) -> bytes:
        r"""The body as UTF-8 JSON, unencodable characters as ``\uXXXX`` escapes."""
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return ProblemResponse(body, status_code=status)


def _plain_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    """The errors of a refused request, fit to send back: where, what and the error type.

    The input itself is not echoed: it may be large, binary, or text UTF-8 cannot
    encode, and the caller has it.
    """
    return [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]


#: Each kind of error (:mod:`gis.errors`) and its answer: status and title.  An error's
#: own ``title`` (e.g. "Changed meanwhile") replaces the kind's.
STATUS: dict[type[WanggeError], tuple[int, str]] = {
    InvalidInput: (422, "Invalid input"),
    TooLarge: (413, "Too large"),
    NotFound: (404, "Not found"),
    Forbidden: (403, "Not allowed"),
    Conflict: (409, "Conflict"),
    Unavailable: (503, "Service unavailable"),
    Unauthorized: (401, "Not signed in"),
}


def answer(exc: WanggeError) -> JSONResponse:
    """The problem answer to one of our errors, by its kind."""
    kind = next(k for k in type(exc).__mro__ if k in STATUS)
    status, title = STATUS[kind]  # type: ignore[index]
    extra: dict[str, object] = {}
    problems = getattr(exc, "problems", ())
    if problems:
        extra["problems"] = [
            {
                "layer": p.layer,
                "row": p.row,
                "id": p.record_id,
                "field": p.field,
                "message": p.message,
                "fix": p.fix,
            }
            for p in problems
        ]
    response = problem(status, exc.title or title, str(exc), **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def install(app: FastAPI) -> None:
    """Register the handlers that turn our exceptions into problem responses."""

    @app.exception_handler(WanggeError)
    async def _ours(_: Request, exc: WanggeError) -> JSONResponse:
        return answer(exc)

    @app.exception_handler(RequestValidationError)
    async def _request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _plain_errors(exc)
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return problem(422, "Invalid request", details, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 422: "Invalid request", 503: "Service unavailable"}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))

    @app.exception_handler(OperationalError)
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        return problem(503, "Database unavailable", str(exc).splitlines()[0])

    @app.exception_handler(StatementError)
    @app.exception_handler(psycopg.Error)
    async def _refused(request: Request, exc: Exception) -> JSONResponse:
        # Handled here rather than left to the server, whose log would print the error's
        # message: the row's values (a reporter's name and phone) and the statement.
        what = describe_error(exc)
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("database error in %s %s: %s\n%s", request.method, request.url.path, what, frames)
        return problem(500, "Internal error", f"the database refused the request ({what})")
