"""Reads and writes of incidents (事件) and their history: the one place incident SQL lives.

The life cycle itself (who may move a case where) is ``grids.incidents`` and is applied
by the caller; this module only stores its outcome.  :func:`record_transition` writes
a step *optimistically*: the ``UPDATE`` of the incident row carries the state the
caller decided from in its ``WHERE``, so of two writers that both read a case in the
same state only the first succeeds; the second gets :class:`StaleIncident` and nothing
of it is written.  This relies on PostgreSQL's default READ COMMITTED isolation, in
which the blocked ``UPDATE`` re-checks its ``WHERE`` against the winner's committed row.

Writes take a connection so that the caller decides the transaction; reads return
plain frozen dataclasses.  Times must be timezone-aware.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from gis import clock, crypt
from gis.db.models import INCIDENT_STATES, SRID
from gis.errors import Conflict, GisError, NotFound
from gis.store import incident_ids
from gis.store.access_store import token_digest
from gis.store.event_bound import span, within

#: The incident columns a transition may change besides ``state``.
CHANGEABLE: frozenset[str] = frozenset(
    {"deadline", "closed_at", "assignee_id", "rating", "merged_into", "grid_id"}
)


class StaleIncident(GisError, Conflict):
    """The incident is no longer in the state the caller decided from: someone moved it."""

    title = "Changed meanwhile"


class IncidentNotFound(GisError, NotFound):
    """No incident has the given id."""


@dataclass(frozen=True)
class EventRow:
    """One ``incident_event`` row: a step of the history.

    ``id`` and ``incident_id`` are None for a step not yet stored.
    """

    from_state: str | None
    to_state: str
    at: datetime
    actor: str | None = None
    note: str | None = None
    id: int | None = None
    incident_id: int | None = None


@dataclass(frozen=True)
class IncidentRow:
    """One ``incident`` row with its place as WGS84 ``lon``/``lat`` and its events by time.

    ``id`` is None for an incident not yet stored.  ``public_token`` (the token an
    Open311 client follows a new report with) is written as its SHA-256 and never read
    back.  ``source_ref`` is the report's key at its source (a 12345 case number, or a
    digest of its CSV row): one per source, so that a report sent again is filed once.
    """

    id: int | None
    category_code: str
    source: str
    description: str
    state: str
    reported_at: datetime
    lon: float
    lat: float
    deadline: datetime | None = None
    closed_at: datetime | None = None
    assignee_id: int | None = None
    reporter_id: int | None = None
    rating: int | None = None
    grid_id: int | None = None
    h3_cell: int | None = None
    beidou_cell: int | None = None
    near_boundary: bool = False
    duplicate_of: int | None = None
    merged_into: int | None = None
    public_token: str | None = None
    address: str | None = None
    source_ref: str | None = None
    events: tuple[EventRow, ...] = ()

    @property
    def last_event_id(self) -> int | None:
        """Id of the latest stored event (the version :func:`record_transition` may check)."""
        ids = [e.id for e in self.events if e.id is not None]
        return max(ids) if ids else None


def _digest(token: str | None) -> str | None:
    """What is stored of a public token: its SHA-256, so a database copy reveals none."""
    return None if token is None else token_digest(token)


def _aware(at: datetime | None, what: str) -> None:
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise ValueError(f"{what} {at.isoformat()} has no time zone; give an aware datetime")


_EVENT_COLUMNS = "id, incident_id, from_state, to_state, at, actor, note"


def _events(
    conn: Connection, spans: dict[int, tuple[datetime, datetime | None]]
) -> dict[int, tuple[EventRow, ...]]:
    """The events of the given incidents, each's ordered by time (then id).

    ``spans``: id → (reported_at, last_event_at).  Bounded by their span
    (:mod:`gis.store.event_bound`), so that only their months are planned and read.
    """
    bounds = span(spans.values())
    if bounds["until"] is None:
        return {}
    rows = conn.execute(
        text(
            f"SELECT {_EVENT_COLUMNS} FROM incident_event e WHERE incident_id = ANY(:ids) "
            f"AND {within()} ORDER BY incident_id, at, id"
        ),
        {"ids": list(spans), **bounds},
    ).mappings()
    out: dict[int, list[EventRow]] = {}
    for r in rows:
        out.setdefault(int(r["incident_id"]), []).append(EventRow(**r))
    return {i: tuple(events) for i, events in out.items()}


def _latest_event(conn: Connection, incident_id: int) -> EventRow | None:
    case = conn.execute(
        text("SELECT reported_at, last_event_at FROM incident WHERE id = :id"),
        {"id": incident_id},
    ).first()
    if case is None or case.last_event_at is None:
        return None
    row = (
        conn.execute(
            text(
                f"SELECT {_EVENT_COLUMNS} FROM incident_event e "
                f"WHERE incident_id = :id AND {within()} ORDER BY at DESC, id DESC LIMIT 1"
            ),
            {"id": incident_id, **span([(case.reported_at, case.last_event_at)])},
        )
        .mappings()
        .first()
    )
    return EventRow(**row) if row else None


_INCIDENT_COLUMNS = (
    "id, category_code, source, description, state, reported_at, "
    "ST_X(geom) AS lon, ST_Y(geom) AS lat, deadline, closed_at, assignee_id, "
    "reporter_id, rating, grid_id, h3_cell, beidou_cell, near_boundary, duplicate_of, "
    "merged_into, address"
)


def read_incidents(
    conn: Connection, ids: list[int], *, for_update: bool = False
) -> dict[int, IncidentRow]:
    """Incidents by id with their events ordered by time (then id); unknown ids are absent.

    Two statements whatever the number of incidents (the escalation job reads every open
    case at once).

    Parameters
    ----------
    conn
        An open connection; with ``for_update`` it must be inside a transaction.
    ids
        ``incident.id`` values.
    for_update
        Lock the incident rows (``SELECT … FOR UPDATE``) until the transaction ends, so
        that concurrent writers of the same incident wait for each other.
    """
    lock = " FOR UPDATE" if for_update else ""
    rows = conn.execute(
        text(f"SELECT {_INCIDENT_COLUMNS}, last_event_at FROM incident WHERE id = ANY(:ids){lock}"),
        {"ids": list(ids)},
    ).mappings()
    found = {int(r["id"]): dict(r) for r in rows}
    spans = {i: (r["reported_at"], r.pop("last_event_at")) for i, r in found.items()}
    events = _events(conn, spans)
    return {i: IncidentRow(**r, events=events.get(i, ())) for i, r in found.items()}


def read_incident(
    conn: Connection, incident_id: int, *, for_update: bool = False
) -> IncidentRow | None:
    """One incident with its events (see :func:`read_incidents`); None when unknown."""
    return read_incidents(conn, [incident_id], for_update=for_update).get(incident_id)


def insert_incident(conn: Connection, row: IncidentRow) -> int:
    """Store a new incident and its events (usually the first, ``reported``), return its id.

    A new id is the number of its report's month (``wangge_incident_id``,
    :mod:`gis.store.incident_ids`: the table's sequence, no lock; loads move the
    sequence past the ids they write); a given id is stored as it is.

    Parameters
    ----------
    conn
        An open connection; the caller commits.
    row
        The incident; its ``id`` is used when given, else a new one is taken.  Its
        ``events`` are stored with it (their ``id`` and ``incident_id`` are ignored).

    Returns
    -------
    int
        The incident's id.

    Raises
    ------
    ValueError
        For a naive time.
    """
    for name in ("reported_at", "deadline", "closed_at"):
        _aware(getattr(row, name), name)
    for event in row.events:
        _aware(event.at, "event time")
    incident_id = row.id
    if incident_id is None:
        # the number carries the month of the report (gis.store.incident_ids)
        incident_id = int(
            conn.execute(
                text("SELECT wangge_incident_id(:at)"), {"at": row.reported_at}
            ).scalar_one()
        )
    conn.execute(
        text(
            "INSERT INTO incident (id, category_code, source, description, state, "
            "reported_at, deadline, closed_at, assignee_id, reporter_id, rating, grid_id, "
            "h3_cell, beidou_cell, near_boundary, duplicate_of, merged_into, public_token_sha256, "
            "address, source_ref, geom) "
            "VALUES (:id, :category_code, :source, :description, :state, "
            ":reported_at, :deadline, :closed_at, :assignee_id, :reporter_id, :rating, "
            ":grid_id, :h3_cell, :beidou_cell, :near_boundary, :duplicate_of, :merged_into, "
            ":public_token, "
            ":address, :source_ref, ST_SetSRID(ST_MakePoint(:lon, :lat), :srid))"
        ),
        {
            "id": incident_id,
            "category_code": row.category_code,
            "source": row.source,
            "description": row.description,
            "state": row.state,
            "reported_at": row.reported_at,
            "deadline": row.deadline,
            "closed_at": row.closed_at,
            "assignee_id": row.assignee_id,
            "reporter_id": row.reporter_id,
            "rating": row.rating,
            "grid_id": row.grid_id,
            "h3_cell": row.h3_cell,
            "beidou_cell": row.beidou_cell,
            "near_boundary": row.near_boundary,
            "duplicate_of": row.duplicate_of,
            "merged_into": row.merged_into,
            "public_token": _digest(row.public_token),
            "address": row.address,
            "source_ref": row.source_ref,
            "lon": row.lon,
            "lat": row.lat,
            "srid": SRID,
        },
    )
    if row.events:
        conn.execute(
            text(
                "INSERT INTO incident_event (incident_id, from_state, to_state, at, actor, note) "
                "VALUES (:incident_id, :from_state, :to_state, :at, :actor, :note)"
            ),
            [
                {
                    "incident_id": incident_id,
                    "from_state": e.from_state,
                    "to_state": e.to_state,
                    "at": e.at,
                    "actor": e.actor,
                    "note": e.note,
                }
                for e in row.events
            ],
        )
    return incident_id


def _stale(conn: Connection, incident_id: int, expected: str) -> StaleIncident:
    """The error for a refused step, saying who moved the incident to what and when."""
    state = conn.execute(
        text("SELECT state FROM incident WHERE id = :id"), {"id": incident_id}
    ).scalar_one_or_none()
    if state is None:
        return StaleIncident(f"incident {incident_id} no longer exists")
    last = _latest_event(conn, incident_id)
    if last is None:
        who = "with no recorded event"
    else:
        who = (
            f"by {last.actor or 'an unknown actor'}: {last.from_state} → {last.to_state} "
            f"at {last.at.isoformat()}"
        )
        if last.note:
            who += f" ({last.note})"
    return StaleIncident(
        f"incident {incident_id} was changed meanwhile (expected {expected}, now {state}) "
        f"{who}; reload it and try again"
    )


def record_transition(
    conn: Connection,
    incident_id: int,
    *,
    expected_state: str,
    to_state: str,
    at: datetime,
    actor: str | None,
    note: str | None = None,
    changes: Mapping[str, Any] | None = None,
    expected_event_id: int | None = None,
) -> EventRow:
    """Store one step: update the incident if it is still in ``expected_state``, add its event.

    Both writes run in a savepoint of the caller's transaction: a refused step leaves
    nothing written even if the caller goes on and commits.

    Parameters
    ----------
    conn
        An open connection; the caller commits.  READ COMMITTED isolation (the
        default) is assumed; under REPEATABLE READ a concurrent change raises
        PostgreSQL's serialization error instead of :class:`StaleIncident`.
    incident_id
        ``incident.id``.
    expected_state
        The state the caller read and decided from; checked in the ``UPDATE``'s ``WHERE``.
    to_state
        The new state.
    at
        When the step happened (timezone-aware); the event's time.
    actor
        User name recorded in ``incident_event.actor``.
    note
        Recorded with the event.
    changes
        Other columns to set: any of ``deadline``, ``closed_at``, ``assignee_id``,
        ``rating`` (and ``state``, which must then equal ``to_state``).
    expected_event_id
        The id of the latest event the caller read (:attr:`IncidentRow.last_event_id`).
        The state check alone cannot tell two steps that leave the state as it was
        (改派 dispatched → dispatched, 督办 escalated → escalated); given, a step
        recorded since is refused as well.

    Returns
    -------
    EventRow
        The stored event, with its id.

    Raises
    ------
    StaleIncident
        The incident is no longer in ``expected_state`` (or has a newer event than
        ``expected_event_id``); the message says who moved it to what, and when.
    IncidentNotFound
        No incident has that id.
    ValueError
        For an unknown column in ``changes``, a ``state`` differing from ``to_state``
        or a naive time.
    """
    updates = dict(changes or {})
    if "state" in updates and updates.pop("state") != to_state:
        raise ValueError("changes['state'] differs from to_state")
    unknown = set(updates) - CHANGEABLE
    if unknown:
        raise ValueError(
            f"cannot change {', '.join(sorted(unknown))}; a transition may change "
            f"state, {', '.join(sorted(CHANGEABLE))}"
        )
    _aware(at, "at")
    for name in ("deadline", "closed_at"):
        _aware(updates.get(name), name)
    assignments = "".join(f", {name} = :set_{name}" for name in sorted(updates))
    params: dict[str, Any] = {f"set_{name}": value for name, value in updates.items()}
    params.update(id=incident_id, expected=expected_state, to_state=to_state)
    with conn.begin_nested():
        # the assignee before the step (the row is locked by the update that follows): a
        # case taken from a worker is written to ``task_handover`` (migration 0025)
        before = conn.execute(
            text("SELECT assignee_id FROM incident WHERE id = :id AND state = :expected"),
            {"id": incident_id, "expected": expected_state},
        ).scalar()
        updated = conn.execute(
            text(
                f"UPDATE incident SET state = :to_state{assignments} "
                "WHERE id = :id AND state = :expected "
                "RETURNING id, assignee_id, reported_at, last_event_at"
            ),
            params,
        ).first()
        if updated is None:
            exists = conn.execute(
                text("SELECT 1 FROM incident WHERE id = :id"), {"id": incident_id}
            ).first()
            if exists is None:
                raise IncidentNotFound(f"no incident {incident_id}")
            raise _stale(conn, incident_id, expected_state)
        if expected_event_id is not None:
            # The row is now locked by us: any step committed before is visible here.
            # its span read with the lock, so no step committed before lies outside it
            newest = conn.execute(
                text(
                    "SELECT max(e.id) FROM incident_event e "
                    f"WHERE e.incident_id = :id AND {within()}"
                ),
                {"id": incident_id, **span([(updated.reported_at, updated.last_event_at)])},
            ).scalar()
            if newest is not None and newest != expected_event_id:
                raise _stale(conn, incident_id, expected_state)
        event = (
            conn.execute(
                text(
                    "INSERT INTO incident_event (incident_id, from_state, to_state, at, actor, "
                    "note) VALUES (:id, :from_state, :to_state, :at, :actor, :note) "
                    f"RETURNING {_EVENT_COLUMNS}"
                ),
                {
                    "id": incident_id,
                    "from_state": expected_state,
                    "to_state": to_state,
                    "at": at,
                    "actor": actor,
                    "note": note,
                },
            )
            .mappings()
            .one()
        )
        if before is not None and updated.assignee_id != before:
            conn.execute(
                text(
                    "INSERT INTO task_handover (incident_id, from_worker_id, to_worker_id, at) "
                    "VALUES (:id, :was, :now, :at)"
                ),
                {"id": incident_id, "was": before, "now": updated.assignee_id, "at": at},
            )
    return EventRow(**event)


# ------------------------------------------------------------------ lookups and listings


def category_rows(conn: Connection) -> list[dict[str, Any]]:
    """The ``incident_category`` table, by code (the deployment's limits and priorities)."""
    rows = conn.execute(
        text(
            "SELECT code, name, family, group_name, time_limit_hours, priority, proof_photo, "
            "proof_checkin "
            "FROM incident_category ORDER BY code"
        )
    ).mappings()
    return [dict(r) for r in rows]


def id_by_token(conn: Connection, token: str) -> int | None:
    """The incident filed under a public (Open311) token, or None."""
    found = conn.execute(
        # anonymous callers see no incident (row-level security): the function of
        # migration 0022 finds the one filed under the token
        text("SELECT wangge_request_by_token(:t)"),
        {"t": token_digest(token)},
    ).scalar()
    return None if found is None else int(found)


def visibility(
    everything: bool,
    grid_ids: tuple[int, ...] = (),
    worker_id: int | None = None,
    reporter_id: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """The SQL condition on ``incident i`` that applies a caller's visibility, and its params.

    The values come from ``grids.access`` (:class:`IncidentFilter`); every read of
    incidents for a user goes through this one condition.
    """
    clause = (
        "(:everything OR i.grid_id = ANY(:grids) "
        "OR (CAST(:worker AS int) IS NOT NULL AND i.assignee_id = :worker) "
        "OR (CAST(:reporter AS int) IS NOT NULL AND i.reporter_id = :reporter))"
    )
    params: dict[str, Any] = {
        "everything": everything,
        "grids": list(grid_ids),
        "worker": worker_id,
        "reporter": reporter_id,
    }
    return clause, params


_LIST_COLUMNS = """
    i.id, i.category_code, c.name AS category_name, c.priority, i.source, i.description,
    i.state, i.reported_at, i.deadline, i.closed_at, i.assignee_id, i.reporter_id, i.rating,
    i.grid_id, g.code AS grid_code, i.h3_cell, i.beidou_cell, i.near_boundary, i.duplicate_of,
    i.merged_into, i.address, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
"""


def list_incidents(
    conn: Connection,
    *,
    everything: bool,
    grid_ids: tuple[int, ...] = (),
    worker_id: int | None = None,
    reporter_id: int | None = None,
    states: tuple[str, ...] = (),
    category_codes: tuple[str, ...] = (),
    assignee_id: int | None = None,
    ids: tuple[int, ...] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Incidents a caller may see (the visibility conditions come from ``grids.access``).

    A row is visible when ``everything`` is set, or its grid is in ``grid_ids``, or it
    is assigned to ``worker_id``, or it was reported by ``reporter_id``.  Of those: in
    ``states`` and of ``category_codes`` (when given), only ``ids`` (when given).
    Newest first.
    """
    _aware(since, "since")
    _aware(until, "until")
    clause, params = visibility(everything, grid_ids, worker_id, reporter_id)
    where = [clause]
    params.update(limit=limit, offset=offset)
    if states:
        where.append("i.state = ANY(:states)")
        params["states"] = list(states)
    if category_codes:
        where.append("i.category_code = ANY(:cats)")
        params["cats"] = list(category_codes)
    if assignee_id is not None:
        where.append("i.assignee_id = :assignee")
        params["assignee"] = assignee_id
    if ids is not None:
        where.append("i.id = ANY(:ids)")
        params["ids"] = list(ids)
    if since is not None:
        where.append("i.reported_at >= :since")
        params["since"] = since
    if until is not None:
        where.append("i.reported_at < :until")
        params["until"] = until
    where += incident_ids.time_bound_sql("i", since, until, params)  # their months only

    def read(window: datetime | None) -> list[dict[str, Any]]:
        sql = (
            f"SELECT {_LIST_COLUMNS} FROM incident i "
            "JOIN incident_category c ON c.code = i.category_code "
            "LEFT JOIN grid g ON g.id = i.grid_id "
            f"WHERE {' AND '.join(where + incident_ids.window_sql('i', window, params))} "
            "ORDER BY i.reported_at DESC, i.id DESC LIMIT :limit OFFSET :offset"
        )
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]

    if ids is not None:  # a few cases by number: their months alone are read
        return read(None)
    # newest first, from the last months when the page lies in them: its last row (the
    # offset's rows before it) reported within them, no case left out comes before it
    return incident_ids.newest_first(
        read, limit, lambda row: row["reported_at"], newest=until or clock.now(), since=since
    )


# ------------------------------------------------------------------ photos, contact, check-in


def insert_photo(
    conn: Connection,
    incident_id: int,
    *,
    content_type: str,
    data: bytes,
    sha256: str,
    uploaded_by: str | None,
) -> int:
    """Store a photo of an incident; the same image twice is stored once (its id returned)."""
    found = conn.execute(
        text(
            "INSERT INTO incident_photo (incident_id, content_type, size_bytes, sha256, data, "
            "uploaded_by) VALUES (:i, :t, :n, :h, :d, :u) "
            "ON CONFLICT (incident_id, sha256) DO NOTHING RETURNING id"
        ),
        {
            "i": incident_id,
            "t": content_type,
            "n": len(data),
            "h": sha256,
            "d": data,
            "u": uploaded_by,
        },
    ).scalar()
    if found is None:
        found = conn.execute(
            text("SELECT id FROM incident_photo WHERE incident_id = :i AND sha256 = :h"),
            {"i": incident_id, "h": sha256},
        ).scalar_one()
    return int(found)


def photos_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """The photos of an incident without their bytes: id, type, size, checksum, when."""
    rows = conn.execute(
        text(
            "SELECT id, content_type, size_bytes, sha256, uploaded_at FROM incident_photo "
            "WHERE incident_id = :i ORDER BY id"
        ),
        {"i": incident_id},
    ).mappings()
    return [dict(r) for r in rows]


def photo_data(conn: Connection, incident_id: int, photo_id: int) -> tuple[str, bytes] | None:
    """The type and bytes of one photo of an incident, or None."""
    row = conn.execute(
        text("SELECT content_type, data FROM incident_photo WHERE id = :p AND incident_id = :i"),
        {"p": photo_id, "i": incident_id},
    ).first()
    return None if row is None else (str(row[0]), bytes(row[1]))


def insert_contact(
    conn: Connection,
    incident_id: int,
    *,
    name: str | None,
    phone: str | None,
    email: str | None,
) -> None:
    """Store how to reach the reporter (only when something was given)."""
    if not (name or phone or email):
        return
    conn.execute(
        text(
            "INSERT INTO incident_contact (incident_id, name, phone, email) VALUES (:i, :n, :p, :e)"
        ),
        {
            "i": incident_id,
            "n": name,
            "p": crypt.seal("phone", phone),
            "e": crypt.seal("email", email),
        },
    )


def contact_of(conn: Connection, incident_id: int) -> dict[str, Any] | None:
    """The reporter's contact of an incident, or None."""
    row = (
        conn.execute(
            text("SELECT name, phone, email FROM incident_contact WHERE incident_id = :i"),
            {"i": incident_id},
        )
        .mappings()
        .first()
    )
    return crypt.open_rows([dict(row)], {"phone": "phone", "email": "email"})[0] if row else None


def insert_checkin(
    conn: Connection,
    incident_id: int,
    *,
    worker_id: int,
    at: datetime,
    lon: float,
    lat: float,
    distance_m: float,
    accepted: bool,
) -> int:
    """Record a worker's check-in at a task (accepted or not), return its id."""
    _aware(at, "at")
    return int(
        conn.execute(
            text(
                "INSERT INTO incident_checkin (incident_id, worker_id, at, distance_m, accepted, "
                "geom) VALUES (:i, :w, :at, :d, :ok, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
                "RETURNING id"
            ),
            {
                "i": incident_id,
                "w": worker_id,
                "at": at,
                "d": distance_m,
                "ok": accepted,
                "lon": lon,
                "lat": lat,
            },
        ).scalar_one()
    )


def distance_m(conn: Connection, incident_id: int, lon: float, lat: float) -> float | None:
    """Metres on the ellipsoid from an incident to a point; None for an unknown incident."""
    found = conn.execute(
        text(
            "SELECT ST_Distance(geom::geography, "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) FROM incident WHERE id = :i"
        ),
        {"i": incident_id, "lon": lon, "lat": lat},
    ).scalar()
    return None if found is None else float(found)


def add_note_event(
    conn: Connection, incident_id: int, *, state: str, at: datetime, actor: str | None, note: str
) -> None:
    """Record a step that does not change the state (a merge noted on the surviving case)."""
    _aware(at, "at")
    conn.execute(
        text(
            "INSERT INTO incident_event (incident_id, from_state, to_state, at, actor, note) "
            "VALUES (:i, :s, :s, :at, :actor, :note)"
        ),
        {"i": incident_id, "s": state, "at": at, "actor": actor, "note": note},
    )


def file_incident(
    conn: Connection,
    row: IncidentRow,
    *,
    radius_m: float,
    window_hours: float,
    max_listed: int,
    seen_by: tuple[str, dict[str, Any]],
) -> tuple[int, list[dict[str, Any]], int, int]:
    """Store a new report with its first event, linked to the likeliest earlier duplicate.

    One statement (a duplicate search and two inserts in one round trip), because
    intake is the hottest write path: a burst of reports after a storm must not queue.
    Likely duplicates are earlier reports of the same category within ``radius_m`` and
    ``window_hours`` that were not merged away; ``row.duplicate_of`` is ignored and set
    to the nearest of them.  At a busy spot there may be thousands: all are counted,
    only the first ``max_listed`` are returned.  Only those the reporter may see
    (``seen_by``) are listed and counted; the
    others are counted apart, so that a resident learns that a similar report is being
    handled and nothing about it (``seen_by`` is the reporter's :func:`visibility`).

    Returns
    -------
    tuple[int, list[dict], int, int]
        The new id, at most ``max_listed`` visible likely duplicates (``id``, ``state``,
        ``reported_at``, ``distance_m``), nearest first then most recent, how many
        visible likely duplicates there are in all, and how many the reporter may not see.
    """
    _aware(row.reported_at, "reported_at")
    if len(row.events) != 1:
        raise ValueError("a new report has exactly one event, its report")
    event = row.events[0]
    _aware(event.at, "event time")
    seen, seen_params = seen_by
    found = conn.execute(
        text(
            f"""
            WITH here AS (
                SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt
            ), dup AS (
                SELECT i.id, i.state, i.reported_at,
                       ST_Distance(i.geom::geography, here.pt::geography) AS distance_m,
                       {seen} AS visible
                -- every earlier report, not only those the reporter's role may read
                -- (row-level security): the function of migration 0022 looks past it
                FROM here, wangge_similar_reports(
                    :category_code, :reported_at, :window, here.pt, :radius) i
            ), new AS (
                INSERT INTO incident (id, category_code, source, description, state,
                    reported_at, reporter_id, grid_id, h3_cell, beidou_cell, near_boundary,
                    duplicate_of, public_token_sha256, address, source_ref, geom)
                SELECT wangge_incident_id(:reported_at), :category_code, :source,
                    :description, :state, :reported_at,
                    :reporter_id, :grid_id, :h3_cell, :beidou_cell, :near_boundary,
                    (SELECT id FROM dup ORDER BY distance_m, reported_at DESC, id DESC LIMIT 1),
                    :public_token, :address, :source_ref, here.pt
                FROM here
                RETURNING id
            ), ev AS (
                INSERT INTO incident_event (incident_id, from_state, to_state, at, actor, note)
                SELECT id, NULL, :to_state, :at, :actor, :note FROM new
            )
            SELECT new.id,
                   (SELECT coalesce(json_agg(json_build_object(
                        'id', l.id, 'state', l.state, 'reported_at', l.reported_at,
                        'distance_m', l.distance_m)
                        ORDER BY l.distance_m, l.reported_at DESC, l.id DESC), '[]'::json)
                    FROM (SELECT * FROM dup WHERE visible
                          ORDER BY distance_m, reported_at DESC, id DESC
                          LIMIT :max_listed) l) AS duplicates,
                   (SELECT count(*) FROM dup WHERE visible) AS duplicate_count,
                   (SELECT count(*) FROM dup WHERE NOT visible) AS hidden_count
            FROM new
            """
        ),
        {
            "lon": row.lon,
            "lat": row.lat,
            "category_code": row.category_code,
            "source": row.source,
            "description": row.description,
            "state": row.state,
            "reported_at": row.reported_at,
            "reporter_id": row.reporter_id,
            "grid_id": row.grid_id,
            "h3_cell": row.h3_cell,
            "beidou_cell": row.beidou_cell,
            "near_boundary": row.near_boundary,
            "public_token": _digest(row.public_token),
            "address": row.address,
            "source_ref": row.source_ref,
            "window": window_hours * 3600.0,
            "radius": radius_m,
            "max_listed": max_listed,
            **seen_params,
            "to_state": event.to_state,
            "at": event.at,
            "actor": event.actor,
            "note": event.note,
        },
    ).one()
    duplicates = [{**d, "reported_at": datetime.fromisoformat(d["reported_at"])} for d in found[1]]
    return int(found[0]), duplicates, int(found[2]), int(found[3])


def filed_by_source_ref(conn: Connection, source: str, refs: list[str]) -> dict[str, int | None]:
    """The incidents already filed from ``source`` under the given keys: key → incident id.

    Filed by any office (a 12345 case number is filed once, wherever); the id is None for
    a case the caller may not read (another office's: its number is not theirs to see).
    """
    found = {
        str(ref): int(i)
        for ref, i in conn.execute(
            text("SELECT * FROM wangge_filed_source_refs(:s, :refs)"),
            {"s": source, "refs": refs},
        )
    }
    seen = set(
        conn.execute(
            text("SELECT id FROM incident WHERE id = ANY(:ids)"), {"ids": list(found.values())}
        ).scalars()
    )
    return {ref: (i if i in seen else None) for ref, i in found.items()}


def lock_imports(conn: Connection, source: str) -> None:
    """Make other imports from ``source`` wait until this transaction ends.

    So that two uploads of one file at once cannot both find a row new and file it
    twice (the second would otherwise fail on the unique key instead of skipping it).
    """
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('wangge.import.' || :s))"), {"s": source}
    )


def confirm_grid(conn: Connection, incident_id: int, grid_id: int) -> None:
    """Set the incident's grid as confirmed by staff, clearing the near-edge flag."""
    conn.execute(
        text("UPDATE incident SET grid_id = :g, near_boundary = false WHERE id = :i"),
        {"g": grid_id, "i": incident_id},
    )


def grid_near(conn: Connection, code: str, lon: float, lat: float, within_m: float) -> int | None:
    """The id of the current grid ``code`` if it lies within ``within_m`` of the point."""
    found = conn.execute(
        text(
            "SELECT id FROM grid WHERE code = :c AND valid_to IS NULL AND ST_DWithin("
            "geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :d)"
        ),
        {"c": code, "lon": lon, "lat": lat, "d": within_m},
    ).scalar()
    return None if found is None else int(found)


def grid_label(conn: Connection, grid_id: int | None) -> tuple[str, str] | None:
    """The code and name of a grid (any version), or None."""
    if grid_id is None:
        return None
    row = conn.execute(text("SELECT code, name FROM grid WHERE id = :g"), {"g": grid_id}).first()
    return None if row is None else (str(row[0]), str(row[1]))


def merged_into_this(conn: Connection, incident_id: int) -> list[int]:
    """The ids of the reports merged into an incident, in order."""
    found = conn.execute(
        text("SELECT id FROM incident WHERE merged_into = :i ORDER BY id"), {"i": incident_id}
    ).scalars()
    return [int(i) for i in found]


def open_with_deadline(conn: Connection, states: tuple[str, ...]) -> list[int]:
    """The ids of the incidents in ``states`` that have a deadline and were not merged away."""
    found = conn.execute(
        text(
            "SELECT id FROM incident WHERE state = ANY(:open) AND deadline IS NOT NULL "
            "AND merged_into IS NULL"
        ),
        {"open": list(states)},
    ).scalars()
    return [int(i) for i in found]


@dataclass(frozen=True)
class ToDoCounts:
    """How many of the cases a caller may see wait for something now (merged-away left out).

    ``overdue`` and ``due_today`` count the cases in ``open_states`` whose deadline
    passed before ``now`` or falls between ``now`` and ``day_end``; the others count
    cases in one state: ``reported`` (待立案), ``registered`` (待派遣), ``resolved`` (待核查),
    ``escalated`` (督办); ``open`` every case in ``open_states``; ``unfinished`` every
    case not yet closed, rated or rejected.
    """

    overdue: int
    due_today: int
    reported: int
    registered: int
    resolved: int
    escalated: int
    open: int
    unfinished: int


def to_do_counts(
    conn: Connection,
    *,
    everything: bool,
    grid_ids: tuple[int, ...] = (),
    worker_id: int | None = None,
    reporter_id: int | None = None,
    assignee_id: int | None = None,
    open_states: tuple[str, ...],
    now: datetime,
    day_end: datetime,
) -> ToDoCounts:
    """The to-do counts of one caller (visibility from ``grids.access``) in one statement.

    ``assignee_id`` narrows them to the cases assigned to that grid worker.  Closed,
    rated and rejected cases are not read at all (the state index leaves them out).
    """
    _aware(now, "now")
    _aware(day_end, "day_end")
    clause, params = visibility(everything, grid_ids, worker_id, reporter_id)
    active = [s for s in INCIDENT_STATES if s not in ("closed", "rated", "rejected")]
    where = [clause, "i.merged_into IS NULL", "i.state = ANY(:active)"]
    if assignee_id is not None:
        where.append("i.assignee_id = :assignee")
        params["assignee"] = assignee_id
    params.update(open=list(open_states), active=active, now=now, day_end=day_end)
    row = (
        conn.execute(
            text(
                "SELECT "
                "count(*) FILTER (WHERE i.state = ANY(:open) AND i.deadline < :now) AS overdue, "
                "count(*) FILTER (WHERE i.state = ANY(:open) AND i.deadline >= :now "
                "AND i.deadline < :day_end) AS due_today, "
                "count(*) FILTER (WHERE i.state = 'reported') AS reported, "
                "count(*) FILTER (WHERE i.state = 'registered') AS registered, "
                "count(*) FILTER (WHERE i.state = 'resolved') AS resolved, "
                "count(*) FILTER (WHERE i.state = 'escalated') AS escalated, "
                "count(*) FILTER (WHERE i.state = ANY(:open)) AS open, "
                "count(*) AS unfinished "
                f"FROM incident i WHERE {' AND '.join(where)}"
            ),
            params,
        )
        .mappings()
        .one()
    )
    return ToDoCounts(**{k: int(v) for k, v in row.items()})
