"""Bulk reads of what the maps and pages show, as GeoDataFrames in EPSG:4326.

Grids are read in :mod:`gis.store.grid_store`.

No personal data is read here: these frames feed pages any signed-in user may see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine, event, text

import geopandas as gpd

BUILDINGS_WITH_COUNTS = """
SELECT b.id, coalesce(b.name, '') AS name, b.floors, b.use,
       coalesce(h.households, 0)::int AS households, b.geom
FROM building b
LEFT JOIN (SELECT building_id, count(*) AS households FROM household GROUP BY building_id) h
       ON h.building_id = b.id
ORDER BY b.id
"""

FACILITIES = """
SELECT f.id, f.kind, f.name, f.capacity, f.geom FROM facility f
WHERE f.kind <> 'shelter' ORDER BY f.id
"""

SHELTERS = """
SELECT f.id AS facility_id, f.name, s.shelter_class, coalesce(f.capacity, 0) AS capacity,
       s.occupancy, s.is_open, f.geom
FROM facility f JOIN shelter s ON s.facility_id = f.id
ORDER BY f.id
"""


def _read(engine: Engine, sql: str) -> gpd.GeoDataFrame:
    with engine.connect() as conn:
        return gpd.read_postgis(sql, conn, geom_col="geom", crs=4326)


def buildings_with_counts(engine: Engine) -> gpd.GeoDataFrame:
    """Building footprints with floors, use and household count."""
    return _read(engine, BUILDINGS_WITH_COUNTS)


def facilities(engine: Engine) -> gpd.GeoDataFrame:
    """Service facilities other than shelters."""
    return _read(engine, FACILITIES)


def shelters(engine: Engine) -> gpd.GeoDataFrame:
    """Shelters (避难场所) with class, capacity and occupancy."""
    return _read(engine, SHELTERS)


@dataclass(frozen=True)
class FacilityPoint:
    """Where a facility is (lon/lat, EPSG:4326, degrees), its kind and its name."""

    id: int
    lon: float
    lat: float
    kind: str
    name: str


def facility_point(engine: Engine, facility_id: int) -> FacilityPoint | None:
    """One facility (any kind, shelters too) by id; None when there is none."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom), kind, name FROM facility WHERE id = :i"),
            {"i": facility_id},
        ).one_or_none()
    if row is None:
        return None
    return FacilityPoint(facility_id, float(row[0]), float(row[1]), str(row[2]), str(row[3]))


ROAD_NODES = "SELECT id, geom FROM road_node ORDER BY id"
ROAD_EDGES = """
SELECT id, source, target, name, road_class, length_m, walkable, drivable, oneway,
       walk_speed_mps, drive_speed_kmh, z_level, geom
FROM road_edge ORDER BY id
"""


def road_network_frames(engine: Engine) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The stored road network as (nodes, edges) frames, columns as in ``road_edge``."""
    nodes = _read(engine, ROAD_NODES).rename_geometry("geometry")
    edges = _read(engine, ROAD_EDGES).rename_geometry("geometry")
    return nodes, edges


#: Tables whose changes caches follow: each has a sequence ``<table>_data_version_seq``
#: that a statement trigger moves on every insert, update, delete or truncate.  Those
#: whose rows name an office keep one per office as well (:mod:`gis.store.office_versions`).
VERSIONED_TABLES = (
    "grid",
    "road_node",
    "road_edge",
    "facility",
    "shelter",
    "building",
    "household",
    "incident",
    "incident_category",
    "hazard_area",
    "app_user",
    "api_token",
    "grid_worker",
    "grid_assignment",
    "app_session",
    "map_area",
    "resident",
    "admin_area",
)


#: Transactions committed in this process, on any engine (moved by :func:`_committed`).
_COMMITS = [0]


@event.listens_for(Engine, "commit")
def _committed(conn: Connection) -> None:
    note_local_commit()


def note_local_commit() -> None:
    """Count a transaction this process committed past SQLAlchemy (a raw psycopg one).

    SQLAlchemy's commits are counted by themselves (:func:`local_commits`).
    """
    _COMMITS[0] += 1


def local_commits() -> int:
    """How many transactions this process has committed so far, on any engine.

    A cache that answers from its data versions for a moment without reading them
    (:meth:`api.state.Cached.get`, ``trust_s``) reads them again once this moved: a
    change written by this very process (a hazard posted to this server) counts at once,
    whoever wrote it.  Increments may race between threads; the count still moves.
    """
    return _COMMITS[0]


def data_version(engine: Engine, tables: tuple[str, ...]) -> tuple:
    """A value that changes whenever a row of ``tables`` is inserted, updated or deleted.

    Read from the trigger-moved sequences (one statement, whatever the size of the
    tables): cheap enough to ask before every cached answer.

    Raises
    ------
    ValueError
        For a table whose changes are not followed (see :data:`VERSIONED_TABLES`).
    """
    unknown = sorted(set(tables) - set(VERSIONED_TABLES))
    if unknown:
        raise ValueError(f"no data version is kept for {', '.join(unknown)}")
    names = sorted(set(tables))
    if not names:
        return ()
    sql = " UNION ALL ".join(
        [
            *(
                f"SELECT '{t}', last_value * is_called::int FROM {t}_data_version_seq"
                for t in names
            ),
            writers_sql(names),
        ]
    )
    with engine.connect() as conn:
        return tuple(tuple(r) for r in conn.exec_driver_sql(sql))


#: The row :func:`writers_sql` answers: the name of the value that is not a sequence's.
WRITERS = "~writers"
#: What a transaction that changes a table holds on it until it ends (INSERT, UPDATE,
#: DELETE and COPY take RowExclusiveLock; TRUNCATE and DDL stronger ones).
_WRITE_LOCKS = ("RowExclusiveLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")


def writers_sql(tables: Iterable[str]) -> str:
    """A ``SELECT`` of one row (:data:`WRITERS`, the transactions writing ``tables`` now).

    A data version moves when a statement ends, before its transaction commits: what is
    built meanwhile from the committed rows is the old data under the new version, and
    would be kept so until the next change (a map's tiles after an import, for good).  The
    transactions still writing are part of the version, so what is built while they run
    is never taken for what is built after they end.  Read from ``pg_locks`` (no cost to
    the writers): a hash of the writers' virtual transaction ids, 0 when none writes.
    """
    relations = ", ".join(f"'{t}'::regclass" for t in sorted(set(tables)))
    modes = ", ".join(f"'{m}'" for m in _WRITE_LOCKS)
    return (
        f"SELECT '{WRITERS}', coalesce(hashtextextended(string_agg(DISTINCT virtualtransaction, "
        "',' ORDER BY virtualtransaction), 0), 0) "
        "FROM pg_locks WHERE locktype = 'relation' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        f"AND relation IN ({relations}) AND mode IN ({modes}) AND pid <> pg_backend_pid()"
    )


def wal_position(engine: Engine) -> int:
    """The database's WAL write position, in bytes (what a replica must replay to be current)."""
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
            ).scalar_one()
        )


def replayed_position(engine: Engine) -> int:
    """How far a streaming replica has replayed the WAL, in bytes (a primary: its position)."""
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT coalesce((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                "ELSE pg_current_wal_lsn() END - '0/0'::pg_lsn)::bigint, 0)"
            ).scalar_one()
        )


EVACUATION_HOUSEHOLDS = """
SELECT h.id AS household_id, h.building_id, h.size,
       ST_X(ST_PointOnSurface(b.geom)) AS lon, ST_Y(ST_PointOnSurface(b.geom)) AS lat,
       coalesce(bool_or(r.living_alone_elderly), false) AS living_alone_elderly,
       coalesce(bool_or(r.disabled), false) AS disabled,
       coalesce(bool_or(r.mobility_impaired), false) AS mobility_impaired,
       coalesce(array_agg(r.id ORDER BY r.id) FILTER (
           WHERE r.living_alone_elderly OR r.disabled OR r.mobility_impaired), '{}')
           AS help_resident_ids,
       g.code AS grid
FROM household h
JOIN building b ON b.id = h.building_id
LEFT JOIN resident r ON r.household_id = h.id
LEFT JOIN grid g ON g.id = h.grid_id
GROUP BY h.id, b.id, g.code
ORDER BY h.id
"""

EVACUATION_SHELTERS = """
SELECT f.id AS shelter_id, coalesce(f.capacity, 0) AS capacity, s.occupancy,
       s.shelter_class, s.is_open, s.zone, f.geom
FROM facility f JOIN shelter s ON s.facility_id = f.id
ORDER BY f.id
"""


def evacuation_households(engine: Engine) -> pd.DataFrame:
    """Households with their building point, needs-help flags and grid (ids only, no names)."""
    with engine.connect() as conn:
        frame = pd.read_sql(EVACUATION_HOUSEHOLDS, conn)
    frame["help_resident_ids"] = frame["help_resident_ids"].map(tuple)
    return frame


def evacuation_shelters(engine: Engine) -> gpd.GeoDataFrame:
    """Shelters with capacity, occupancy, class, open flag and responsibility zone."""
    with engine.connect() as conn:
        frame = gpd.read_postgis(EVACUATION_SHELTERS, conn, geom_col="geom", crs=4326)
    frame["zone"] = gpd.GeoSeries.from_wkb(frame["zone"].map(_wkb_or_none))
    return frame.rename_geometry("geometry")


def _wkb_or_none(value: object) -> bytes | None:
    """A zone's WKB as read; None for none (NULL, NaN when no shelter of the file has one)."""
    if isinstance(value, str):
        return bytes.fromhex(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return None
