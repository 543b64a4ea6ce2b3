"""Open311 GeoReport v2's own forms: answers as JSON or XML, errors as its error array.

The protocol specifics of :mod:`api.routers.open311`, kept apart from the use cases
(:mod:`api.services.open311`): how a category reads as a *service*, a case as a
*service request*, how an answer is written in either format, how fields are read,
and how an error of ours becomes ``[{"code": 400, "description": "…"}]`` with the
same HTTP status (the one place an Open311 error is shaped; bad input is never a 500).
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.services.open311 import PublicRequest, ServiceRequest
from gis import clock
from gis.coords import from_wgs84
from gis.errors import Forbidden, InvalidInput, NotFound, Unauthorized, ValidationError
from gis.times import check_time
from grids.categories import Category
from grids.incidents import SHANGHAI, STATE_NAMES_ZH

#: Our states that Open311 calls ``closed``; every other state is ``open``.
CLOSED_STATES: frozenset[str] = frozenset({"closed", "rated", "rejected"})
OPEN_STATES: frozenset[str] = frozenset(STATE_NAMES_ZH) - CLOSED_STATES
FAMILY_NAMES_ZH = {"component": "部件", "event": "事件", "community": "社区事务"}
FORMATS = ("json", "xml")


class Open311Error(Exception):
    """An error answered in Open311's form, with its HTTP status."""

    def __init__(self, status: int, *descriptions: str):
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions or ("error",)


# ------------------------------------------------------------------ answers


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(value, bool):
        child.text = "true" if value else "false"
    elif isinstance(value, list):
        for item in value:
            _xml_value(child, name[:-1] if name.endswith("s") else "item", item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(child, key, inner)
    elif value is not None:
        child.text = str(value)


def answer(
    items: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    fmt: str,
    *,
    root: str,
    item: str,
    status: int = 200,
) -> Response:
    """A JSON array (or object) or its XML form ``<root><item>…</item></root>``."""
    if fmt == "xml":
        top = ET.Element(root)
        for one in [items] if isinstance(items, Mapping) else items:
            element = top if isinstance(items, Mapping) else ET.SubElement(top, item)
            for key, value in one.items():
                _xml_value(element, key, value)
        body = ET.tostring(top, encoding="utf-8", xml_declaration=True)
        return Response(body, status_code=status, media_type="text/xml; charset=utf-8")
    return Response(
        json.dumps(items, ensure_ascii=False),
        status_code=status,
        media_type="application/json",
    )


def error(status: int, descriptions: Sequence[str], fmt: str) -> Response:
    """An Open311 error array with its HTTP status."""
    errors = [{"code": status, "description": d} for d in descriptions]
    return answer(errors, fmt, root="errors", item="error", status=status)


def _format(fmt: str | None) -> str:
    fmt = (fmt or "json").lower()
    if fmt not in FORMATS:
        raise Open311Error(404, f"no format {fmt!r}: ask for .json or .xml")
    return fmt


def split(name: str) -> tuple[str, str]:
    """``"123.json"`` → ``("123", "json")``; no extension means JSON."""
    stem, dot, ext = name.rpartition(".")
    return (stem, ext) if dot and ext.lower() in FORMATS else (name, "json")


async def guarded(fmt: str | None, work: Callable[[str], Response]) -> Response:
    """Run ``work(fmt)`` in a thread; answer every error of bad input in Open311's form.

    By kind: invalid input 400 (every problem of a validation error one description),
    not signed in or not allowed 403 (as the spec says), not found 404.  Other kinds
    (a conflict, something unavailable) are answered by the application's handler.
    """
    shown = (fmt or "json").lower() if (fmt or "json").lower() in FORMATS else "json"
    try:
        return await run_in_threadpool(work, _format(fmt))
    except Open311Error as exc:
        return error(exc.status, exc.descriptions, shown)
    except ValidationError as exc:
        return error(
            400, [f"{p.field}: {p.message} ({p.fix})" for p in exc.problems] or [str(exc)], shown
        )
    except InvalidInput as exc:
        return error(400, [str(exc)], shown)
    except OverflowError:
        return error(400, ["a date or number is out of range"], shown)
    except (Unauthorized, Forbidden) as exc:
        return error(403, [str(exc)], shown)
    except NotFound as exc:
        return error(404, [str(exc)], shown)


# ------------------------------------------------------------------ inputs


def number(fields: Mapping[str, str], name: str) -> float:
    """A coordinate field (degrees); 400 when missing, not a number or not finite."""
    raw = fields.get(name)
    if raw is None or str(raw).strip() == "":
        raise Open311Error(
            400,
            f"{name} is required: give the location as lat and long (WGS84 degrees, or "
            "coord_type=gcj02/bd09); address_string alone cannot be placed in a grid",
        )
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise Open311Error(400, f"{name}={raw!r} is not a number of degrees") from None
    if not math.isfinite(value):
        raise Open311Error(400, f"{name}={raw!r} is not a number of degrees")
    return value


def w3_time(raw: str, name: str) -> datetime:
    """A w3 date-time of a query (naive: China time), within the accepted range."""
    try:
        at = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(
            400, f"{name}={raw!r} is not a w3 date-time; write e.g. 2026-11-01T00:00:00+08:00"
        ) from None
    return check_time(at, name, planned=True)  # naive: China time


def text(fields: Mapping[str, str], name: str, limit: int) -> str | None:
    """A text field, stripped (None when empty); 400 when over ``limit`` characters."""
    value = fields.get(name)
    if value is None:
        return None
    value = str(value).strip()
    if len(value) > limit:
        raise Open311Error(400, f"{name} has {len(value)} characters; keep it under {limit}")
    return value or None


def is_id(value: str) -> bool:
    """Whether the text can be an incident id (ASCII digits that fit a bigint)."""
    return value.isascii() and value.isdigit() and len(value) <= 19 and int(value) < 2**63


def states_of(status: str) -> tuple[str, ...]:
    """Our states of an Open311 ``status`` filter (``open``, ``closed`` or both)."""
    wanted = {s.strip().lower() for s in status.split(",") if s.strip()}
    unknown = wanted - {"open", "closed"}
    if unknown:
        raise Open311Error(400, f"status {', '.join(sorted(unknown))}: use open or closed")
    chosen: set[str] = set()
    if "open" in wanted:
        chosen |= OPEN_STATES
    if "closed" in wanted:
        chosen |= CLOSED_STATES
    return tuple(sorted(chosen))


# ------------------------------------------------------------------ services and requests


def service(category: Category) -> dict[str, Any]:
    """An incident category as an Open311 service."""
    family = FAMILY_NAMES_ZH.get(category.family, category.family)
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": (
            f"{family} · {category.group_name} · {category.name}；处置时限 "
            f"{category.time_limit_hours} 小时（自派遣起），优先级 {category.priority}"
        ),
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join([category.name, category.group_name, family]),
        "group": category.group_name,
    }


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _status_notes(state: str, note: str | None) -> str:
    name = STATE_NAMES_ZH.get(state, state)
    return f"{name}：{note}" if note and note != name else name


def service_request(found: ServiceRequest, *, coord_type: str, base_url: str) -> dict[str, Any]:
    """A case as an Open311 service request; no reporter name, phone or email, ever."""
    r, more = found.case, found.extras
    lon, lat = from_wgs84(float(r.lon), float(r.lat), coord_type)
    photo = None if more is None else more.first_photo_id
    return {
        "service_request_id": str(r.id),
        "status": "closed" if r.state in CLOSED_STATES else "open",
        "status_notes": _status_notes(r.state, more.last_note if more else None),
        "service_name": found.category_name or r.category_code,
        "service_code": r.category_code,
        "description": r.description,
        "agency_responsible": more.community_name if more else None,
        "service_notice": "",
        "requested_datetime": _iso(r.reported_at),
        "updated_datetime": _iso(more.updated_at if more else r.reported_at),
        "expected_datetime": _iso(r.deadline),
        "address": r.address or "",
        "address_id": "",
        "zipcode": "",
        "lat": round(float(lat), 7),
        "long": round(float(lon), 7),
        "media_url": f"{base_url}/api/incidents/{r.id}/photos/{photo}" if photo else "",
    }


def public_service_request(found: PublicRequest, *, coord_type: str) -> dict[str, Any]:
    """What a stranger sees of a case: no description, address, photo or contact, ever.

    ``lat``/``long`` are the centre of the H3 cell (extension fields ``h3_cell`` and
    ``h3_resolution`` name it); ``status_notes`` is the public state in plain Chinese.
    """
    lon, lat = from_wgs84(found.lon, found.lat, coord_type)
    return {
        "service_request_id": str(found.id),
        "status": "closed" if found.state in CLOSED_STATES else "open",
        "status_notes": found.public_state,
        "service_name": found.category_name,
        "service_code": found.category_code,
        "description": "",
        "agency_responsible": found.agency,
        "service_notice": "",
        "requested_datetime": _iso(found.reported_at),
        "updated_datetime": _iso(found.updated_at),
        "expected_datetime": _iso(found.deadline),
        "address": "",
        "address_id": "",
        "zipcode": "",
        "lat": round(float(lat), 7),
        "long": round(float(lon), 7),
        "media_url": "",
        "h3_cell": found.h3_cell,
        "h3_resolution": found.h3_resolution,
    }


def page_of(params: Mapping[str, str], most: int) -> tuple[int, int]:
    """``page`` (from 1) and ``page_size`` (1 to ``most``, default ``most``) as offset, limit."""
    page_raw, size_raw = params.get("page", "1"), params.get("page_size", str(most))
    if not is_id(page_raw) or int(page_raw) < 1:
        raise Open311Error(400, f"page {page_raw!r} is not a page number: use 1, 2, …")
    if not is_id(size_raw) or not 1 <= int(size_raw) <= most:
        raise Open311Error(400, f"page_size {size_raw!r}: use a whole number from 1 to {most}")
    size = int(size_raw)
    if int(page_raw) > 1_000_000:
        raise Open311Error(400, f"page {page_raw} is beyond the last page; use a smaller one")
    return (int(page_raw) - 1) * size, size


def request_ids(params: Mapping[str, str], most: int) -> list[int] | None:
    """``service_request_id`` as ids (None when not asked); 400 for a bad one or too many."""
    ids_raw = params.get("service_request_id")
    if not ids_raw:
        return None
    ids = []
    for part in ids_raw.split(","):
        if not is_id(part.strip()):
            raise Open311Error(400, f"service_request_id {part!r} is not a request id")
        ids.append(int(part))
    if len(ids) > most:
        raise Open311Error(400, f"ask for at most {most} service_request_id at once")
    return ids


def request_window(params: Mapping[str, str], default_days: int) -> dict:
    """service_code, start_date / end_date (default: the last ``default_days``), status."""
    end = w3_time(params["end_date"], "end_date") if params.get("end_date") else None
    start = w3_time(params["start_date"], "start_date") if params.get("start_date") else None
    if start is None:
        start = (end or clock.now()) - timedelta(days=default_days)
    if end is not None and end <= start:
        raise Open311Error(400, "end_date is not after start_date; swap them")
    codes = [c.strip() for c in params.get("service_code", "").split(",") if c.strip()]
    return {
        "states": states_of(params["status"]) if params.get("status") else (),
        "category_codes": tuple(codes),
        "since": start,
        "until": end + timedelta(microseconds=1) if end is not None else None,
    }
