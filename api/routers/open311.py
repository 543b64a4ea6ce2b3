"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): the door for 12345 hotlines.

A city's hotline system (or any Open311 client) discovers our incident categories as
*services*, files *service requests* and follows them; everything it files goes through
the one intake path (:func:`api.services.intake.file_report`) and every read through the
one access policy (:mod:`grids.access`, applied in :mod:`api.services.open311`), so an
Open311 caller sees no more than the same user would through the JSON API.

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
    ``Authorization: Bearer`` header.  Open311 is the one door that still takes a token in
    the query, because its standard says so (everywhere else it is refused,
    :mod:`api.url_credentials`); the access log shows it as ``***``, and a client that can
    should send the header or the form body.  A hotline signs in as a street-staff user; its
    reports are filed as ``hotline_12345``.  A resident's key files as ``resident_app``
    and lists only the resident's own requests.  Filing needs one (missing or unknown:
    403, as the spec says); an unknown key on a read is 403 too.
public reads
    ``GET requests`` and ``GET requests/{id}`` without a key answer what a stranger may
    see (:func:`api.services.open311.public_requests`): category, status (the public
    state in plain Chinese as ``status_notes``), dates, the community responsible and
    the place as the centre of an H3 cell (``WANGGE_OPEN311_PUBLIC_H3_RESOLUTION``,
    extension fields ``h3_cell`` and ``h3_resolution``); no description (no reporter
    agreed to publish one), address, photo or contact; disputes and the care of
    vulnerable residents are not published at all.  ``page`` (from 1) and
    ``page_size`` (up to 1000) page every listing.

Service discovery is at ``/open311/discovery.json``.  Extensions: ``coord_type``
(``wgs84`` default, ``gcj02``, ``bd09``) on the way in and out.  Every answer is JSON
(``.json`` or no extension) or XML (``.xml``).  Errors use the spec's form
``[{"code": 400, "description": "…"}]`` with the same HTTP status; bad input is never a
500.  The protocol's forms are :mod:`api.open311_format`; this module only reads the
request, calls the services and answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import open311_format as o311
from api.deps import EngineDep, StateDep
from api.open311_format import Open311Error
from api.services import intake, open311
from api.state import AppState
from gis.coords import from_wgs84
from gis.db import principal as db_principal
from gis.validate import (
    text_problem,
)
from grids.access import STAFF_ROLES, Principal

router = APIRouter(prefix="/open311", tags=["open311"])

#: Roles that file for the 12345 hotline; others file under their own source.
HOTLINE_ROLES = STAFF_ROLES
DEFAULT_DAYS = 90
MAX_REQUESTS = 1000
MAX_IDS = 200
#: When this mapping of our categories and states last changed (Open311 ``changeset``).
CHANGESET = "2026-11-23T00:00:00+08:00"


# ------------------------------------------------------------------ reading the request


def _key_of(request: Request, fields: Mapping[str, str]) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return fields.get("api_key") or request.query_params.get("api_key") or None


def _signed_in(state: AppState, key: str | None) -> Principal:
    """The user of an ``api_key``; 403 when it is missing, unknown or expired."""
    if not key:
        raise Open311Error(
            403,
            "api_key is required: send the token of your system's account "
            "(from 'wangge users token NAME') as api_key",
        )
    user = state.user_for_token(key)
    if user is None:
        raise Open311Error(403, "api_key is unknown or expired; ask for a new token")
    # the database's row-level security sees this user (the caller's thread from here on)
    db_principal.set_user(user)
    return user


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


def _coord_type(request: Request, fields: Mapping[str, str] | None = None) -> str:
    value = (fields or {}).get("coord_type") or request.query_params.get("coord_type") or "wgs84"
    from_wgs84(120.0, 30.0, value)  # raises CoordTypeError (400) for an unknown system
    return value


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _requests(
    request: Request, found: list[open311.ServiceRequest], coord_type: str, fmt: str
) -> Response:
    base_url = _base_url(request)
    answer = [o311.service_request(r, coord_type=coord_type, base_url=base_url) for r in found]
    return o311.answer(answer, fmt, root="service_requests", item="request")


# ------------------------------------------------------------------ discovery and services


@router.get("/discovery")
@router.get("/discovery.{fmt}")
async def discovery(request: Request, fmt: str = "json") -> Response:
    """Service discovery: where the GeoReport v2 endpoint is and what it speaks."""
    base = _base_url(request)

    def work(f: str) -> Response:
        return o311.answer(
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

    return await o311.guarded(fmt, work)


@router.get("/v2/services")
@router.get("/v2/services.{fmt}")
async def list_services(engine: EngineDep, fmt: str = "json") -> Response:
    """The services: our incident categories."""

    def work(f: str) -> Response:
        services = [o311.service(c) for c in intake.categories(engine).values()]
        return o311.answer(services, f, root="services", item="service")

    return await o311.guarded(fmt, work)


@router.get("/v2/services/{name}")
async def service_definition(name: str, engine: EngineDep) -> Response:
    """A service definition: no attributes beyond the standard fields."""
    code, fmt = o311.split(name)

    def work(f: str) -> Response:
        if code not in intake.categories(engine):
            raise Open311Error(
                404, f"no service {code!r}; GET /open311/v2/services.json lists the services"
            )
        return o311.answer(
            {"service_code": code, "attributes": []},
            f,
            root="service_definition",
            item="service_definition",
        )

    return await o311.guarded(fmt, work)


# ------------------------------------------------------------------ requests


@router.post("/v2/requests")
@router.post("/v2/requests.{fmt}")
async def create_request(request: Request, state: StateDep, fmt: str = "json") -> Response:
    """File a service request (form-encoded as the spec says; a JSON object is accepted)."""
    try:
        fields = await _fields(request)
    except Open311Error as exc:
        return o311.error(exc.status, exc.descriptions, "xml" if fmt == "xml" else "json")

    def work(f: str) -> Response:
        user = _signed_in(state, _key_of(request, fields))
        code = (fields.get("service_code") or "").strip()
        if not code:
            raise Open311Error(400, "service_code is required; GET /open311/v2/services.json")
        table = intake.categories(state.engine)
        if code not in table:
            raise Open311Error(
                400, f"service_code {code!r} is not a service; GET /open311/v2/services.json"
            )
        lat, lon = o311.number(fields, "lat"), o311.number(fields, "long")
        category = table[code]
        description = o311.text(fields, "description", 1900) or category.name
        media = o311.text(fields, "media_url", 500)
        if media:
            description = f"{description}\n附件 (media_url): {media}"
        first, last = o311.text(fields, "first_name", 50), o311.text(fields, "last_name", 50)
        name = "".join(part for part in (last, first) if part) or None  # 姓 then 名
        report = intake.Report(
            category_code=code,
            description=description,
            lon=lon,
            lat=lat,
            coord_type=fields.get("coord_type") or "wgs84",
            source="hotline_12345" if user.role in HOTLINE_ROLES else None,
            address=o311.text(fields, "address_string", 500),
            contact_name=name,
            contact_phone=o311.text(fields, "phone", 32),
            contact_email=o311.text(fields, "email", 200),
        )
        filed = intake.file_report(
            state.engine, state.current_grids(), state.settings, user, report
        )
        notice = (
            f"已受理，归属{filed.community}{filed.grid_name}（网格 {filed.grid_code}）；"
            f"立案派遣后 {category.time_limit_hours} 小时内处置"
        )
        if filed.duplicate_of is not None:
            notice += f"；疑似与 {filed.duplicate_of} 号重复"
        return o311.answer(
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

    return await o311.guarded(fmt, work)


@router.get("/v2/requests")
@router.get("/v2/requests.{fmt}")
async def list_requests(request: Request, state: StateDep, fmt: str = "json") -> Response:
    """Requests by ids, or by service, dates and status; ``page`` / ``page_size`` page them.

    Without an api_key: the public view of every request of a publishable category.  With
    one: what the key's user may see, in full.
    """
    params = request.query_params

    def work(f: str) -> Response:
        key = _key_of(request, {})
        user = None if key is None else _signed_in(state, key)
        coord_type = _coord_type(request)
        offset, limit = o311.page_of(params, MAX_REQUESTS)
        ids = o311.request_ids(params, MAX_IDS)
        if user is None:
            window = {} if ids is not None else o311.request_window(params, DEFAULT_DAYS)
            found = open311.public_requests(
                state.engine,
                resolution=state.settings.open311_public_h3_resolution,
                ids=ids,
                limit=limit,
                offset=offset,
                **window,
            )
            return _public(found, coord_type, f)
        if ids is not None:
            return _requests(
                request, open311.requests_by_id(state.engine, user, ids), coord_type, f
            )
        found = open311.find_requests(
            state.engine,
            user,
            limit=limit,
            offset=offset,
            **o311.request_window(params, DEFAULT_DAYS),
        )
        return _requests(request, found, coord_type, f)

    return await o311.guarded(fmt, work)


def _public(found: list[open311.PublicRequest], coord_type: str, fmt: str) -> Response:
    answer = [o311.public_service_request(r, coord_type=coord_type) for r in found]
    return o311.answer(answer, fmt, root="service_requests", item="request")


@router.get("/v2/requests/{name}")
async def get_request(name: str, request: Request, state: StateDep) -> Response:
    """One service request: public view without an api_key, the user's view with one."""
    stem, fmt = o311.split(name)

    def work(f: str) -> Response:
        key = _key_of(request, {})
        user = None if key is None else _signed_in(state, key)
        coord_type = _coord_type(request)
        ids = [int(stem)] if o311.is_id(stem) else []
        if user is None:
            public = (
                open311.public_requests(
                    state.engine, resolution=state.settings.open311_public_h3_resolution, ids=ids
                )
                if ids
                else []
            )
            if not public:
                raise Open311Error(404, f"no public service request {stem!r}")
            return _public(public, coord_type, f)
        found = open311.requests_by_id(state.engine, user, ids) if ids else []
        if not found:
            raise Open311Error(404, f"no service request {stem!r} that you may see")
        return _requests(request, found, coord_type, f)

    return await o311.guarded(fmt, work)


@router.get("/v2/tokens/{name}")
async def request_by_token(name: str, engine: EngineDep) -> Response:
    """The service request id filed under a token (no api_key: the token is the secret)."""
    token, fmt = o311.split(name)

    def work(f: str) -> Response:
        found = open311.request_by_token(engine, token)
        if found is None:
            raise Open311Error(404, f"no service request has token {token!r}")
        return o311.answer(
            [{"service_request_id": str(found), "token": token}],
            f,
            root="service_requests",
            item="request",
        )

    return await o311.guarded(fmt, work)
