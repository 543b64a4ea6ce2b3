"""Open311's view of the cases: the service requests a caller may see, and what they show.

A service request is a case (:func:`api.services.casework.list_cases`, so an Open311
caller sees exactly what the same user sees through the JSON API) with what the
GeoReport answer shows beside it: the category's name, the community responsible, the
latest update and note, the first photo (:func:`gis.store.open311_store.request_extras`).
Filing goes through the one intake path (:func:`api.services.intake.file_report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from api.services.casework import CaseQuery, Listed, list_cases
from api.services.intake import categories
from gis.errors import InvalidInput
from gis.store import incident_store, open311_store
from gis.store.open311_store import RequestExtras
from grids.access import Principal


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
) -> list[ServiceRequest]:
    """The requests the user may see, newest first, by state, category and time reported.

    Of ``states`` and ``category_codes`` when given; reported at ``since`` or later and
    before ``until``; at most ``limit``.

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
        states=states, category_codes=category_codes, since=since, until=until, limit=limit
    )
    return _with_extras(engine, list_cases(engine, user, query))


def request_by_token(engine: Engine, token: str) -> int | None:
    """The id of the request filed under a public token (the filer's secret), or None."""
    with engine.connect() as conn:
        return incident_store.id_by_token(conn, token)
