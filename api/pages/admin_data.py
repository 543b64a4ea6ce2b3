"""The audit log (审计日志) and imports (数据导入) of the administration: admins only.

``/admin/audit`` shows who read or changed what, newest first, filtered by user, action
and dates (local days, both inclusive), a page at a time; ``/admin/audit.csv`` exports
the same filter.  ``/admin/imports`` takes a file of the registers' import
(:mod:`api.services.import_desk`): the upload is refused with 413 once it is known to be
over ``WANGGE_IMPORT_MAX_BYTES`` (its declared length, else the bytes received, read a
chunk at a time and never past the limit), then dry-run, reported row by row, and
imported only when the admin confirms.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse
from starlette.datastructures import UploadFile

from api.deps import EngineDep, SettingsDep
from api.inputs import BigId, Text
from api.pages.admin import Admin
from api.pages.render import render
from api.services import admin, import_desk
from api.services.admin import AuditFilter
from gis import clock
from gis.errors import InvalidInput, ServiceError, TooLarge

router = APIRouter(tags=["pages"])

#: Room for the form's other fields and the multipart envelope, bytes.
ENVELOPE_BYTES = 64 * 1024


class UploadTooLarge(ServiceError, TooLarge):
    """An upload over the import page's limit (413)."""


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{name}={value!r} is not a date; use YYYY-MM-DD, e.g. 2026-10-01"
        ) from None


def audit_filter(
    user: Text | None = None,
    action: Text | None = None,
    since: Text | None = None,
    until: Text | None = None,
) -> AuditFilter:
    """The audit filter of the query: local days, ``until`` inclusive."""
    first, last = _day(since, "since"), _day(until, "until")
    return AuditFilter(
        username=(user or "").strip() or None,
        action=(action or "").strip() or None,
        since=None if first is None else datetime.combine(first, time(0), tzinfo=clock.LOCAL_TZ),
        until=None
        if last is None
        else datetime.combine(last + timedelta(days=1), time(0), tzinfo=clock.LOCAL_TZ),
    )


Filter = Annotated[AuditFilter, Depends(audit_filter)]


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    engine: EngineDep,
    user: Admin,
    f: Filter,
    before: BigId | None = None,
) -> HTMLResponse:
    """The audit log of the filter, newest first, with the CSV export of the same filter."""
    page = await run_in_threadpool(admin.audit_log, engine, user, f, before)
    query = request.url.query
    keep = "&".join(p for p in query.split("&") if p and not p.startswith("before="))
    return render(
        request,
        "admin/audit.html",
        {
            "page": page,
            "f": f,
            "query": keep,
            "since": request.query_params.get("since", ""),
            "until": request.query_params.get("until", ""),
            "local_tz": clock.LOCAL_TZ,
            "action_names": admin.AUDIT_ACTIONS_ZH,
        },
        user=user,
    )


@router.get("/admin/audit.csv")
async def audit_export(engine: EngineDep, user: Admin, f: Filter) -> StreamingResponse:
    """The audit log of the filter as CSV (UTF-8 with BOM, for Excel); the export is audited."""
    pieces = await run_in_threadpool(admin.audit_csv, engine, user, f)
    stamp = clock.now().strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        pieces,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


# ------------------------------------------------------------------ imports


async def bounded_body(request: Request, settings: SettingsDep) -> None:
    """Read the request's body a chunk at a time, refusing it (413) past the import limit.

    Runs before anything reads the form (the session's CSRF check does), so no more than
    the limit is ever received; the body is then kept for the form parser.
    """
    limit = settings.import_max_bytes + ENVELOPE_BYTES
    megabytes = settings.import_max_bytes / 1024 / 1024

    def too_large(size: str) -> UploadTooLarge:
        return UploadTooLarge(
            f"文件过大：{size}，上限为 {megabytes:.0f} MB (WANGGE_IMPORT_MAX_BYTES)。请拆分文件，"
            "或用命令行导入：wangge import KIND FILE"
        )

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(f"{int(declared):,} 字节")
    chunks, received = [], 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large(f"超过 {limit:,} 字节")
        chunks.append(chunk)
    request._body = b"".join(chunks)  # the form parser reads it from here


def _import_context() -> dict[str, object]:
    return {
        "kinds": [{"value": k, "label": import_desk.KIND_NAMES_ZH[k]} for k in import_desk.KINDS],
        "suffixes": ", ".join(import_desk.SUFFIXES),
    }


@router.get("/admin/imports", response_class=HTMLResponse)
async def imports_page(request: Request, settings: SettingsDep, user: Admin) -> HTMLResponse:
    """The upload form: kind, coordinates, the office (when several share it), file."""
    context = _import_context() | {"max_mb": settings.import_max_bytes // (1024 * 1024)}
    return render(request, "admin/imports.html", context, user=user)


@router.post("/admin/imports", response_class=HTMLResponse, dependencies=[Depends(bounded_body)])
async def import_dry_run(
    request: Request, engine: EngineDep, settings: SettingsDep, user: Admin
) -> HTMLResponse:
    """Dry-run the uploaded file: the rows accepted and refused; confirm on the report."""
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    kind, coord_type = str(form.get("kind") or ""), str(form.get("coord_type") or "wgs84")
    area = str(form.get("area") or "")
    if not isinstance(upload, UploadFile):
        raise import_desk.BadUpload("choose a file to upload (the form's 'file' field is empty)")
    try:
        data = await upload.read()
    finally:
        await form.close()
    report = await run_in_threadpool(
        import_desk.dry_run,
        engine,
        settings,
        user,
        kind,
        upload.filename or "",
        data,
        coord_type,
        area,
    )
    context = _import_context() | {"report": report, "kind_name": import_desk.KIND_NAMES_ZH}
    return render(request, "admin/import_report.html", context, user=user)


@router.post("/admin/imports/confirm", response_class=HTMLResponse)
async def import_confirm(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: Admin,
    key: Annotated[Text, Form(max_length=100)],
) -> HTMLResponse:
    """Import the file of a dry run for real (its accepted rows)."""
    report = await run_in_threadpool(import_desk.confirm, engine, settings, user, key)
    context = _import_context() | {"report": report, "kind_name": import_desk.KIND_NAMES_ZH}
    return render(request, "admin/import_report.html", context, user=user)
