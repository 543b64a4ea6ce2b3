"""For residents: the services near them (周边服务), by walking time on the road network.

Clinics, pharmacies, elder care, community centres, schools and parks within a walk of
``max_minutes`` (20 by default) of a point, each with its walking minutes, distance on
foot, opening hours and phone where known, nearest first.  One limited Dijkstra from the
point (:func:`analysis.service_area.point_walk_seconds`, the walk to the road included)
gives every node its time; a facility adds its own walk from its road, through whichever
end of its edge is quicker (or straight along the edge when the point shares it).  The
candidates are read within the straight distance the time allows, which no walk beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from analysis.service_area import point_walk_seconds
from analysis.walking import Walking, snap_near_roads
from gis.coords import to_wgs84
from gis.errors import InvalidInput
from gis.settings import Settings
from gis.store import neighbourhood_store as store

#: The kinds shown and their names, in the order of the filter.
SERVICE_KINDS = {
    "clinic": "社区卫生服务站/诊所",
    "pharmacy": "药店",
    "elder_care": "养老服务",
    "community_centre": "社区服务中心",
    "school": "学校",
    "park": "公园/绿地",
}
DEFAULT_MINUTES = 20.0
MAX_MINUTES = 30.0


@dataclass(frozen=True)
class Service:
    """A facility near the resident; lon/lat EPSG:4326, minutes on foot (not rounded)."""

    id: int
    kind: str
    kind_name: str
    name: str
    address: str | None
    opening_hours: str | None
    phone: str | None
    lon: float
    lat: float
    minutes: float
    distance_m: float


@dataclass(frozen=True)
class Nearby:
    """The services within ``max_minutes`` on foot of a point, nearest first."""

    lon: float
    lat: float
    max_minutes: float
    services: tuple[Service, ...]


def _kinds(kinds: tuple[str, ...] | None) -> tuple[str, ...]:
    if not kinds:
        return tuple(SERVICE_KINDS)
    unknown = [k for k in kinds if k not in SERVICE_KINDS]
    if unknown:
        raise InvalidInput(
            f"kind={unknown[0]!r} is not a service kind; use any of {', '.join(SERVICE_KINDS)}"
        )
    return tuple(dict.fromkeys(kinds))


@dataclass(frozen=True)
class _Goal:
    """Where the candidates join the network (the fields of :class:`analysis.network.Snap`)."""

    edge: np.ndarray
    fraction: np.ndarray
    offset_m: np.ndarray
    to_source_m: np.ndarray
    to_target_m: np.ndarray


def _candidates(
    engine: Engine,
    walking: Walking,
    x: float,
    y: float,
    radius_m: float,
    kinds: tuple[str, ...],
) -> tuple[pd.DataFrame, _Goal]:
    """The facilities of ``kinds`` within ``radius_m`` straight of the point, and their snaps.

    From the walking cache's facilities (snapped once per data version) when it has them,
    else read from the database and snapped now.  The straight distance is measured in
    the network's metric CRS with a metre to spare (only a bound: no walk is shorter).
    """
    network = walking.require_network()
    frame = walking.facilities
    if frame is None:
        rows = store.facilities_near(engine, x, y, radius_m, kinds)
        snap = network.snap(rows["lon"].to_numpy(float), rows["lat"].to_numpy(float))
        return rows, _Goal(
            snap.edge, snap.fraction, snap.offset_m, snap.to_source_m, snap.to_target_m
        )
    here = network.to_metric([x], [y])[0]
    close = np.hypot(frame["mx"].to_numpy() - here[0], frame["my"].to_numpy() - here[1])
    rows = frame[(close <= radius_m + 1.0) & frame["kind"].isin(kinds).to_numpy()]
    return rows, _Goal(
        *(
            rows[c].to_numpy()
            for c in ("edge", "fraction", "offset_m", "to_source_m", "to_target_m")
        )
    )


def nearby_services(
    engine: Engine,
    walking: Walking,
    settings: Settings,
    lon: float,
    lat: float,
    coord_type: str = "wgs84",
    kinds: tuple[str, ...] | None = None,
    max_minutes: float = DEFAULT_MINUTES,
) -> Nearby:
    """The services within ``max_minutes`` on foot of a point, nearest first.

    Raises
    ------
    analysis.walking.NoRoadNetwork
        When no road network is loaded (unavailable).
    analysis.walking.OffTheRoads
        When the point is far from every road of the district (invalid input).
    """
    if not 1 <= max_minutes <= MAX_MINUTES:
        raise InvalidInput(
            f"minutes={max_minutes:g} is out of range: ask for 1 to {MAX_MINUTES:g} minutes"
        )
    wanted = _kinds(kinds)
    x, y = to_wgs84(lon, lat, coord_type)
    network = walking.require_network()
    here = snap_near_roads(
        network, x, y, max_walk_m=settings.max_walk_to_road_m, bounds=walking.bounds
    )
    limit_s = max_minutes * 60.0
    speed = network.walk_speed_mps
    rows, goal = _candidates(engine, walking, x, y, limit_s * speed, wanted)
    if rows.empty:
        return Nearby(x, y, max_minutes, ())
    node_s, start = point_walk_seconds(network, x, y, limit_s=limit_s, snap=here)
    src = network.edge_source[goal.edge]
    dst = network.edge_target[goal.edge]
    seconds = np.minimum(
        node_s[src] + goal.to_source_m / speed, node_s[dst] + goal.to_target_m / speed
    )
    shared = goal.edge == start.edge[0]
    along = np.abs(goal.fraction - start.fraction[0]) * network.length_m[goal.edge]
    seconds = np.where(
        shared, np.minimum(seconds, start.offset_m[0] / speed + along / speed), seconds
    )
    seconds = seconds + goal.offset_m / speed
    rows = rows.assign(seconds=seconds)
    rows = rows[np.isfinite(rows["seconds"]) & (rows["seconds"] <= limit_s)]
    rows = rows.sort_values(["seconds", "id"], kind="stable")

    def text(value: object) -> str | None:
        return None if value is None or value != value else str(value)  # NaN: unknown

    services = tuple(
        Service(
            id=int(r.id),
            kind=str(r.kind),
            kind_name=SERVICE_KINDS[r.kind],
            name=str(r.name),
            address=text(r.address),
            opening_hours=text(r.opening_hours),
            phone=text(r.phone),
            lon=float(r.lon),
            lat=float(r.lat),
            minutes=float(r.seconds) / 60.0,
            distance_m=float(r.seconds) * speed,
        )
        for r in rows.itertuples()
    )
    return Nearby(x, y, max_minutes, services)
