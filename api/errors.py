"""Errors of every package mapped to HTTP problem responses (RFC 9457), in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.cluster import DatabaseUnavailable
from gis.coords import CoordTypeError
from gis.validate import ValidationError

PROBLEM = "application/problem+json"


class NotFound(LookupError):
    """The thing asked for does not exist (or the caller may not know it does)."""


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


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

    @app.exception_handler(CoordTypeError)
    async def _coord_type(_: Request, exc: CoordTypeError) -> JSONResponse:
        return problem(422, "Unknown coordinate type", str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return problem(404, "Not found", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return problem(422, "Invalid request", details, errors=exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 422: "Invalid request", 503: "Service unavailable"}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))

    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(OperationalError)
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        return problem(503, "Database unavailable", str(exc).splitlines()[0])
