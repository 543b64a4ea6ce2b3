"""Imports from the admin's desk (数据导入): an uploaded file, a dry run's report, then confirm.

The same import as ``wangge import KIND FILE`` (:func:`api.services.registry_io.import_file`),
in two steps: :func:`dry_run` imports the upload with ``on_error=skip`` and rolls back,
reporting the rows that would be accepted and every refused row (row, column, value,
reason, fix); the upload is kept in a staging folder under a random key, for the admin who
sent it, for :data:`KEEP_FOR` at most.  :func:`confirm` imports the staged file for real
(the good rows; the refused ones are left out as the report said) and deletes it.  Both
steps are written to the audit log.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from api.services.registry_io import ImportKind, ImportOptions, ImportSummary, import_file
from etl.imports.problems import ImportRejected, RowProblem
from etl.imports.readers import FileReadError
from gis import clock
from gis.errors import InvalidInput, NotFound, ServiceError
from gis.settings import Settings
from gis.store import access_store
from grids.access import Principal, require_admin

#: The kinds the desk imports (grids are versioned: ``wangge grids import``).
KINDS: tuple[str, ...] = (
    "facilities",
    "shelters",
    "buildings",
    "households",
    "residents",
    "areas",
)
KIND_NAMES_ZH = {
    "areas": "行政区划",
    "buildings": "楼栋",
    "households": "住户",
    "residents": "居民",
    "facilities": "设施",
    "shelters": "避难场所",
}
SUFFIXES = (".csv", ".xlsx", ".xls", ".geojson", ".json", ".gpkg", ".zip")
#: How long a dry run's upload waits for its confirmation.
KEEP_FOR = timedelta(hours=1)
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class StagedGone(ServiceError, NotFound):
    """A confirmation whose dry run is unknown, expired or another admin's."""


class BadUpload(ServiceError, InvalidInput):
    """An upload with no file, an unknown kind or a format the importers do not read."""


def staging_dir() -> Path:
    """The folder uploads wait in between dry run and confirmation."""
    folder = Path(tempfile.gettempdir()) / "wangge-imports"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _forget_stale(folder: Path) -> None:
    """Delete staged uploads older than :data:`KEEP_FOR` (dry runs never confirmed)."""
    oldest = time.time() - KEEP_FOR.total_seconds()  # file times are the wall clock's
    for path in folder.glob("*.data"):
        try:
            if path.stat().st_mtime < oldest:
                path.unlink(missing_ok=True)
                path.with_suffix(".json").unlink(missing_ok=True)
        except OSError:
            continue  # another server process removed it meanwhile


@dataclass
class ImportReport:
    """A dry run's or an import's outcome, for the page.

    ``refused`` is set when the file was refused as a whole (a missing column, an
    unreadable file): ``problems`` then says why and nothing can be confirmed.
    """

    kind: str
    filename: str
    key: str | None
    dry_run: bool
    summary: ImportSummary | None = None
    problems: list[RowProblem] = field(default_factory=list)
    refused: str | None = None

    @property
    def accepted(self) -> int:
        """Rows taken in (added, changed or unchanged)."""
        return 0 if self.summary is None else self.summary.records

    @property
    def rejected(self) -> int:
        """Rows refused."""
        return 0 if self.summary is None else self.summary.rejected


def _check(kind: str, filename: str, data: bytes) -> str:
    if kind not in KINDS:
        raise BadUpload(f"unknown import kind {kind!r}; choose one of {', '.join(KINDS)}")
    name = Path(filename or "").name
    if not data or not name:
        raise BadUpload("choose a file to upload (the form's 'file' field is empty)")
    if Path(name).suffix.lower() not in SUFFIXES:
        raise BadUpload(
            f"{name}: the importers read {', '.join(SUFFIXES)}; save the file as one of them"
        )
    return name


def _run(
    engine: Engine,
    settings: Settings,
    kind: str,
    name: str,
    data: bytes,
    coord_type: str,
    dry_run: bool,
    area: str | None = None,
) -> ImportReport:
    options = ImportOptions(coord_type=coord_type, on_error="skip", dry_run=dry_run, area=area)
    try:
        summary = import_file(engine, _kind(kind), data, options, filename=name, settings=settings)
    except ImportRejected as refused:
        problems: list[RowProblem] = [p for p in refused.problems if isinstance(p, RowProblem)]
        return ImportReport(kind, name, None, dry_run, problems=problems, refused=str(refused))
    except FileReadError as unreadable:
        return ImportReport(kind, name, None, dry_run, refused=str(unreadable))
    return ImportReport(kind, name, None, dry_run, summary=summary, problems=summary.problems)


def _kind(kind: str) -> ImportKind:
    assert kind in KINDS
    return kind  # type: ignore[return-value]


def dry_run(
    engine: Engine,
    settings: Settings,
    admin: Principal,
    kind: str,
    filename: str,
    data: bytes,
    coord_type: str = "wgs84",
    area: str | None = None,
) -> ImportReport:
    """Import the upload and roll back: what would be accepted and refused, row by row.

    Unless refused as a whole, the upload is staged and the report carries its ``key``
    for :func:`confirm`.  ``area``: the office the registers are for, when one deployment
    serves several (``wangge import --area``); the confirmation imports into the same.
    """
    require_admin(admin, "import files")
    name = _check(kind, filename, data)
    area = (area or "").strip() or None
    report = _run(engine, settings, kind, name, data, coord_type, dry_run=True, area=area)
    if report.refused is None:
        key = secrets.token_urlsafe(24)
        folder = staging_dir()
        _forget_stale(folder)
        (folder / f"{key}.data").write_bytes(data)
        meta = {
            "user": admin.username,
            "kind": kind,
            "filename": name,
            "coord_type": coord_type,
            "area": area,
            "at": clock.utcnow().isoformat(),
        }
        (folder / f"{key}.json").write_text(json.dumps(meta, ensure_ascii=False))
        report.key = key
    with engine.begin() as conn:
        access_store.audit(
            conn,
            admin.username,
            "import_dry_run",
            kind,
            name,
            {"accepted": report.accepted, "rejected": report.rejected, "bytes": len(data)},
        )
    return report


def confirm(engine: Engine, settings: Settings, admin: Principal, key: str) -> ImportReport:
    """Import the file a dry run staged under ``key`` (its good rows); the staged copy goes.

    Raises
    ------
    StagedGone
        When no dry run of this admin is staged under ``key`` or it is older than
        :data:`KEEP_FOR` (run the dry run again).
    """
    require_admin(admin, "import files")
    folder = staging_dir()
    gone = StagedGone(
        "this dry run is no longer waiting (confirmed already, older than an hour, or "
        "another admin's): upload the file again at /admin/imports"
    )
    if not _KEY.match(key or ""):
        raise gone
    meta_path, data_path = folder / f"{key}.json", folder / f"{key}.data"
    try:
        meta = json.loads(meta_path.read_text())
        data = data_path.read_bytes()
    except (OSError, ValueError):
        raise gone from None
    staged_at = datetime.fromisoformat(meta["at"])
    if meta.get("user") != admin.username or clock.utcnow() - staged_at > KEEP_FOR:
        raise gone
    meta_path.unlink(missing_ok=True)
    data_path.unlink(missing_ok=True)
    report = _run(
        engine,
        settings,
        meta["kind"],
        meta["filename"],
        data,
        meta["coord_type"],
        dry_run=False,
        area=meta.get("area"),
    )
    with engine.begin() as conn:
        access_store.audit(
            conn,
            admin.username,
            "import",
            meta["kind"],
            meta["filename"],
            {
                "accepted": report.accepted,
                "rejected": report.rejected,
                "added": 0 if report.summary is None else report.summary.added,
                "changed": 0 if report.summary is None else report.summary.changed,
            },
        )
    return report
