"""The problem answer (RFC 9457) every door gives for an error."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """An error: its kind (``title``), HTTP status and what to do (``detail``)."""

    type: str = Field(default="about:blank", description="always about:blank")
    title: str = Field(description="the kind of error, e.g. 'Not found'")
    status: int = Field(description="the HTTP status")
    detail: str = Field(description="what is wrong, where, and how to fix it")


PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` entries documenting problem answers for ``statuses``."""
    described = {
        401: "not signed in (no token, or an unknown or expired one)",
        403: "the caller's role may not use this door",
        404: "not found, or outside what the caller may see",
        422: "invalid input",
    }
    return {
        status: {
            "model": Problem,
            "description": described.get(status, "error"),
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }
