"""What ``GET /api/exports/{kind}`` answers: a file, and headers saying what it holds."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas.problems import problem_responses
from api.services.registry_io import ExportFormat, ExportKind
from etl.imports.writers import MEDIA_TYPES

__all__ = ["EXPORT_RESPONSES", "ExportFormat", "ExportHeaders", "ExportKind"]


class ExportHeaders(BaseModel):
    """The response headers of an export (besides Content-Disposition)."""

    x_wangge_rows: int = Field(alias="X-Wangge-Rows", description="records in the file")
    x_wangge_masked: bool = Field(
        alias="X-Wangge-Masked",
        description="whether residents' names, ID numbers and phones are masked (by role)",
    )
    x_wangge_audited: bool = Field(
        alias="X-Wangge-Audited", description="whether the export was written to the audit log"
    )


EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "the registers of the area as a file, under the Chinese headers the "
        "imports read (so it can be corrected and imported again)",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in MEDIA_TYPES.values()
        },
        "headers": {
            field.alias: {"description": field.description, "schema": {"type": "string"}}
            for field in ExportHeaders.model_fields.values()
        },
    },
    **problem_responses(401, 403, 404, 422),
}
