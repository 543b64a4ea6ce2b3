"""Errors of every package mapped to HTTP problem responses (RFC 9457), in one place."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from analysis.aggregates import AggregateError
from analysis.alerts import AlertTargetError
from analysis.coverage import CoverageError
from analysis.dispatch import DispatchInputError
from analysis.hazard import HazardError
from analysis.hotspots import HotspotError
from analysis.location import LocationError
from gis.coords import CoordTypeError
from gis.db.cluster import DatabaseUnavailable
from gis.db.engine import describe_error
from gis.store.incident_store import IncidentNotFound, StaleIncident
from gis.validate import ValidationError
from grids.access import Forbidden
from grids.incidents import IllegalTransition, InvalidInput, NotAllowed, TooLarge

PROBLEM = "application/problem+json"

log = logging.getLogger("wangge.errors")


class Unauthorized(PermissionError):
    """No token, or one that is unknown or expired (401)."""


class NotFound(LookupError):
    """The thing asked for does not exist (or the caller may not know it does)."""


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


#: Exceptions answered with their message alone: status and title.
SIMPLE: dict[type[Exception], tuple[int, str]] = {
    CoordTypeError: (422, "Unknown coordinate type"),
    InvalidInput: (422, "Invalid input"),
    TooLarge: (413, "Too large"),
    NotFound: (404, "Not found"),
    IncidentNotFound: (404, "Not found"),
    Forbidden: (403, "Not allowed"),
    NotAllowed: (403, "Not allowed"),
    IllegalTransition: (409, "Not possible in this state"),
    StaleIncident: (409, "Changed meanwhile"),
    # bad input found deep in an analysis (an empty demand, an unknown window …)
    AggregateError: (422, "Invalid input"),
    HotspotError: (422, "Invalid input"),
    HazardError: (422, "Invalid input"),
    AlertTargetError: (422, "Invalid input"),
    CoverageError: (422, "Invalid input"),
    LocationError: (422, "Invalid input"),
    DispatchInputError: (422, "Invalid input"),
}


def _simple(status: int, title: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        return problem(status, title, str(exc))

    return handle


def install(app: FastAPI) -> None:
    """Register the handlers that turn our exceptions into problem responses."""

    @app.exception_handler(ValidationError)
    async def _validation(_: Request, exc: ValidationError) -> JSONResponse:
        return problem(
            422,
            "Invalid input",
            str(exc),
            problems=[
                {
                    "layer": p.layer,
                    "row": p.row,
                    "id": p.record_id,
                    "field": p.field,
                    "message": p.message,
                    "fix": p.fix,
                }
                for p in exc.problems
            ],
        )

    for exc_type, (status, title) in SIMPLE.items():
        app.add_exception_handler(exc_type, _simple(status, title))

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        response = problem(401, "Not signed in", str(exc))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def _request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _plain_errors(exc)
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return problem(422, "Invalid request", details, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 422: "Invalid request", 503: "Service unavailable"}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))

    @app.exception_handler(DatabaseUnavailable)
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
