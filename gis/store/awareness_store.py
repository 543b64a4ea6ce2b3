"""Reads and writes of situational awareness (态势感知): the one place its SQL lives.

What is here
------------
* the incident frame the aggregates, hotspots and early warnings are computed from,
  and the open incidents the live map draws;
* hazard areas (typhoon, flood, fire, gas leak): insert, read, list, and the inputs of
  an impact analysis (grids, buildings, households, residents, shelters, workers);
* alerts: the alert, its recipients (household, resident, grid, safe shelter), the
  outbox that is the delivery channel here, per-grid confirmations;
* grid workers' positions, the latest of which the live map shows;
* ``LISTEN incident_changed``: the trigger of migration 0004 announces every insert and
  update of ``incident`` (one JSON message per row, or one ``{"op": "bulk"}`` for a
  statement touching more than 200 rows), whatever wrote it.

No personal data is read: residents come with ids, birth year and flags, households
with their room; names and phones stay in ``resident_identity``.

Reads take an engine or a connection and return frames (geometries in EPSG:4326) or
frozen dataclasses; writes take a connection, so the caller decides the transaction.
Times must be timezone-aware.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pandas as pd
import psycopg
from sqlalchemy import Connection, Engine, text

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from gis import clock
from gis.db.models import SRID
from gis.store import incident_ids
from gis.store.frames import nullable_cells
from gis.times import readable_times

#: The NOTIFY channel the incident trigger speaks on.
INCIDENT_CHANNEL = "incident_changed"
#: States in which an incident is no longer open (nothing more to do on the street).
FINISHED_STATES = ("closed", "rated", "rejected")

Bind = Engine | Connection


# ---------------------------------------------------------------- helpers


def _frame(bind: Bind, sql: str, **params: object) -> pd.DataFrame:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return pd.read_sql(text(sql), conn, params=params)
    return pd.read_sql(text(sql), bind, params=params)


def _geo(bind: Bind, sql: str, **params: object) -> gpd.GeoDataFrame:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            frame = gpd.read_postgis(text(sql), conn, geom_col="geom", crs=SRID, params=params)
    else:
        frame = gpd.read_postgis(text(sql), bind, geom_col="geom", crs=SRID, params=params)
    return frame.rename_geometry("geometry")


def _scalar(bind: Bind, sql: str, **params: object) -> Any:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    return bind.execute(text(sql), params).scalar()


def _aware(at: datetime | None, what: str) -> None:
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise ValueError(f"{what} {at.isoformat()} has no time zone; give an aware datetime")


def _list(values: Sequence[Any] | None) -> list[Any] | None:
    return None if values is None else list(values)


# ---------------------------------------------------------------- areas

_AREA_OF_GRID = """
    (CAST(:area AS text) IS NULL OR c.code = :area OR s.code = :area)
"""


@dataclass(frozen=True)
class AreaRow:
    """An admin area (street 街道 or community 社区) a report or a query is about."""

    id: int
    code: str
    name: str
    level: str
    geom: BaseGeometry


def read_area(bind: Bind, code: str) -> AreaRow | None:
    """The admin area with ``code`` (any level), or None."""
    frame = _geo(
        bind,
        "SELECT id, code, name, level, geom FROM admin_area WHERE code = :code",
        code=code,
    )
    if frame.empty:
        return None
    row = frame.iloc[0]
    return AreaRow(
        int(row["id"]), str(row["code"]), str(row["name"]), str(row["level"]), row.geometry
    )


def grids_in_area(bind: Bind, area: str | None = None) -> gpd.GeoDataFrame:
    """Current grids of a street or community (code), or all.

    Columns: id, code, name, community_id, community_code, community_name,
    street_code, households, geometry.
    """
    return _geo(
        bind,
        f"""
        SELECT g.id, g.code, g.name, g.community_id, c.code AS community_code,
               c.name AS community_name, s.code AS street_code,
               coalesce(h.n, 0)::int AS households, g.geom
        FROM grid g
        JOIN admin_area c ON c.id = g.community_id
        LEFT JOIN admin_area s ON s.id = c.parent_id
        LEFT JOIN (SELECT grid_id, count(*) AS n FROM household GROUP BY grid_id) h
               ON h.grid_id = g.id
        WHERE g.valid_to IS NULL AND {_AREA_OF_GRID}
        ORDER BY g.code""",
        area=area,
    )


def served_area(bind: Bind) -> BaseGeometry | None:
    """The area the system serves: the union of the current grids (or admin areas).

    None when nothing is loaded.
    """
    wkb = _scalar(
        bind,
        """
        SELECT ST_AsBinary(coalesce(
            (SELECT ST_Union(geom) FROM grid WHERE valid_to IS NULL),
            (SELECT ST_Union(geom) FROM admin_area)))""",
    )
    return None if wkb is None else shapely.from_wkb(bytes(wkb))


# ---------------------------------------------------------------- incidents

_INCIDENTS = """
SELECT i.id, i.category_code, coalesce(cat.name, i.category_code) AS category_name,
       i.source, i.state, i.reported_at, i.deadline, i.closed_at,
       i.grid_id, g.code AS grid_code, g.community_id, c.code AS community_code,
       coalesce(i.h3_cell, 0) AS h3_cell, coalesce(i.beidou_cell, 0) AS beidou_cell,
       ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
FROM incident i
LEFT JOIN incident_category cat ON cat.code = i.category_code
LEFT JOIN grid g ON g.id = i.grid_id
LEFT JOIN admin_area c ON c.id = g.community_id
LEFT JOIN admin_area s ON s.id = c.parent_id
WHERE (CAST(:start AS timestamptz) IS NULL OR i.reported_at >= :start)
  AND (CAST(:end AS timestamptz) IS NULL OR i.reported_at < :end)
  AND (CAST(:categories AS text[]) IS NULL OR i.category_code = ANY(:categories))
  AND (CAST(:states AS text[]) IS NULL OR i.state = ANY(:states))
  AND (CAST(:area AS text) IS NULL OR c.code = :area OR s.code = :area)
  {extra}
ORDER BY i.reported_at, i.id
"""


def incidents_frame(
    bind: Bind,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    categories: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
    area: str | None = None,
) -> pd.DataFrame:
    """Incidents as a flat frame, the input of aggregates, hotspots and early warnings.

    Parameters
    ----------
    start, end
        Reported in ``[start, end)``; None leaves that side open.
    categories, states
        Keep only these category codes / states.
    area
        A street or community code: only incidents in its grids.

    Returns
    -------
    pandas.DataFrame
        id, category_code, category_name, source, state, reported_at, deadline,
        closed_at, grid_id, grid_code, community_id, community_code, h3_cell, beidou_cell,
        lon, lat
        (times timezone-aware UTC nanosecond timestamps; a row whose stored times cannot
        be read is left out with a logged warning, see :func:`gis.times.readable_times`;
        ``grid_id``/``community_id``/``h3_cell``/``beidou_cell`` nullable Int64).
    """
    _aware(start, "start")
    _aware(end, "end")
    months: dict = {}  # the months of the range, by the cases' numbers (incident_ids)
    frame = _frame(
        bind,
        _INCIDENTS.format(extra=incident_ids.and_time_bound("i", start, end, months)),
        start=start,
        end=end,
        **months,
        categories=_list(categories),
        states=_list(states),
        area=area,
    )
    return _typed_incidents(frame)


def latest_report_time(bind: Bind) -> datetime | None:
    """When the newest incident was reported (None when there is none)."""
    at = _scalar(bind, "SELECT max(reported_at) FROM incident")
    return None if at is None else pd.Timestamp(at).to_pydatetime()


def open_incidents(bind: Bind, *, area: str | None = None) -> pd.DataFrame:
    """Incidents not yet closed, rated or rejected (what is on the street now).

    Same columns as :func:`incidents_frame`.
    """
    frame = _frame(
        bind,
        _INCIDENTS.format(extra="AND i.state <> ALL(CAST(:finished AS text[]))"),
        start=None,
        end=None,
        categories=None,
        states=None,
        area=area,
        finished=list(FINISHED_STATES),
    )
    return _typed_incidents(frame)


def _typed_incidents(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("grid_id", "community_id"):
        frame[column] = frame[column].astype("Int64")
    frame["h3_cell"] = nullable_cells(frame["h3_cell"])
    frame["beidou_cell"] = nullable_cells(frame["beidou_cell"])
    return readable_times(
        frame, ("reported_at", "deadline", "closed_at"), table="incident", required=("reported_at",)
    )


def category_names(bind: Bind) -> dict[str, str]:
    """Incident category code → Chinese name."""
    frame = _frame(bind, "SELECT code, name FROM incident_category ORDER BY code")
    return dict(zip(frame["code"].astype(str), frame["name"].astype(str), strict=True))


# ---------------------------------------------------------------- hazards


@dataclass(frozen=True)
class HazardRow:
    """A stored hazard area; ``geom`` is a WGS84 (Multi)Polygon."""

    id: int
    kind: str
    name: str
    severity: int
    valid_from: datetime
    valid_to: datetime | None
    geom: BaseGeometry


def insert_hazard(
    conn: Connection,
    *,
    kind: str,
    name: str,
    severity: int,
    valid_from: datetime,
    valid_to: datetime | None,
    geom: BaseGeometry,
) -> int:
    """Store a hazard area (geometry in WGS84, already validated); returns its id."""
    _aware(valid_from, "valid_from")
    _aware(valid_to, "valid_to")
    return int(
        conn.execute(
            text(
                "INSERT INTO hazard_area (kind, name, severity, valid_from, valid_to, geom) "
                "VALUES (:kind, :name, :severity, :valid_from, :valid_to, "
                "ST_Multi(ST_SetSRID(ST_GeomFromWKB(:wkb), 4326))) RETURNING id"
            ),
            {
                "kind": kind,
                "name": name,
                "severity": severity,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "wkb": shapely.to_wkb(geom),
            },
        ).scalar_one()
    )


_HAZARDS = """
SELECT id, kind, name, severity, valid_from, valid_to, geom FROM hazard_area
WHERE (CAST(:id AS integer) IS NULL OR id = :id)
  AND (CAST(:at AS timestamptz) IS NULL
       OR (valid_from <= :at AND (valid_to IS NULL OR valid_to > :at)))
ORDER BY valid_from DESC, id DESC
"""


def hazards(bind: Bind, *, active_at: datetime | None = None) -> gpd.GeoDataFrame:
    """Hazard areas, newest first; with ``active_at`` only those in force then.

    Columns: id, kind, name, severity, valid_from, valid_to, geometry.
    """
    _aware(active_at, "active_at")
    return _geo(bind, _HAZARDS, id=None, at=active_at)


_HAZARD_VERSIONS = """
SELECT id, xmin::text::bigint FROM hazard_area
WHERE valid_from <= :at AND (valid_to IS NULL OR valid_to > :at)
ORDER BY id
"""


def hazard_versions(bind: Bind, *, active_at: datetime) -> tuple[tuple[int, int], ...]:
    """The hazards in force at ``active_at`` as (id, row version) pairs, without geometry.

    The row version (``xmin``) moves on every update of the row, so the pairs change
    whenever a hazard starts, ends, is drawn again or removed: a cheap cache key (one
    small statement) for what is built from :func:`hazards`.
    """
    _aware(active_at, "active_at")
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return hazard_versions(conn, active_at=active_at)
    rows = bind.execute(text(_HAZARD_VERSIONS), {"at": active_at}).all()
    return tuple((int(i), int(v)) for i, v in rows)


_NEXT_HAZARD_CHANGE = """
SELECT least(min(valid_from) FILTER (WHERE valid_from > :at),
             min(valid_to) FILTER (WHERE valid_to > :at))
FROM hazard_area
"""


def next_hazard_change(bind: Bind, *, after: datetime) -> datetime | None:
    """The first moment after ``after`` when a stored hazard starts or ends; None: none.

    Until then the hazards in force stay those in force at ``after`` (unless the table
    changes): how long an answer built from them may be kept as the clock runs.
    """
    _aware(after, "after")
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return next_hazard_change(conn, after=after)
    found = bind.execute(text(_NEXT_HAZARD_CHANGE), {"at": after}).scalar_one()
    return None if found is None else found


def read_hazard(bind: Bind, hazard_id: int) -> HazardRow | None:
    """One hazard area, or None when no hazard has that id."""
    frame = _geo(bind, _HAZARDS, id=hazard_id, at=None)
    if frame.empty:
        return None
    row = frame.iloc[0]
    return HazardRow(
        id=int(row["id"]),
        kind=str(row["kind"]),
        name=str(row["name"]),
        severity=int(row["severity"]),
        valid_from=row["valid_from"].to_pydatetime(),
        valid_to=None if pd.isna(row["valid_to"]) else row["valid_to"].to_pydatetime(),
        geom=row.geometry,
    )


@dataclass(frozen=True)
class ImpactInputs:
    """What an impact analysis of one hazard needs, read around it (ids, no names).

    Attributes
    ----------
    grids
        Current grids meeting the hazard: id, code, name, community_id,
        community_code, community_name, households, geometry (polygons).
    buildings
        Buildings of those grids and buildings meeting the hazard: id, name, grid_id,
        households, geometry (footprints).
    households
        Households of those buildings: id, building_id, unit, room, size, grid_id.
    residents
        Residents of those households: id, household_id, birth_year, sex,
        living_alone_elderly, disabled, mobility_impaired, low_income.
    shelters
        Every shelter: facility_id, name, shelter_class, capacity, occupancy, is_open,
        geometry (points).
    workers
        The workers of those grids: grid_id, worker_id, role (primary, backup), on_duty.
    """

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    households: pd.DataFrame
    residents: pd.DataFrame
    shelters: gpd.GeoDataFrame
    workers: pd.DataFrame


def impact_inputs(bind: Bind, hazard: BaseGeometry) -> ImpactInputs:
    """Read the grids, buildings, households, residents, shelters and workers around a hazard.

    Only the grids the hazard meets (and any building it meets outside every grid) are
    read, so the cost follows the hazard's size, not the city's.
    """
    wkb = shapely.to_wkb(hazard)
    hz = "ST_SetSRID(ST_GeomFromWKB(:wkb), 4326)"
    grids = _geo(
        bind,
        f"""
        SELECT g.id, g.code, g.name, g.community_id, c.code AS community_code,
               c.name AS community_name, coalesce(h.n, 0)::int AS households, g.geom
        FROM grid g JOIN admin_area c ON c.id = g.community_id
        LEFT JOIN (SELECT grid_id, count(*) AS n FROM household GROUP BY grid_id) h
               ON h.grid_id = g.id
        WHERE g.valid_to IS NULL AND ST_Intersects(g.geom, {hz})
        ORDER BY g.code""",
        wkb=wkb,
    )
    grid_ids = [int(v) for v in grids["id"]]
    buildings = _geo(
        bind,
        f"""
        SELECT b.id, coalesce(b.name, '') AS name, b.grid_id,
               coalesce(h.n, 0)::int AS households, b.geom
        FROM building b
        LEFT JOIN (SELECT building_id, count(*) AS n FROM household GROUP BY building_id) h
               ON h.building_id = b.id
        WHERE b.grid_id = ANY(:grids) OR ST_Intersects(b.geom, {hz})
        ORDER BY b.id""",
        wkb=wkb,
        grids=grid_ids,
    )
    building_ids = [int(v) for v in buildings["id"]]
    households = _frame(
        bind,
        "SELECT id, building_id, unit, room, size, grid_id FROM household "
        "WHERE building_id = ANY(:b) ORDER BY id",
        b=building_ids,
    )
    households["grid_id"] = households["grid_id"].astype("Int64")
    residents = _frame(
        bind,
        """
        SELECT r.id, r.household_id, r.birth_year, r.sex, r.living_alone_elderly,
               r.disabled, r.mobility_impaired, r.low_income
        FROM resident r JOIN household h ON h.id = r.household_id
        WHERE h.building_id = ANY(:b) ORDER BY r.id""",
        b=building_ids,
    )
    shelters = _geo(
        bind,
        """
        SELECT f.id AS facility_id, f.name, s.shelter_class,
               coalesce(f.capacity, 0) AS capacity, s.occupancy, s.is_open, f.geom
        FROM facility f JOIN shelter s ON s.facility_id = f.id ORDER BY f.id""",
    )
    workers = _frame(
        bind,
        """
        SELECT a.grid_id, a.worker_id, a.role, w.on_duty
        FROM grid_assignment a JOIN grid_worker w ON w.id = a.worker_id
        WHERE a.grid_id = ANY(:grids)
        ORDER BY a.grid_id, a.role DESC, a.worker_id""",
        grids=grid_ids,
    )
    return ImpactInputs(grids, buildings, households, residents, shelters, workers)


def shelters_live(bind: Bind) -> gpd.GeoDataFrame:
    """Shelters with class, capacity, occupancy and open flag (the live map's layer).

    Columns: facility_id, name, shelter_class, capacity, occupancy, is_open, geometry.
    """
    return _geo(
        bind,
        """
        SELECT f.id AS facility_id, f.name, s.shelter_class,
               coalesce(f.capacity, 0) AS capacity, s.occupancy, s.is_open, f.geom
        FROM facility f JOIN shelter s ON s.facility_id = f.id ORDER BY f.id""",
    )


# ---------------------------------------------------------------- alerts


@dataclass(frozen=True)
class AlertRow:
    """A stored alert."""

    id: int
    hazard_id: int
    created_at: datetime
    created_by: str | None
    message: str
    target_group: str
    channel: str


def insert_alert(
    conn: Connection,
    *,
    hazard_id: int,
    message: str,
    target_group: str,
    channel: str = "outbox",
    created_by: str | None = None,
    created_at: datetime | None = None,
) -> int:
    """Store an alert (the recipients come with :func:`insert_recipients`); returns its id."""
    _aware(created_at, "created_at")
    return int(
        conn.execute(
            text(
                "INSERT INTO alert (hazard_id, message, target_group, channel, created_by, "
                "created_at) VALUES (:hazard_id, :message, :group, :channel, :by, "
                "CAST(:at AS timestamptz)) RETURNING id"
            ),
            {
                "hazard_id": hazard_id,
                "message": message,
                "group": target_group,
                "channel": channel,
                "by": created_by,
                "at": created_at or clock.now(),
            },
        ).scalar_one()
    )


def insert_recipients(conn: Connection, alert_id: int, recipients: pd.DataFrame) -> list[int]:
    """Store an alert's recipients; returns their ids in the order of the frame.

    Parameters
    ----------
    recipients
        household_id, resident_id (nullable), grid_id (nullable), shelter_id
        (nullable), walk_s (nullable).
    """
    if recipients.empty:
        return []
    cols = ("household_id", "resident_id", "grid_id", "shelter_id", "walk_s")
    arrays = {
        c: [None if pd.isna(v) else (float(v) if c == "walk_s" else int(v)) for v in recipients[c]]
        for c in cols
    }
    rows = conn.execute(
        text(
            """
            INSERT INTO alert_recipient
                (alert_id, household_id, resident_id, grid_id, shelter_id, walk_s)
            SELECT :alert_id, u.household_id, u.resident_id, u.grid_id, u.shelter_id, u.walk_s
            FROM unnest(CAST(:household_id AS bigint[]), CAST(:resident_id AS bigint[]),
                        CAST(:grid_id AS integer[]), CAST(:shelter_id AS bigint[]),
                        CAST(:walk_s AS float8[])) WITH ORDINALITY
                 AS u(household_id, resident_id, grid_id, shelter_id, walk_s, n)
            ORDER BY u.n
            RETURNING id"""
        ),
        {"alert_id": alert_id, **arrays},
    ).scalars()
    return sorted(int(r) for r in rows)


def mark_sent(conn: Connection, recipient_ids: Sequence[int], at: datetime) -> int:
    """Record that the channel took the messages of these recipients; returns rows updated."""
    _aware(at, "at")
    return conn.execute(
        text("UPDATE alert_recipient SET sent_at = :at WHERE id = ANY(:ids)"),
        {"at": at, "ids": [int(i) for i in recipient_ids]},
    ).rowcount


class Outgoing(Protocol):
    """A message to write: who it is for, the text, and the ``alert_recipient`` row.

    ``analysis.alerts.Message`` is one; any object with these attributes will do.
    """

    @property
    def recipient(self) -> str:
        """``household:<id>`` or ``resident:<id>``."""
        ...

    @property
    def body(self) -> str:
        """The text."""
        ...

    @property
    def alert_recipient_id(self) -> int | None:
        """The recipient row the message is for, if any."""
        ...


@dataclass(frozen=True)
class OutboxMessage:
    """A plain :class:`Outgoing` message (for callers without ``analysis``)."""

    recipient: str
    body: str
    alert_recipient_id: int | None = None


class OutboxChannel:
    """The delivery channel of this deployment: messages are written to ``outbox``.

    It satisfies ``analysis.alerts.Channel``: an SMS or WeChat gateway is another
    class with the same ``name`` and ``deliver``.  Rows are written in the caller's
    transaction, status ``pending``: a relay (or a person) picks them up from there.
    """

    name = "outbox"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def deliver(
        self, messages: Sequence[Outgoing], dedupe_keys: Sequence[str | None] | None = None
    ) -> list[int]:
        """Write the messages; returns the outbox ids of those written, in order.

        A message whose dedupe key is already queued or delivered is not written again.
        """
        return write_outbox(self.conn, self.name, messages, dedupe_keys=dedupe_keys)


def write_outbox(
    conn: Connection,
    channel: str,
    messages: Sequence[Outgoing],
    *,
    dedupe_keys: Sequence[str | None] | None = None,
) -> list[int]:
    """Append messages to the outbox (status pending); returns the ids of those written.

    ``dedupe_keys`` (one per message, or None): a message whose key is already in the
    outbox is not written again (nor delivered again), unless its earlier copy
    ``failed``, which is then queued again (pending, attempts from 0) and its id returned.
    """
    if not messages:
        return []
    keys = list(dedupe_keys) if dedupe_keys is not None else [None] * len(messages)
    if len(keys) != len(messages):
        raise ValueError(f"{len(keys)} dedupe keys for {len(messages)} messages")
    if dedupe_keys is not None:  # one row per key: the first message of a repeated key
        seen: set[str] = set()
        keep = [k is None or not (k in seen or seen.add(k)) for k in keys]
        messages = [m for m, k in zip(messages, keep, strict=True) if k]
        keys = [key for key, k in zip(keys, keep, strict=True) if k]
    rows = conn.execute(
        text(
            """
            INSERT INTO outbox (channel, recipient, body, alert_recipient_id, dedupe_key)
            SELECT :channel, u.recipient, u.body, u.rid, u.dkey
            FROM unnest(CAST(:recipient AS text[]), CAST(:body AS text[]),
                        CAST(:rid AS bigint[]), CAST(:dkey AS text[]))
                 WITH ORDINALITY AS u(recipient, body, rid, dkey, n)
            ORDER BY u.n
            ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL
            DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = NULL,
                          last_error = NULL, body = EXCLUDED.body,
                          alert_recipient_id = EXCLUDED.alert_recipient_id
                WHERE outbox.status = 'failed'
            RETURNING id"""
        ),
        {
            "channel": channel,
            "recipient": [m.recipient for m in messages],
            "body": [m.body for m in messages],
            "rid": [m.alert_recipient_id for m in messages],
            "dkey": keys,
        },
    ).scalars()
    return sorted(int(r) for r in rows)


def read_alert(bind: Bind, alert_id: int) -> AlertRow | None:
    """One alert, or None."""
    frame = _frame(
        bind,
        "SELECT id, hazard_id, created_at, created_by, message, target_group, channel "
        "FROM alert WHERE id = :id",
        id=alert_id,
    )
    if frame.empty:
        return None
    row = frame.iloc[0]
    return AlertRow(
        id=int(row["id"]),
        hazard_id=int(row["hazard_id"]),
        created_at=pd.Timestamp(row["created_at"]).to_pydatetime(),
        created_by=None if pd.isna(row["created_by"]) else str(row["created_by"]),
        message=str(row["message"]),
        target_group=str(row["target_group"]),
        channel=str(row["channel"]),
    )


def alert_recipients(bind: Bind, alert_id: int) -> pd.DataFrame:
    """An alert's recipients with place and flags (no names).

    Columns: id, household_id, resident_id, grid_id, grid_code, building_id, room,
    shelter_id, shelter_name, walk_s, sent_at, confirmed_at, confirmed_by, note,
    living_alone_elderly, disabled, mobility_impaired, birth_year.
    """
    frame = _frame(
        bind,
        """
        SELECT ar.id, ar.household_id, ar.resident_id, ar.grid_id, g.code AS grid_code,
               h.building_id, h.room, ar.shelter_id, f.name AS shelter_name, ar.walk_s,
               ar.sent_at, ar.confirmed_at, ar.confirmed_by, ar.note,
               r.living_alone_elderly, r.disabled, r.mobility_impaired, r.birth_year
        FROM alert_recipient ar
        JOIN household h ON h.id = ar.household_id
        LEFT JOIN resident r ON r.id = ar.resident_id
        LEFT JOIN grid g ON g.id = ar.grid_id
        LEFT JOIN facility f ON f.id = ar.shelter_id
        WHERE ar.alert_id = :id
        ORDER BY g.code NULLS LAST, ar.household_id, ar.resident_id NULLS FIRST""",
        id=alert_id,
    )
    for column in ("resident_id", "grid_id", "shelter_id", "birth_year"):
        frame[column] = frame[column].astype("Int64")
    return frame


def confirm_recipients(
    conn: Connection,
    alert_id: int,
    *,
    by: str,
    at: datetime,
    resident_ids: Sequence[int] = (),
    household_ids: Sequence[int] = (),
    note: str | None = None,
) -> pd.DataFrame:
    """Record that residents (or whole households) were reached (已通知到位).

    A household id confirms every recipient row of that household.  Rows already
    confirmed keep their first confirmation.

    Returns
    -------
    pandas.DataFrame
        The matched recipient rows: id, household_id, resident_id, grid_id,
        confirmed_at, confirmed_by, newly (False when it was confirmed before).
    """
    _aware(at, "at")
    rows = conn.execute(
        text(
            """
            WITH matched AS (
                SELECT id, confirmed_at IS NULL AS newly FROM alert_recipient
                WHERE alert_id = :alert
                  AND (resident_id = ANY(:residents) OR household_id = ANY(:households))
                FOR UPDATE
            ), updated AS (
                UPDATE alert_recipient ar
                SET confirmed_at = coalesce(ar.confirmed_at, :at),
                    confirmed_by = coalesce(ar.confirmed_by, :by),
                    note = coalesce(:note, ar.note)
                FROM matched m WHERE ar.id = m.id
                RETURNING ar.id, ar.household_id, ar.resident_id, ar.grid_id,
                          ar.confirmed_at, ar.confirmed_by, m.newly
            )
            SELECT * FROM updated ORDER BY id"""
        ),
        {
            "alert": alert_id,
            "residents": [int(r) for r in resident_ids],
            "households": [int(h) for h in household_ids],
            "at": at,
            "by": by,
            "note": note,
        },
    ).mappings()
    return pd.DataFrame(
        list(rows),
        columns=[
            "id",
            "household_id",
            "resident_id",
            "grid_id",
            "confirmed_at",
            "confirmed_by",
            "newly",
        ],
    )


def alert_status(bind: Bind, alert_id: int) -> pd.DataFrame:
    """Per grid: recipients, sent, confirmed, and the vulnerable residents not yet reached.

    Columns: grid_id, grid_code, recipients, sent, confirmed, vulnerable,
    vulnerable_confirmed, pending_resident_ids (list of int).
    """
    frame = _frame(
        bind,
        """
        SELECT ar.grid_id, g.code AS grid_code, count(*)::int AS recipients,
               count(ar.sent_at)::int AS sent, count(ar.confirmed_at)::int AS confirmed,
               count(*) FILTER (WHERE r.living_alone_elderly OR r.disabled
                                   OR r.mobility_impaired)::int AS vulnerable,
               count(ar.confirmed_at) FILTER (WHERE r.living_alone_elderly OR r.disabled
                                   OR r.mobility_impaired)::int AS vulnerable_confirmed,
               coalesce(array_agg(ar.resident_id ORDER BY ar.resident_id) FILTER (
                   WHERE ar.confirmed_at IS NULL AND ar.resident_id IS NOT NULL), '{}')
                   AS pending_resident_ids
        FROM alert_recipient ar
        LEFT JOIN resident r ON r.id = ar.resident_id
        LEFT JOIN grid g ON g.id = ar.grid_id
        WHERE ar.alert_id = :id
        GROUP BY ar.grid_id, g.code
        ORDER BY g.code NULLS LAST""",
        id=alert_id,
    )
    frame["grid_id"] = frame["grid_id"].astype("Int64")
    frame["pending_resident_ids"] = frame["pending_resident_ids"].map(
        lambda ids: [int(i) for i in ids]
    )
    return frame


def alerts_of_hazard(bind: Bind, hazard_id: int | None = None) -> pd.DataFrame:
    """Alerts (of one hazard, or all) with recipient and confirmation counts, newest first."""
    return _frame(
        bind,
        """
        SELECT a.id, a.hazard_id, a.created_at, a.created_by, a.target_group, a.channel,
               count(ar.id)::int AS recipients, count(ar.confirmed_at)::int AS confirmed
        FROM alert a LEFT JOIN alert_recipient ar ON ar.alert_id = a.id
        WHERE CAST(:hazard AS integer) IS NULL OR a.hazard_id = :hazard
        GROUP BY a.id ORDER BY a.created_at DESC, a.id DESC""",
        hazard=hazard_id,
    )


def outbox(bind: Bind, *, alert_id: int | None = None) -> pd.DataFrame:
    """Outbox rows, of one alert or all.

    Columns: id, channel, recipient, body, status, created_at, sent_at, alert_recipient_id,
    message_id, attempts, last_error.
    """
    return _frame(
        bind,
        """
        SELECT o.id, o.channel, o.recipient, o.body, o.status, o.created_at, o.sent_at,
               o.alert_recipient_id, o.message_id::text AS message_id, o.attempts,
               o.last_error
        FROM outbox o LEFT JOIN alert_recipient ar ON ar.id = o.alert_recipient_id
        WHERE CAST(:alert AS integer) IS NULL OR ar.alert_id = :alert
        ORDER BY o.id""",
        alert=alert_id,
    )


# ---------------------------------------------------------------- workers


def worker_exists(bind: Bind, worker_id: int) -> bool:
    """Whether a grid worker has this id."""
    return bool(_scalar(bind, "SELECT count(*) FROM grid_worker WHERE id = :id", id=worker_id))


def record_position(conn: Connection, worker_id: int, lon: float, lat: float, at: datetime) -> int:
    """Store where a worker is (WGS84); returns the row id."""
    _aware(at, "at")
    return int(
        conn.execute(
            text(
                "INSERT INTO worker_position (worker_id, at, geom) "
                "VALUES (:w, :at, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"
            ),
            {"w": worker_id, "at": at, "lon": lon, "lat": lat},
        ).scalar_one()
    )


def latest_positions(bind: Bind, *, since: datetime | None = None) -> gpd.GeoDataFrame:
    """Each worker's latest position (optionally not older than ``since``).

    Columns: worker_id, name, on_duty, at, grids (text: the codes of the grids the
    worker is primary for), geometry.
    """
    _aware(since, "since")
    return _geo(
        bind,
        """
        SELECT DISTINCT ON (p.worker_id) p.worker_id, w.name, w.on_duty, p.at,
               coalesce((SELECT string_agg(g.code, ',' ORDER BY g.code)
                         FROM grid_assignment a JOIN grid g ON g.id = a.grid_id
                         WHERE a.worker_id = p.worker_id AND a.role = 'primary'), '') AS grids,
               p.geom
        FROM worker_position p JOIN grid_worker w ON w.id = p.worker_id
        WHERE CAST(:since AS timestamptz) IS NULL OR p.at >= :since
        ORDER BY p.worker_id, p.at DESC, p.id DESC""",
        since=since,
    )


# ---------------------------------------------------------------- live changes


def conninfo(engine: Engine) -> str:
    """A libpq connection string for ``engine``'s database (for a LISTEN connection)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def announce(conn: Connection, op: str, item_id: int) -> None:
    """Tell the live streams that a notice or an alert (``op``) was stored (heard at commit).

    On the incident channel, whose one ``LISTEN`` per server process already wakes every
    stream; the message carries only what it is and its id: each stream asks the database
    whether its reader may see it.
    """
    payload = json.dumps({"op": op, "id": int(item_id)})
    conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": INCIDENT_CHANNEL, "p": payload})


def _decode(payload: str) -> dict[str, Any]:
    try:
        message = json.loads(payload)
    except ValueError:
        return {"op": "unknown", "payload": payload}
    return message if isinstance(message, dict) else {"op": "unknown", "payload": message}


async def incident_change_stream(
    dsn: str, *, heartbeat_s: float = 15.0
) -> AsyncGenerator[dict[str, Any] | None, None]:
    """Yield every incident change as it is committed; None every quiet ``heartbeat_s``.

    The first item is ``{"op": "listening"}``, once ``LISTEN`` is in force: a change
    committed after it is never missed.  The None lets a server-sent-events stream
    write a keep-alive comment (and notice a closed client).  The connection is closed
    when the iteration stops.
    """
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(f"LISTEN {INCIDENT_CHANNEL}")
        yield {"op": "listening"}
        while True:
            got = False
            async for note in conn.notifies(timeout=heartbeat_s, stop_after=1):
                got = True
                yield _decode(note.payload)
            if not got:
                yield None
