"""Read a 12345 hotline export (CSV, UTF-8 or GBK): one :class:`HotlineRow` per call.

The export is read as a stream, a row at a time, and refused as soon as it is known to be
over a limit (``WANGGE_HOTLINE_MAX_BYTES``, ``WANGGE_HOTLINE_MAX_ROWS``); every
unreadable value is reported by row and column, all at once.  Each row carries its key
at the source (``source_ref``), so that a file sent again files nothing twice.  Filing the
rows is the intake service's (:func:`api.services.intake.import_hotline`).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from gis.errors import EtlError, InvalidInput, Problem, TooLarge, ValidationError
from gis.settings import Settings
from gis.validate import (
    text_problem,
)
from grids.incidents import SHANGHAI

HOTLINE_COLUMNS = ("category_code", "description", "lon", "lat")
HOTLINE_OPTIONAL = (
    "coord_type",
    "reported_at",
    "address",
    "contact_name",
    "contact_phone",
    "case_no",
)
#: The columns that tell one row from another, in the order they are digested.
_ROW_KEY_COLUMNS = (*HOTLINE_COLUMNS, *HOTLINE_OPTIONAL[:-1])
MAX_CASE_NO = 64


class HotlineTooLarge(EtlError, TooLarge):
    """A hotline file over the row or byte limit; the message says how to split it."""


class HotlineUnreadable(EtlError, InvalidInput):
    """A hotline file that is not CSV text of the expected columns."""


@dataclass(frozen=True)
class HotlineRow:
    """One call of a 12345 export, as read (the checks of a report come when it is filed)."""

    category_code: str
    description: str
    lon: float
    lat: float
    coord_type: str
    reported_at: datetime | None
    address: str | None
    contact_name: str | None
    contact_phone: str | None
    #: ``case:`` and the hotline's case number (工单编号), else ``row:`` and the row's digest
    source_ref: str


def hotline_too_large(what: str, settings: Settings) -> HotlineTooLarge:
    """The refusal of a hotline file over a limit, saying the limits and how to split it."""
    return HotlineTooLarge(
        f"{what}; at most {settings.hotline_max_rows:,} rows "
        f"(WANGGE_HOTLINE_MAX_ROWS) and {settings.hotline_max_bytes:,} bytes "
        "(WANGGE_HOTLINE_MAX_BYTES) are accepted at once. Split the export into files of at "
        f"most {settings.hotline_max_rows:,} rows, each starting with the header row, and send "
        "them one after another (rows filed before are skipped, so a file may be sent again). "
        "Nothing of this file was filed."
    )


def _text(stream: BinaryIO) -> io.TextIOWrapper:
    """The file as text: UTF-8 (BOM or not) if all of it decodes so, else GBK (GB 18030).

    The file is decoded a chunk at a time to find its encoding, then read again.
    """
    for encoding in ("utf-8-sig", "gb18030"):
        stream.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := stream.read(1 << 16):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        stream.seek(0)
        return io.TextIOWrapper(stream, encoding=encoding, newline="")
    raise HotlineUnreadable("the file is neither UTF-8 nor GBK text; save it as CSV UTF-8")


def _unreadable(reader: csv.DictReader, exc: csv.Error) -> HotlineUnreadable:
    return HotlineUnreadable(
        f"line {reader.line_num} of the CSV cannot be read ({exc}); save it again as CSV"
    )


def _records(reader: csv.DictReader) -> Iterator[dict[str, str]]:
    """The rows of a CSV, a line that cannot be read named by its number."""
    try:
        yield from reader
    except csv.Error as exc:
        raise _unreadable(reader, exc) from None


def read_hotline_csv(stream: BinaryIO, settings: Settings) -> list[HotlineRow]:
    """The calls of a 12345 hotline export (UTF-8 or GBK CSV with a header row).

    Columns: ``category_code``, ``description``, ``lon``, ``lat`` and optionally
    ``coord_type``, ``reported_at`` (ISO 8601 with offset), ``address``, ``contact_name``,
    ``contact_phone`` and ``case_no`` (the hotline's own case number, 工单编号).
    Unreadable values are reported by row and field, all at once.

    Each row carries its key at the source (``source_ref``), so that a file sent
    again files nothing twice: ``case:`` and the case number where there is one, else
    ``row:``, the SHA-256 of the row's values and the row's occurrence among identical
    rows of the file (two identical calls in one file stay two reports).  A row changed
    since it was filed is a new report (likely a duplicate of the first), unless it has
    a case number: then it is the same case, and is not filed again.

    The file is read as a stream, a row at a time: a file over
    ``settings.hotline_max_bytes`` bytes or ``settings.hotline_max_rows`` rows is
    refused (:class:`HotlineTooLarge`) as soon as that is known.

    Parameters
    ----------
    stream
        The file, binary and seekable (an upload spooled to disk, an open file).
    settings
        The limits.
    """
    size = stream.seek(0, io.SEEK_END)
    if size > settings.hotline_max_bytes:
        raise hotline_too_large(f"the file has {size:,} bytes", settings)
    # newline="" (in _text): a lone carriage return (old Mac exports) ends a line
    reader = csv.DictReader(_text(stream))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise _unreadable(reader, exc) from None
    missing = [c for c in HOTLINE_COLUMNS if c not in (fieldnames or [])]
    if missing:
        raise HotlineUnreadable(
            f"the CSV lacks column(s) {', '.join(missing)}; it needs "
            f"{', '.join(HOTLINE_COLUMNS)} (and may have {', '.join(HOTLINE_OPTIONAL)})"
        )
    rows: list[HotlineRow] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(_records(reader), start=1):
        if i > settings.hotline_max_rows:
            raise hotline_too_large(
                f"the file has more than {settings.hotline_max_rows:,} rows", settings
            )
        for column in (*HOTLINE_COLUMNS, *HOTLINE_OPTIONAL):
            wrong = text_problem(rec.get(column) or "")
            if wrong is not None:
                problems.append(Problem("hotline", i, None, column, wrong, "correct the cell"))
        case_no = (rec.get("case_no") or "").strip()
        if len(case_no) > MAX_CASE_NO:
            problems.append(
                Problem(
                    "hotline",
                    i,
                    None,
                    "case_no",
                    f"the case number has {len(case_no)} characters",
                    f"keep it under {MAX_CASE_NO}",
                )
            )
        if case_no:
            ref = f"case:{case_no}"
        else:
            key = [(rec.get(c) or "").strip() for c in _ROW_KEY_COLUMNS]
            digest = hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()
            seen[digest] = seen.get(digest, 0) + 1
            ref = f"row:{digest}:{seen[digest]}"
        values: dict[str, Any] = {}
        for name in ("lon", "lat"):
            try:
                values[name] = float(rec[name])
            except (TypeError, ValueError):
                problems.append(
                    Problem("hotline", i, None, name, f"{rec[name]!r} is not a number", "degrees")
                )
        at = None
        if rec.get("reported_at"):
            try:
                at = datetime.fromisoformat(rec["reported_at"])
                if at.tzinfo is None:
                    at = at.replace(tzinfo=SHANGHAI)
            except ValueError:
                problems.append(
                    Problem(
                        "hotline",
                        i,
                        None,
                        "reported_at",
                        f"{rec['reported_at']!r} is not a date and time",
                        "write e.g. 2026-11-23T09:30:00+08:00",
                    )
                )
        if len(values) == 2:
            rows.append(
                HotlineRow(
                    category_code=(rec["category_code"] or "").strip(),
                    description=rec["description"] or "",
                    lon=values["lon"],
                    lat=values["lat"],
                    coord_type=(rec.get("coord_type") or "wgs84").strip(),
                    reported_at=at,
                    address=rec.get("address") or None,
                    contact_name=rec.get("contact_name") or None,
                    contact_phone=rec.get("contact_phone") or None,
                    source_ref=ref,
                )
            )
    if problems:
        raise ValidationError(problems)
    return rows
