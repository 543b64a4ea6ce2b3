"""Errors of every package mapped to HTTP problem responses (RFC 9457), in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.cluster import DatabaseUnavailable
from gis.coords import CoordTypeError
from gis.incident_store import IncidentNotFound, StaleIncident
from gis.validate import ValidationError
from grids.access import Forbidden
from grids.incidents import IllegalTransition, InvalidInput, NotAllowed

PROBLEM = "application/problem+json"


class Unauthorized(PermissionError):
    """No token, or one that is unknown or expired (401)."""


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

    @app.exception_handler(IncidentNotFound)
    async def _incident_not_found(_: Request, exc: IncidentNotFound) -> JSONResponse:
        return problem(404, "Not found", str(exc))

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        response = problem(401, "Not signed in", str(exc))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(Forbidden)
    @app.exception_handler(NotAllowed)
    async def _forbidden(_: Request, exc: Exception) -> JSONResponse:
        return problem(403, "Not allowed", str(exc))

    @app.exception_handler(IllegalTransition)
    async def _illegal(_: Request, exc: IllegalTransition) -> JSONResponse:
        return problem(409, "Not possible in this state", str(exc))

    @app.exception_handler(StaleIncident)
    async def _stale(_: Request, exc: StaleIncident) -> JSONResponse:
        return problem(409, "Changed meanwhile", str(exc))

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return problem(422, "Invalid input", str(exc))

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
