"""What the re-division simulator replays: the cases of a period, the homes, today's layout.

Every read takes an engine and returns a frame; coordinates in EPSG:4326, times UTC.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, text

import geopandas as gpd

from gis.db.models import SRID
from gis.store import incident_ids
from gis.store.event_bound import within_case

#: Where the conditions on the cases' numbers go (:func:`incident_ids.time_bound_sql`).
MONTHS = "/* months */"
_CASES = f"""
SELECT i.id, i.category_code,
       coalesce(d.at, i.reported_at) AS start, i.deadline, i.closed_at,
       i.assignee_id, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
FROM incident i
LEFT JOIN LATERAL (
    SELECT min(e.at) AS at FROM incident_event e
    WHERE e.incident_id = i.id AND e.to_state = 'dispatched'
      AND {within_case()}
) d ON TRUE
WHERE i.reported_at >= :start AND i.reported_at < :end AND i.merged_into IS NULL{MONTHS}
ORDER BY start, i.id
"""

_HOMES = """
SELECT ST_X(ST_PointOnSurface(b.geom)) AS lon, ST_Y(ST_PointOnSurface(b.geom)) AS lat,
       coalesce(h.households, 0) AS households, coalesce(h.vulnerable, 0) AS vulnerable
FROM building b
JOIN (
    SELECT hh.building_id, count(DISTINCT hh.id) AS households,
           count(p.id) FILTER (
               WHERE p.living_alone_elderly OR p.disabled OR p.mobility_impaired
           ) AS vulnerable
    FROM household hh LEFT JOIN resident p ON p.household_id = hh.id
    GROUP BY hh.building_id
) h ON h.building_id = b.id
ORDER BY b.id
"""

_LAYOUT = """
SELECT g.code AS key, g.name, g.id AS grid_id, c.code AS community_code,
       a.worker_id, g.geom
FROM grid g
JOIN admin_area c ON c.id = g.community_id
LEFT JOIN grid_assignment a ON a.grid_id = g.id AND a.role = 'primary'
WHERE g.valid_to IS NULL
ORDER BY g.code
"""


def replay_cases(engine: Engine, start: datetime, end: datetime) -> pd.DataFrame:
    """Cases reported in ``[start, end)`` (merged reports left out).

    Columns: id, category_code, start (the first dispatch, else the report), deadline,
    closed_at, assignee_id (nullable Int64), lon, lat.
    """
    with engine.connect() as conn:
        params: dict = {"start": start, "end": end}
        # the months of the range, by the cases' numbers (gis.store.incident_ids)
        sql = _CASES.replace(MONTHS, incident_ids.and_time_bound("i", start, end, params))
        frame = pd.read_sql(text(sql), conn, params=params)
    for column in ("start", "deadline", "closed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["assignee_id"] = frame["assignee_id"].astype("Int64")
    frame["category_code"] = frame["category_code"].astype(str)
    return frame


def replay_homes(engine: Engine) -> pd.DataFrame:
    """Buildings with households: lon, lat (point on surface), households, vulnerable.

    ``vulnerable`` counts residents living alone when elderly, disabled or
    mobility-impaired.
    """
    with engine.connect() as conn:
        frame = pd.read_sql(text(_HOMES), conn)
    return frame.astype({"households": float, "vulnerable": float})


def current_layout(engine: Engine) -> gpd.GeoDataFrame:
    """Today's grids as a layout: key (code), name, grid_id, community_code, worker_id, geom.

    ``worker_id`` is the grid's primary worker (nullable Int64).
    """
    with engine.connect() as conn:
        frame = gpd.read_postgis(text(_LAYOUT), conn, geom_col="geom", crs=SRID)
    frame["worker_id"] = frame["worker_id"].astype("Int64")
    return frame.rename_geometry("geometry")
