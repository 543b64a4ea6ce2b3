"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): the door for 12345 hotlines.

A city's hotline system (or any Open311 client) discovers our incident categories as
*services*, files *service requests* and follows them; everything it files goes through
the one intake path (:func:`api.intake.file_report`) and every read through the one
access policy (:mod:`grids.access`), so an Open311 caller sees no more than the same
user would through the JSON API.

Mapping
-------
service
    An incident category: ``service_code`` = category code, ``service_name`` = its
    Chinese name, ``group`` = its major class (公用设施 …), ``description`` = family,
    class and time limit.  No extra attributes (``metadata`` false).
service request
    An incident: ``service_request_id`` = incident id; ``token`` = its public token
    (the filer's secret to find it again).  ``status`` is ``closed`` for 结案 / 评价 /
    不予立案 (closed, rated, rejected) and ``open`` otherwise; ``status_notes`` gives the
    Chinese state and the latest note; ``agency_responsible`` is the community (社区);
    ``expected_datetime`` the deadline.  No reporter name, phone or email is ever
    returned.
``api_key``
    A Wangge token (``wangge users token NAME``), in the form body, the query or an
    ``Authorization: Bearer`` header.  A hotline signs in as a street-staff user; its
    reports are filed as ``hotline_12345``.  A resident's key files as ``resident_app``
    and lists only the resident's own requests.  Missing or unknown: 403, as the spec
    says.

Service discovery is at ``/open311/discovery.json``.  Extensions: ``coord_type``
(``wgs84`` default, ``gcj02``, ``bd09``) on the way in and out.  Every answer is JSON
(``.json`` or no extension) or XML (``.xml``).  Errors use the spec's form
``[{"code": 400, "description": "…"}]`` with the same HTTP status; bad input is never a
500.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Engine

from api.deps import EngineDep, SettingsDep, get_state
from api.intake import Report, categories, file_report
from gis import clock
from gis.coords import CoordTypeError, from_wgs84
from gis.errors import InvalidInput, NotFound, Unauthorized, ValidationError
from gis.store import incident_store, open311_store
from gis.store.incident_store import IncidentNotFound
from gis.times import check_time
from gis.validate import text_problem
from grids.access import Forbidden, Principal, incident_filter, may_see_incident
from grids.categories import Category
from grids.incidents import SHANGHAI, STATE_NAMES_ZH

router = APIRouter(prefix="/open311", tags=["open311"])

#: Our states that Open311 calls ``closed``; every other state is ``open``.
CLOSED_STATES: frozenset[str] = frozenset({"closed", "rated", "rejected"})
OPEN_STATES: frozenset[str] = frozenset(STATE_NAMES_ZH) - CLOSED_STATES
FAMILY_NAMES_ZH = {"component": "部件", "event": "事件", "community": "社区事务"}
#: Roles that file for the 12345 hotline; others file under their own source.
HOTLINE_ROLES = frozenset({"community_staff", "street_staff", "admin"})
DEFAULT_DAYS = 90
MAX_REQUESTS = 1000
MAX_IDS = 200
FORMATS = ("json", "xml")
#: When this mapping of our categories and states last changed (Open311 ``changeset``).
CHANGESET = "2026-11-23T00:00:00+08:00"


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


def _answer(
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


def _error(status: int, descriptions: Sequence[str], fmt: str) -> Response:
    errors = [{"code": status, "description": d} for d in descriptions]
    return _answer(errors, fmt, root="errors", item="error", status=status)


def _format(fmt: str | None) -> str:
    fmt = (fmt or "json").lower()
    if fmt not in FORMATS:
        raise Open311Error(404, f"no format {fmt!r}: ask for .json or .xml")
    return fmt


def _split(name: str) -> tuple[str, str]:
    """``"123.json"`` → ``("123", "json")``; no extension means JSON."""
    stem, dot, ext = name.rpartition(".")
    return (stem, ext) if dot and ext.lower() in FORMATS else (name, "json")


async def _guarded(fmt: str | None, work: Callable[[str], Any]) -> Response:
    """Run ``work(fmt)`` in a thread; turn every error of bad input into Open311's form."""
    shown = (fmt or "json").lower() if (fmt or "json").lower() in FORMATS else "json"
    try:
        checked = _format(fmt)
        result: Response = await run_in_threadpool(work, checked)
        return result
    except Open311Error as exc:
        return _error(exc.status, exc.descriptions, shown)
    except ValidationError as exc:
        return _error(
            400, [f"{p.field}: {p.message} ({p.fix})" for p in exc.problems] or [str(exc)], shown
        )
    except (InvalidInput, CoordTypeError) as exc:
        return _error(400, [str(exc)], shown)
    except OverflowError:
        return _error(400, ["a date or number is out of range"], shown)
    except (Unauthorized, Forbidden) as exc:
        return _error(403, [str(exc)], shown)
    except (NotFound, IncidentNotFound) as exc:
        return _error(404, [str(exc)], shown)


# ------------------------------------------------------------------ inputs


def _signed_in(request: Request, key: str | None) -> Principal:
    """The user of an ``api_key``; 403 when it is missing, unknown or expired."""
    if not key:
        raise Open311Error(
            403,
            "api_key is required: send the token of your system's account "
            "(from 'wangge users token NAME') as api_key",
        )
    user = get_state(request).user_for_token(key)
    if user is None:
        raise Open311Error(403, "api_key is unknown or expired; ask for a new token")
    return user


def _key_of(request: Request, fields: Mapping[str, str]) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return fields.get("api_key") or request.query_params.get("api_key") or None


def _float(fields: Mapping[str, str], name: str) -> float:
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


def _w3_time(raw: str, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(
            400, f"{name}={raw!r} is not a w3 date-time; write e.g. 2026-11-01T00:00:00+08:00"
        ) from None
    return check_time(at, name, planned=True)  # naive: China time


def _text(fields: Mapping[str, str], name: str, limit: int) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    value = str(value).strip()
    if len(value) > limit:
        raise Open311Error(400, f"{name} has {len(value)} characters; keep it under {limit}")
    return value or None


async def _fields(request: Request) -> dict[str, str]:
    """The body of a POST as plain fields: form-encoded (the spec), multipart or JSON."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise Open311Error(400, "the body is not valid JSON") from None
        if isinstance(body, list) and len(body) == 1:
            body = body[0]
        if not isinstance(body, dict):
            raise Open311Error(400, "the JSON body must be an object of request fields")
        fields = {str(k): "" if v is None else str(v) for k, v in body.items()}
    else:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    wrong = [f"{k!r} {problem}" for k, v in fields.items() if (problem := text_problem(v))]
    if wrong:
        raise Open311Error(400, *wrong)
    return fields


# ------------------------------------------------------------------ discovery


@router.get("/discovery")
@router.get("/discovery.{fmt}")
async def discovery(request: Request, fmt: str = "json") -> Response:
    """Service discovery: where the GeoReport v2 endpoint is and what it speaks."""
    base = _base_url(request)

    def work(f: str) -> Response:
        return _answer(
            {
                "changeset": CHANGESET,
                "contact": "街道网格化管理中心 (the street office's grid-management centre)",
                "key_service": "an api_key is a Wangge token: wangge users token NAME",
                "endpoints": [
                    {
                        "specification": "http://wiki.open311.org/GeoReport_v2",
                        "url": f"{base}/open311/v2",
                        "changeset": CHANGESET,
                        "type": "production",
                        "formats": ["application/json", "text/xml"],
                    }
                ],
            },
            f,
            root="discovery",
            item="discovery",
        )

    return await _guarded(fmt, work)


# ------------------------------------------------------------------ services


def _service(category: Category) -> dict[str, Any]:
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


def _category(engine: Engine, code: str) -> Category:
    table = categories(engine)
    if code not in table:
        raise Open311Error(
            404, f"no service {code!r}; GET /open311/v2/services.json lists the services"
        )
    return table[code]


@router.get("/v2/services")
@router.get("/v2/services.{fmt}")
async def list_services(engine: EngineDep, fmt: str = "json") -> Response:
    """The services: our incident categories."""

    def work(f: str) -> Response:
        services = [_service(c) for c in categories(engine).values()]
        return _answer(services, f, root="services", item="service")

    return await _guarded(fmt, work)


@router.get("/v2/services/{name}")
async def service_definition(name: str, engine: EngineDep) -> Response:
    """A service definition: no attributes beyond the standard fields."""
    code, fmt = _split(name)

    def work(f: str) -> Response:
        category = _category(engine, code)
        return _answer(
            {"service_code": category.code, "attributes": []},
            f,
            root="service_definition",
            item="service_definition",
        )

    return await _guarded(fmt, work)


# ------------------------------------------------------------------ requests


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _status_notes(state: str, note: str | None) -> str:
    name = STATE_NAMES_ZH.get(state, state)
    return f"{name}：{note}" if note and note != name else name


def _requests(
    engine: Engine,
    rows: Sequence[Mapping[str, Any]],
    *,
    coord_type: str,
    base_url: str,
) -> list[dict[str, Any]]:
    """Open311 service requests of incident rows (as :func:`incident_store.list_incidents`)."""
    with engine.connect() as conn:
        extras = open311_store.request_extras(conn, [int(r["id"]) for r in rows])
    table = categories(engine)
    out = []
    for r in rows:
        more = extras.get(int(r["id"]))
        lon, lat = from_wgs84(float(r["lon"]), float(r["lat"]), coord_type)
        category = table.get(r["category_code"])
        photo = None if more is None else more.first_photo_id
        out.append(
            {
                "service_request_id": str(r["id"]),
                "status": "closed" if r["state"] in CLOSED_STATES else "open",
                "status_notes": _status_notes(r["state"], more.last_note if more else None),
                "service_name": category.name if category else r["category_code"],
                "service_code": r["category_code"],
                "description": r["description"],
                "agency_responsible": more.community_name if more else None,
                "service_notice": "",
                "requested_datetime": _iso(r["reported_at"]),
                "updated_datetime": _iso(more.updated_at if more else r["reported_at"]),
                "expected_datetime": _iso(r["deadline"]),
                "address": r["address"] or "",
                "address_id": "",
                "zipcode": "",
                "lat": round(float(lat), 7),
                "long": round(float(lon), 7),
                "media_url": (
                    f"{base_url}/api/incidents/{r['id']}/photos/{photo}" if photo else ""
                ),
            }
        )
    return out


def _row(engine: Engine, incident_id: int) -> dict[str, Any] | None:
    """One incident as a listing row (the fields an Open311 answer needs), or None."""
    with engine.connect() as conn:
        found = incident_store.read_incident(conn, incident_id)
    if found is None:
        return None
    return {
        "id": found.id,
        "category_code": found.category_code,
        "description": found.description,
        "state": found.state,
        "reported_at": found.reported_at,
        "deadline": found.deadline,
        "address": found.address,
        "lon": found.lon,
        "lat": found.lat,
        "grid_id": found.grid_id,
        "reporter_id": found.reporter_id,
        "assignee_id": found.assignee_id,
    }


def _is_id(text: str) -> bool:
    """Whether the text can be an incident id (ASCII digits that fit a bigint)."""
    return text.isascii() and text.isdigit() and len(text) <= 19 and int(text) < 2**63


def _visible_row(engine: Engine, user: Principal, incident_id: int) -> dict[str, Any] | None:
    row = _row(engine, incident_id)
    if row is None or not may_see_incident(
        user, grid_id=row["grid_id"], reporter_id=row["reporter_id"], assignee_id=row["assignee_id"]
    ):
        return None
    return row


def _coord_type(request: Request, fields: Mapping[str, str] | None = None) -> str:
    value = (fields or {}).get("coord_type") or request.query_params.get("coord_type") or "wgs84"
    from_wgs84(120.0, 30.0, value)  # raises CoordTypeError (400) for an unknown system
    return value


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post("/v2/requests")
@router.post("/v2/requests.{fmt}")
async def create_request(
    request: Request, engine: EngineDep, settings: SettingsDep, fmt: str = "json"
) -> Response:
    """File a service request (form-encoded as the spec says; a JSON object is accepted)."""
    try:
        fields = await _fields(request)
    except Open311Error as exc:
        return _error(exc.status, exc.descriptions, "xml" if fmt == "xml" else "json")

    def work(f: str) -> Response:
        user = _signed_in(request, _key_of(request, fields))
        code = (fields.get("service_code") or "").strip()
        if not code:
            raise Open311Error(400, "service_code is required; GET /open311/v2/services.json")
        if code not in categories(engine):
            raise Open311Error(
                400, f"service_code {code!r} is not a service; GET /open311/v2/services.json"
            )
        lat, lon = _float(fields, "lat"), _float(fields, "long")
        category = categories(engine)[code]
        description = _text(fields, "description", 1900) or category.name
        media = _text(fields, "media_url", 500)
        if media:
            description = f"{description}\n附件 (media_url): {media}"
        first, last = _text(fields, "first_name", 50), _text(fields, "last_name", 50)
        name = "".join(part for part in (last, first) if part) or None  # 姓 then 名
        report = Report(
            category_code=code,
            description=description,
            lon=lon,
            lat=lat,
            coord_type=fields.get("coord_type") or "wgs84",
            source="hotline_12345" if user.role in HOTLINE_ROLES else None,
            address=_text(fields, "address_string", 500),
            contact_name=name,
            contact_phone=_text(fields, "phone", 32),
            contact_email=_text(fields, "email", 200),
        )
        filed = file_report(engine, get_state(request).current_grids(), settings, user, report)
        notice = (
            f"已受理，归属{filed.community}{filed.grid_name}（网格 {filed.grid_code}）；"
            f"立案派遣后 {category.time_limit_hours} 小时内处置"
        )
        if filed.duplicate_of is not None:
            notice += f"；疑似与 {filed.duplicate_of} 号重复"
        return _answer(
            [
                {
                    "service_request_id": str(filed.id),
                    "token": filed.public_token,
                    "service_notice": notice,
                    "account_id": None,
                }
            ],
            f,
            root="service_requests",
            item="request",
            status=201,
        )

    return await _guarded(fmt, work)


@router.get("/v2/requests")
@router.get("/v2/requests.{fmt}")
async def list_requests(request: Request, engine: EngineDep, fmt: str = "json") -> Response:
    """Requests the api_key's user may see: by ids, or by service, dates and status."""
    params = request.query_params

    def work(f: str) -> Response:
        user = _signed_in(request, _key_of(request, {}))
        coord_type = _coord_type(request)
        ids_raw = params.get("service_request_id")
        if ids_raw:
            ids = []
            for part in ids_raw.split(","):
                if not _is_id(part.strip()):
                    raise Open311Error(400, f"service_request_id {part!r} is not a request id")
                ids.append(int(part))
            if len(ids) > MAX_IDS:
                raise Open311Error(400, f"ask for at most {MAX_IDS} service_request_id at once")
            rows = [r for i in ids if (r := _visible_row(engine, user, i)) is not None]
        else:
            rows = _filtered(engine, user, params)
        answer = _requests(engine, rows, coord_type=coord_type, base_url=_base_url(request))
        return _answer(answer, f, root="service_requests", item="request")

    return await _guarded(fmt, work)


def _filtered(engine: Engine, user: Principal, params: Mapping[str, str]) -> list[dict[str, Any]]:
    """Requests by service_code, start_date / end_date (default the last 90 days) and status."""
    now = clock.now()
    end = _w3_time(params["end_date"], "end_date") if params.get("end_date") else None
    start = _w3_time(params["start_date"], "start_date") if params.get("start_date") else None
    if start is None:
        start = (end or now) - timedelta(days=DEFAULT_DAYS)
    if end is not None and end <= start:
        raise Open311Error(400, "end_date is not after start_date; swap them")
    states: tuple[str, ...] = ()
    if params.get("status"):
        wanted = {s.strip().lower() for s in params["status"].split(",") if s.strip()}
        unknown = wanted - {"open", "closed"}
        if unknown:
            raise Open311Error(400, f"status {', '.join(sorted(unknown))}: use open or closed")
        chosen: set[str] = set()
        if "open" in wanted:
            chosen |= OPEN_STATES
        if "closed" in wanted:
            chosen |= CLOSED_STATES
        states = tuple(sorted(chosen))
    codes: list[str | None] = [None]
    if params.get("service_code"):
        named = [c.strip() for c in params["service_code"].split(",") if c.strip()]
        table = categories(engine)
        unknown_codes = [c for c in named if c not in table]
        if unknown_codes:
            raise Open311Error(
                400,
                f"service_code {', '.join(unknown_codes)} is not a service; "
                "GET /open311/v2/services.json",
            )
        codes = list(named)
    rule = incident_filter(user)
    rows: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for code in codes:
            rows += incident_store.list_incidents(
                conn,
                everything=rule.everything,
                grid_ids=rule.grid_ids,
                worker_id=rule.worker_id,
                reporter_id=rule.reporter_id,
                states=states,
                category_code=code,
                since=start,
                until=end + timedelta(microseconds=1) if end is not None else None,
                limit=MAX_REQUESTS,
            )
    rows.sort(key=lambda r: (r["reported_at"], r["id"]), reverse=True)
    return rows[:MAX_REQUESTS]


@router.get("/v2/requests/{name}")
async def get_request(name: str, request: Request, engine: EngineDep) -> Response:
    """One service request, if the api_key's user may see it (404 otherwise)."""
    stem, fmt = _split(name)

    def work(f: str) -> Response:
        user = _signed_in(request, _key_of(request, {}))
        coord_type = _coord_type(request)
        row = _visible_row(engine, user, int(stem)) if _is_id(stem) else None
        if row is None:
            raise Open311Error(404, f"no service request {stem!r} that you may see")
        answer = _requests(engine, [row], coord_type=coord_type, base_url=_base_url(request))
        return _answer(answer, f, root="service_requests", item="request")

    return await _guarded(fmt, work)


@router.get("/v2/tokens/{name}")
async def request_by_token(name: str, engine: EngineDep) -> Response:
    """The service request id filed under a token (no api_key: the token is the secret)."""
    token, fmt = _split(name)

    def work(f: str) -> Response:
        with engine.connect() as conn:
            found = incident_store.id_by_token(conn, token)
        if found is None:
            raise Open311Error(404, f"no service request has token {token!r}")
        return _answer(
            [{"service_request_id": str(found), "token": token}],
            f,
            root="service_requests",
            item="request",
        )

    return await _guarded(fmt, work)
