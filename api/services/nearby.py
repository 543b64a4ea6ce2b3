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


def _text(value: object) -> str | None:
    return None if value is None or value != value else str(value)  # NaN: unknown


@dataclass(frozen=True)
class _Services:
    """Candidate services as arrays (where each joins the network) and their answers' fields.

    Built once per walking cache (:func:`_services_of`) so that one question reads no
    pandas: filtering, sorting and naming on a frame per request were most of its time.
    ``fields[i]`` is (id, kind, name, address, opening_hours, phone, lon, lat) as the
    answer shows them.
    """

    ids: np.ndarray
    mx: np.ndarray | None  # None: no straight-distance filter (already read within it)
    my: np.ndarray | None
    by_kind: dict[str, np.ndarray]
    edge: np.ndarray
    fraction: np.ndarray
    offset_m: np.ndarray
    to_source_m: np.ndarray
    to_target_m: np.ndarray
    fields: list[tuple]

    @classmethod
    def of(cls, frame: pd.DataFrame, *, located: bool) -> _Services:
        """From a frame of the walking cache's ``facilities`` columns (``located``: mx, my)."""
        kinds = frame["kind"].to_numpy(dtype=object)
        fields = [
            (int(i), str(k), str(n), _text(a), _text(h), _text(p), float(x), float(y))
            for i, k, n, a, h, p, x, y in zip(
                frame["id"],
                frame["kind"],
                frame["name"],
                frame["address"],
                frame["opening_hours"],
                frame["phone"],
                frame["lon"],
                frame["lat"],
                strict=True,
            )
        ]
        return cls(
            ids=frame["id"].to_numpy(dtype=np.int64),
            mx=frame["mx"].to_numpy(dtype=float) if located else None,
            my=frame["my"].to_numpy(dtype=float) if located else None,
            by_kind={k: kinds == k for k in SERVICE_KINDS},
            edge=frame["edge"].to_numpy(),
            fraction=frame["fraction"].to_numpy(dtype=float),
            offset_m=frame["offset_m"].to_numpy(dtype=float),
            to_source_m=frame["to_source_m"].to_numpy(dtype=float),
            to_target_m=frame["to_target_m"].to_numpy(dtype=float),
            fields=fields,
        )


#: The services of the walking cache last asked about: (its facilities frame, them).
_held: tuple[pd.DataFrame, _Services] | None = None


def _services_of(frame: pd.DataFrame) -> _Services:
    """:class:`_Services` of the walking cache's ``facilities`` (built once per cache)."""
    global _held
    held = _held
    if held is not None and held[0] is frame:
        return held[1]
    built = _Services.of(frame, located=True)
    _held = (frame, built)
    return built


def _candidates(
    engine: Engine,
    walking: Walking,
    x: float,
    y: float,
    radius_m: float,
    kinds: tuple[str, ...],
) -> tuple[_Services, np.ndarray]:
    """The facilities of ``kinds`` within ``radius_m`` straight of the point: which rows.

    From the walking cache's facilities (snapped once per data version) when it has them,
    else read from the database and snapped now.  The straight distance is measured in
    the network's metric CRS with a metre to spare (only a bound: no walk is shorter).
    """
    network = walking.require_network()
    frame = walking.facilities
    if frame is None:
        rows = store.facilities_near(engine, x, y, radius_m, kinds)
        snap = network.snap(rows["lon"].to_numpy(float), rows["lat"].to_numpy(float))
        rows = rows.assign(
            edge=snap.edge,
            fraction=snap.fraction,
            offset_m=snap.offset_m,
            to_source_m=snap.to_source_m,
            to_target_m=snap.to_target_m,
        )
        return _Services.of(rows, located=False), np.arange(len(rows))
    services = _services_of(frame)
    assert services.mx is not None and services.my is not None
    here = network.to_metric([x], [y])[0]
    close = np.hypot(services.mx - here[0], services.my - here[1]) <= radius_m + 1.0
    wanted = np.zeros(len(close), dtype=bool)
    for k in kinds:
        wanted |= services.by_kind[k]
    return services, np.flatnonzero(close & wanted)


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
    services, rows = _candidates(engine, walking, x, y, limit_s * speed, wanted)
    if not len(rows):
        return Nearby(x, y, max_minutes, ())
    node_s, start = point_walk_seconds(network, x, y, limit_s=limit_s, snap=here)
    edge = services.edge[rows]
    src = network.edge_source[edge]
    dst = network.edge_target[edge]
    seconds = np.minimum(
        node_s[src] + services.to_source_m[rows] / speed,
        node_s[dst] + services.to_target_m[rows] / speed,
    )
    shared = edge == start.edge[0]
    along = np.abs(services.fraction[rows] - start.fraction[0]) * network.length_m[edge]
    seconds = np.where(
        shared, np.minimum(seconds, start.offset_m[0] / speed + along / speed), seconds
    )
    seconds = seconds + services.offset_m[rows] / speed
    keep = np.isfinite(seconds) & (seconds <= limit_s)
    rows, seconds = rows[keep], seconds[keep]
    order = np.lexsort((services.ids[rows], seconds))  # nearest first, then by id
    found = []
    for i, t in zip(rows[order].tolist(), seconds[order].tolist(), strict=True):
        fid, kind, name, address, hours, phone, flon, flat = services.fields[i]
        found.append(
            Service(
                id=fid,
                kind=kind,
                kind_name=SERVICE_KINDS[kind],
                name=name,
                address=address,
                opening_hours=hours,
                phone=phone,
                lon=flon,
                lat=flat,
                minutes=t / 60.0,
                distance_m=t * speed,
            )
        )
    return Nearby(x, y, max_minutes, tuple(found))
