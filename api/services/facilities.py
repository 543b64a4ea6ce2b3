"""For planners: how far people can walk from a facility in 5, 10 and 15 minutes (生活圈)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

import geopandas as gpd

from analysis.service_area import service_areas
from analysis.walking import Walking, require_network
from gis.errors import NotFound
from gis.store import queries

#: The life circles (15/10/5分钟生活圈), walking minutes.
LIFE_CIRCLE_MINUTES = (5, 10, 15)


def service_area(
    engine: Engine,
    walking: Walking,
    facility_id: int,
    minutes: Sequence[int] = LIFE_CIRCLE_MINUTES,
) -> gpd.GeoDataFrame:
    """The walking areas around one facility, built from the streets reached.

    Parameters
    ----------
    engine
        Where the facility is read.
    walking
        The walking network as loaded now.
    facility_id
        The facility.
    minutes
        Walking times, minutes; each once, ascending.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per time: minutes, area_m2 (m²), facility_id, kind, name and the area
        (EPSG:4326; empty when nothing is reached).

    Raises
    ------
    gis.errors.NotFound
        For a facility that does not exist.
    analysis.walking.NoRoadNetwork
        When no road network is loaded.
    """
    facility = queries.facility_point(engine, facility_id)
    if facility is None:
        raise NotFound(f"no facility with id {facility_id}")
    network = require_network(walking.network)
    areas = service_areas(
        network, [facility.lon], [facility.lat], minutes=tuple(sorted(set(minutes)))
    )
    areas["facility_id"] = facility_id
    areas["kind"] = facility.kind
    areas["name"] = facility.name
    return areas
