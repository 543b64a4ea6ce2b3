"""Exports for staff: the registers of an area as a file (台账导出), masked by role, audited."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.deps import EngineDep
from api.schemas.exports import EXPORT_RESPONSES, ExportFormat, ExportKind
from api.services.registry_io import export_registers

router = APIRouter(prefix="/api/exports", tags=["exports"])


@router.get("/{kind}", response_class=Response, responses=EXPORT_RESPONSES)
async def export(
    user: CurrentUser,
    engine: EngineDep,
    kind: Annotated[ExportKind, Path(description="which register")],
    area: Annotated[str, Query(description="the admin area's code (district … estate)")],
    format: Annotated[ExportFormat, Query(description="xlsx, csv or gpkg")] = "xlsx",
) -> Response:
    """The households, residents, buildings, facilities or incidents of an area, as a file.

    Staff export an area within theirs, a grid worker the grids of it they cover;
    residents' names, ID numbers and phones are masked unless the role sees them in
    full, and an export of households or residents is written to the audit log.
    """
    exported = await run_in_threadpool(export_registers, engine, user, kind, area, format)
    return Response(
        exported.content,
        media_type=exported.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(exported.filename)}",
            "X-Wangge-Rows": str(exported.rows),
            "X-Wangge-Masked": str(exported.masked).lower(),
            "X-Wangge-Audited": str(exported.audited).lower(),
        },
    )
