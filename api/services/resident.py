"""For residents: the nearest open shelter on foot and the way there, with the hazards in force.

No login and no personal data: what a resident's phone asks with its position.  The
door hands in the nearest-shelter index of the moment (:class:`analysis.walking.SheltersNow`,
hazard areas in force already closed off), so every answer follows the hazards as they
start and end.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from shapely import LineString
from shapely.geometry.base import BaseGeometry

from analysis.hazard import KIND_NAMES
from analysis.nearest import NoShelterReachable
from analysis.walking import OffTheRoads, SheltersNow, require_network, snap_near_roads
from gis.coords import to_wgs84
from gis.settings import Settings

#: Skipped shelters named in the warning (the rest are counted).
SKIPPED_NAMED = 3

SHELTER_CLASS_NAMES = {
    "emergency": "紧急避难场所",
    "fixed": "固定避难场所",
    "central": "中心避难场所",
}


@dataclass(frozen=True)
class Shelter:
    """A shelter as the public may know it; lon/lat in EPSG:4326, degrees."""

    id: int
    name: str
    shelter_class: str
    shelter_class_name: str
    capacity: int
    occupancy: int
    lon: float
    lat: float


@dataclass(frozen=True)
class HazardNotice:
    """A hazard area in force (预警), as the public may know it."""

    id: int
    kind: str
    kind_name: str
    name: str
    severity: int


@dataclass(frozen=True)
class ShelterRef:
    """A shelter by id and name."""

    id: int
    name: str


@dataclass(frozen=True)
class HazardsHere:
    """The hazards in force as they touch one point: which, the shelters skipped, the warning."""

    hazards: tuple[HazardNotice, ...] = ()
    skipped_shelters: tuple[ShelterRef, ...] = ()
    in_hazard_area: bool = False
    warning: str | None = None
    #: Their union, EPSG:4326 (None when none is in force).
    area: BaseGeometry | None = None


@dataclass(frozen=True)
class ShelterWay:
    """The nearest open shelter on foot from a point, or why there is none.

    ``lon``/``lat`` are the point in WGS84; distances in metres, times in minutes (not
    rounded); ``route`` runs from the point to the shelter, EPSG:4326.
    """

    found: bool
    message: str
    lon: float
    lat: float
    walk_to_road_m: float
    hazards: HazardsHere
    shelter: Shelter | None = None
    distance_m: float | None = None
    minutes: float | None = None
    route: LineString | None = None


@dataclass(frozen=True)
class _Known:
    """What every answer from one nearest-shelter index repeats, made once for it.

    ``outside``: the hazards as they touch a point outside their area (None: none in
    force); ``shelters``: the shelters answered so far by facility id, as the public
    may know them.
    """

    outside: HazardsHere | None
    shelters: dict[int, Shelter]


#: The index last answered from and what its answers repeat (one at a time is in force).
_held: tuple[SheltersNow, _Known] | None = None


def _known(data: SheltersNow) -> _Known:
    """:class:`_Known` of ``data``: built once per index (the hazards change it)."""
    global _held
    held = _held
    if held is not None and held[0] is data:
        return held[1]
    built = _Known(_hazards_outside(data), {})
    _held = (data, built)
    return built


def _shelter(data: SheltersNow, shelter_id: int) -> Shelter:
    """A shelter of ``data`` as the public may know it (kept for the next answers)."""
    known = _known(data).shelters
    found = known.get(shelter_id)
    if found is None:
        row = data.walking.shelters.loc[shelter_id]
        found = known[shelter_id] = Shelter(
            id=shelter_id,
            name=str(row["name"]),
            shelter_class=str(row["shelter_class"]),
            shelter_class_name=SHELTER_CLASS_NAMES.get(row["shelter_class"], "避难场所"),
            capacity=int(row["capacity"]),
            occupancy=int(row["occupancy"]),
            lon=float(row["geom"].x),
            lat=float(row["geom"].y),
        )
    return found


def _hazards_outside(data: SheltersNow) -> HazardsHere | None:
    """The hazards in force as a point outside them sees them; None when none is."""
    if data.closure is None or data.closure.area_m is None:
        return None
    hazards = tuple(
        HazardNotice(
            id=int(h.id),
            kind=str(h.kind),
            kind_name=KIND_NAMES.get(h.kind, str(h.kind)),
            name=str(h.name),
            severity=int(h.severity),
        )
        for h in data.hazards.itertuples()
    )
    names = data.walking.shelters["name"]
    skipped = tuple(ShelterRef(id=int(i), name=str(names.loc[i])) for i in data.shelters_inside)
    warning = "；".join(f"{h.kind_name}预警生效中：{h.name}" for h in hazards)
    warning += "，已避开危险区域内的避难场所"
    if skipped:
        listed = "、".join(s.name for s in skipped[:SKIPPED_NAMED])
        more = f"等{len(skipped)}处" if len(skipped) > SKIPPED_NAMED else ""
        warning += f"（{listed}{more}）"
    warning += "和道路。"
    return HazardsHere(hazards, skipped, False, warning, data.area)


def _hazards_here(data: SheltersNow, x: float, y: float) -> HazardsHere:
    """The hazards in force, the shelters skipped and the warning to show (none: empty)."""
    outside = _known(data).outside
    if outside is None or data.closure is None:
        return HazardsHere()
    if not bool(data.closure.covers([x], [y])[0]):
        return outside
    assert outside.warning is not None
    return replace(
        outside,
        in_hazard_area=True,
        warning=outside.warning + "您正位于危险区域内，请沿路线尽快离开。",
    )


def nearest_shelter(
    shelters: SheltersNow, settings: Settings, lon: float, lat: float, coord_type: str = "wgs84"
) -> ShelterWay:
    """The nearest open shelter on foot from a point: which, how far, how long, which way.

    Parameters
    ----------
    shelters
        The nearest-shelter index of the moment (hazards in force closed off).
    settings
        For the farthest believable walk to a road (``max_walk_to_road_m``).
    lon, lat
        The point, degrees, in ``coord_type`` (``wgs84``, ``gcj02``, ``bd09``).

    Raises
    ------
    analysis.walking.NoRoadNetwork
        When no road network is loaded (unavailable).
    analysis.walking.OffTheRoads
        When the point is far from every road of the district (invalid input).
    gis.coords.CoordTypeError
        For an unknown ``coord_type``.
    """
    x, y = to_wgs84(lon, lat, coord_type)
    network = require_network(shelters.walking.network)
    snap = snap_near_roads(
        network, x, y, max_walk_m=settings.max_walk_to_road_m, bounds=shelters.walking.bounds
    )
    offset = float(np.asarray(snap.offset_m)[0])
    hazards = _hazards_here(shelters, x, y)
    outside = " outside the hazard area" if hazards.hazards else ""
    nowhere = f"no open shelter{outside} in this district: call 110/119 or follow your grid worker"
    if shelters.index is not None:
        try:
            # with a hazard in force the index walks the roads left open: its own snap
            same = shelters.index.network is network
            best = shelters.index.nearest(x, y, snap if same else None)
        except NoShelterReachable:
            nowhere = (
                f"no open shelter{outside} can be reached on foot from here; call 110/119 or "
                "follow your grid worker"
            )
        else:
            shelter = _shelter(shelters, int(best.shelter_id))
            return ShelterWay(
                found=True,
                message=f"最近的{'安全' if hazards.hazards else ''}避难场所是{shelter.name}，"
                f"步行约{best.minutes:.0f}分钟",
                lon=x,
                lat=y,
                walk_to_road_m=best.offset_m,
                hazards=hazards,
                shelter=shelter,
                distance_m=best.distance_m,
                minutes=best.minutes,
                route=best.route,
            )
    return ShelterWay(
        found=False,
        message=nowhere,
        lon=x,
        lat=y,
        walk_to_road_m=offset,
        hazards=hazards,
    )


#: What the phone page says when a position cannot be used (never the English API message).
OUTSIDE_AREA = (
    "您的位置不在本辖区内（或离道路太远），无法规划步行路线。"
    "如遇紧急情况请拨打 110 / 119，或听从网格员指引。"
)
NOWHERE_ZH = "附近没有可步行到达的开放避难场所。请拨打 110 / 119，或听从网格员指引。"


@dataclass(frozen=True)
class PhoneShelter:
    """What the residents' shelter page shows: the way (when found) or why not, in Chinese."""

    way: ShelterWay | None
    message: str
    warning: str | None
    outside: bool = False


def shelter_for_phone(
    shelters: SheltersNow, settings: Settings, lon: float, lat: float
) -> PhoneShelter:
    """The nearest shelter from a phone's WGS84 position, every refusal in plain Chinese.

    A position outside the area served or far from every road is an answer here ("outside
    the area"), not an error: the page says so.  No road network loaded stays an error
    (503).
    """
    w, s, e, n = settings.service_area_bounds
    warning = _hazards_here(shelters, lon, lat).warning
    if not (w <= lon <= e and s <= lat <= n):
        return PhoneShelter(None, OUTSIDE_AREA, warning, outside=True)
    try:
        way = nearest_shelter(shelters, settings, lon, lat, "wgs84")
    except OffTheRoads:
        return PhoneShelter(None, OUTSIDE_AREA, warning, outside=True)
    if not way.found:
        return PhoneShelter(way, NOWHERE_ZH, way.hazards.warning)
    return PhoneShelter(way, way.message, way.hazards.warning)
