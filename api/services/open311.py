"""Open311's view of the cases: the service requests a caller may see, and what they show.

A service request is a case (:func:`api.services.casework.list_cases`, so an Open311
caller sees exactly what the same user sees through the JSON API) with what the
GeoReport answer shows beside it: the category's name, the community responsible, the
latest update and note, the first photo (:func:`gis.store.open311_store.request_extras`).
Filing goes through the one intake path (:func:`api.services.intake.file_report`).

Reads without a key are public, as GeoReport intends (:func:`public_requests`): only what
a stranger may see — category, public state, dates, the community responsible and a place
coarsened to an H3 cell — of the categories that may be published
(:func:`grids.access.may_publish_category`); never the description (the reporter gave no
consent to publish it: there is no such consent here), the address, photos or contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

import h3

from api.services.casework import CaseQuery, Listed, list_cases
from api.services.intake import categories
from gis.db.principal import as_system
from gis.errors import InvalidInput
from gis.store import incident_store, open311_store
from gis.store.open311_store import RequestExtras
from grids.access import Principal, may_publish_category
from grids.incidents import PUBLIC_STATE_NAMES_ZH, SHANGHAI


@dataclass(frozen=True)
class ServiceRequest:
    """A case as a service request: the case, its category's name, the extras shown."""

    case: Listed
    category_name: str | None
    extras: RequestExtras | None


def _with_extras(engine: Engine, cases: Sequence[Listed]) -> list[ServiceRequest]:
    with engine.connect() as conn:
        extras = open311_store.request_extras(conn, [c.id for c in cases])
    table = categories(engine)
    return [
        ServiceRequest(
            c,
            table[c.category_code].name if c.category_code in table else None,
            extras.get(c.id),
        )
        for c in cases
    ]


def requests_by_id(engine: Engine, user: Principal, ids: Sequence[int]) -> list[ServiceRequest]:
    """The requests of ``ids`` the user may see, in the order asked; the others left out."""
    if not ids:
        return []
    seen = list_cases(engine, user, CaseQuery(ids=tuple(ids), limit=len(ids)))
    found = {c.id: c for c in seen}
    return _with_extras(engine, [found[i] for i in ids if i in found])


def find_requests(
    engine: Engine,
    user: Principal,
    *,
    states: tuple[str, ...],
    category_codes: tuple[str, ...],
    since: datetime,
    until: datetime | None,
    limit: int,
    offset: int = 0,
) -> list[ServiceRequest]:
    """The requests the user may see, newest first, by state, category and time reported.

    Of ``states`` and ``category_codes`` when given; reported at ``since`` or later and
    before ``until``; at most ``limit``, after skipping ``offset``.

    Raises
    ------
    InvalidInput
        A category code that is no service.
    """
    table = categories(engine)
    unknown = [c for c in category_codes if c not in table]
    if unknown:
        raise InvalidInput(
            f"service_code {', '.join(unknown)} is not a service; GET /open311/v2/services.json"
        )
    query = CaseQuery(
        states=states,
        category_codes=category_codes,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return _with_extras(engine, list_cases(engine, user, query))


def request_by_token(engine: Engine, token: str) -> int | None:
    """The id of the request filed under a public token (the filer's secret), or None."""
    with engine.connect() as conn:
        return incident_store.id_by_token(conn, token)


# ------------------------------------------------------------------ public reads


@dataclass(frozen=True)
class PublicRequest:
    """What a stranger may see of a case (times in China time).

    ``lon``, ``lat``: the centre of ``h3_cell`` (WGS84), not the reported point;
    ``public_state``: the state in plain Chinese (:data:`PUBLIC_STATE_NAMES_ZH`).
    """

    id: int
    category_code: str
    category_name: str
    state: str
    public_state: str
    reported_at: datetime
    updated_at: datetime
    deadline: datetime | None
    closed_at: datetime | None
    agency: str | None
    h3_cell: str
    h3_resolution: int
    lon: float
    lat: float


def public_requests(
    engine: Engine,
    *,
    resolution: int,
    ids: Sequence[int] | None = None,
    states: tuple[str, ...] = (),
    category_codes: tuple[str, ...] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[PublicRequest]:
    """The public view of the cases of publishable categories, newest first (or by ``ids``).

    Parameters
    ----------
    resolution
        H3 resolution of the place shown (``WANGGE_OPEN311_PUBLIC_H3_RESOLUTION``).
    ids
        Only these cases, in the order asked (the others, and unpublishable ones, left
        out); then the other filters are ignored.
    states, category_codes, since, until, limit, offset
        As :func:`find_requests`.

    Raises
    ------
    InvalidInput
        A category code that is no service.
    """
    table = categories(engine)
    unknown = [c for c in category_codes if c not in table]
    if unknown:
        raise InvalidInput(
            f"service_code {', '.join(unknown)} is not a service; GET /open311/v2/services.json"
        )
    public = tuple(c for c, cat in table.items() if may_publish_category(cat.group_name))
    codes = tuple(c for c in (category_codes or public) if c in public)
    if not codes:
        return []
    # the public view is published to anyone by design: it is read as the system and
    # reduced here to what a stranger may see (no description, contact or exact place)
    with as_system(), engine.connect() as conn:
        if ids is not None:
            rows = incident_store.list_incidents(
                conn, everything=True, ids=tuple(ids), category_codes=codes, limit=len(ids)
            )
            order = {i: n for n, i in enumerate(ids)}
            rows.sort(key=lambda r: order[r["id"]])
        else:
            rows = incident_store.list_incidents(
                conn,
                everything=True,
                states=states,
                category_codes=codes,
                since=since,
                until=until,
                limit=limit,
                offset=offset,
            )
        extras = open311_store.request_extras(conn, [r["id"] for r in rows])
    out = []
    for r in rows:
        cell = h3.latlng_to_cell(float(r["lat"]), float(r["lon"]), resolution)
        lat, lon = h3.cell_to_latlng(cell)
        more = extras.get(r["id"])
        updated = more.updated_at if more and more.updated_at else r["reported_at"]
        out.append(
            PublicRequest(
                id=int(r["id"]),
                category_code=r["category_code"],
                category_name=table[r["category_code"]].name,
                state=r["state"],
                public_state=PUBLIC_STATE_NAMES_ZH.get(r["state"], "处理中"),
                reported_at=r["reported_at"].astimezone(SHANGHAI),
                updated_at=updated.astimezone(SHANGHAI),
                deadline=r["deadline"].astimezone(SHANGHAI) if r["deadline"] else None,
                closed_at=r["closed_at"].astimezone(SHANGHAI) if r["closed_at"] else None,
                agency=more.community_name if more else None,
                h3_cell=cell,
                h3_resolution=resolution,
                lon=lon,
                lat=lat,
            )
        )
    return out
