"""The walking network and the shelters as the answers use them, with the hazards in force.

Two values, each built once per data version by the application's state and shared by
every door: :class:`Walking` (the network and every shelter) and :class:`SheltersNow`
(the nearest-shelter index once the hazard areas in force have closed their roads and
set aside the shelters inside them, the rule of :func:`analysis.hazard.close_hazard`).
:func:`require_network` is the one answer to "no road network is loaded", and
:func:`snap_near_roads` the one answer to "this point is far from every road".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from analysis.hazard import HazardClosure, close_hazard
from analysis.nearest import ShelterIndex
from analysis.network import RoadNetwork, Snap
from gis.errors import AnalysisError, InvalidInput, Unavailable


class NoRoadNetwork(AnalysisError, Unavailable):
    """No road network is loaded, so nothing can be measured on foot."""

    title = "No road network"


NO_NETWORK = (
    "no road network is loaded, so walking routes and times cannot be computed: load a "
    "district ('wangge load FILE.gpkg', 'wangge demo') or import the streets from "
    "OpenStreetMap ('wangge network import FILE.osm.pbf')"
)


@dataclass(frozen=True)
class Walking:
    """The walking network and every shelter.

    Attributes
    ----------
    version : tuple
        The data version it was built for.
    network : RoadNetwork or None
        None when no road network is loaded.
    shelters : pandas.DataFrame
        Indexed by facility id: name, shelter_class, capacity, occupancy, is_open,
        geometry (EPSG:4326).
    bounds : tuple of float or None
        ``(W, S, E, N)`` of the roads, degrees.
    """

    version: tuple
    network: RoadNetwork | None
    shelters: pd.DataFrame
    bounds: tuple[float, float, float, float] | None
    #: the services of the nearby page with where each joins the network (columns of
    #: :meth:`build`'s ``facilities`` plus ``mx``, ``my``, ``edge``, ``fraction``,
    #: ``offset_m``, ``to_source_m``, ``to_target_m``); None: not loaded
    facilities: pd.DataFrame | None = None

    @classmethod
    def build(
        cls,
        nodes: gpd.GeoDataFrame,
        edges: gpd.GeoDataFrame,
        shelters: gpd.GeoDataFrame,
        *,
        walk_speed_mps: float,
        version: tuple = (),
        facilities: pd.DataFrame | None = None,
    ) -> Walking:
        """From the stored road nodes and edges and the shelters (``facility_id`` column).

        ``facilities`` (``lon``, ``lat`` and any other columns): snapped to the network
        once here, so that a question about the services near a point reads no table.
        """
        network = bounds = None
        if not edges.empty:
            network = RoadNetwork.from_frames(nodes, edges, walk_speed_mps=walk_speed_mps)
            w, s, e, n = (float(v) for v in edges.total_bounds)
            bounds = (w, s, e, n)
        if facilities is not None and network is not None and len(facilities):
            snap = network.snap(
                facilities["lon"].to_numpy(float), facilities["lat"].to_numpy(float)
            )
            facilities = facilities.assign(
                mx=snap.xy[:, 0],
                my=snap.xy[:, 1],
                edge=snap.edge,
                fraction=snap.fraction,
                offset_m=snap.offset_m,
                to_source_m=snap.to_source_m,
                to_target_m=snap.to_target_m,
            ).reset_index(drop=True)
        else:
            facilities = None
        return cls(version, network, shelters.set_index("facility_id"), bounds, facilities)

    def require_network(self) -> RoadNetwork:
        """The network, or :class:`NoRoadNetwork` saying how to load one."""
        return require_network(self.network)


def require_network(network: RoadNetwork | None) -> RoadNetwork:
    """``network`` itself, or :class:`NoRoadNetwork` (503) saying how to load one."""
    if network is None:
        raise NoRoadNetwork(NO_NETWORK)
    return network


class OffTheRoads(AnalysisError, InvalidInput):
    """A point too far from every road to walk from: wrong coordinates or coord_type."""


def snap_near_roads(
    network: RoadNetwork,
    lon: float,
    lat: float,
    *,
    max_walk_m: float,
    bounds: tuple[float, float, float, float] | None = None,
) -> Snap:
    """Join a point to its nearest road, refusing one farther than ``max_walk_m`` from it.

    Parameters
    ----------
    network
        The walking network.
    lon, lat
        The point, degrees, EPSG:4326.
    max_walk_m
        The farthest straight walk to a road that is believed, metres (farther: the
        coordinates are wrong, most often GCJ-02 sent as WGS84).
    bounds
        ``(W, S, E, N)`` of the roads, degrees, named in the message when given.

    Returns
    -------
    Snap
        The point on the network; ``offset_m[0]`` is the straight walk to the road, metres.

    Raises
    ------
    OffTheRoads
        Saying how far the point is, which area is served and what to check.
    """
    snap = network.snap([lon], [lat])
    offset = float(np.asarray(snap.offset_m)[0])
    if offset > max_walk_m:
        served = ""
        if bounds is not None:
            w, s, e, n = bounds
            served = f" (the roads of this district, lon {w:.4f}–{e:.4f}, lat {s:.4f}–{n:.4f})"
        raise OffTheRoads(
            f"the point ({lon:.5f}, {lat:.5f}) is {offset:,.0f} m from the nearest road, "
            f"farther than {max_walk_m:,.0f} m: outside the area served{served}. Check lon/lat "
            "and coord_type (AMap and WeChat mini-programs send gcj02)."
        )
    return snap


@dataclass(frozen=True)
class SheltersNow:
    """The nearest-shelter index as the hazard areas in force leave the district.

    Attributes
    ----------
    key : tuple
        The data version and the hazards in force (ids and row versions) it was built for.
    walking : Walking
        The full walking network and every shelter.
    hazards : geopandas.GeoDataFrame
        The hazard areas in force: id, kind, name, severity, valid_from, valid_to,
        geometry (EPSG:4326); empty when none.
    area : shapely geometry or None
        Their union, EPSG:4326; None when none is in force.
    closure : HazardClosure or None
        The roads closed and the shelters set aside (None without a road network).
    index : ShelterIndex or None
        The nearest open shelter outside the hazard areas, on the roads left open; None
        when there is none (or no road network).
    shelters_inside : numpy.ndarray of int64
        Shelters (facility ids) inside a hazard area in force: never recommended.
    """

    key: tuple
    walking: Walking
    hazards: gpd.GeoDataFrame
    area: BaseGeometry | None
    closure: HazardClosure | None
    index: ShelterIndex | None
    shelters_inside: NDArray[np.int64]

    @classmethod
    def build(cls, walking: Walking, hazards: gpd.GeoDataFrame, key: tuple = ()) -> SheltersNow:
        """Close the hazards' roads and set aside their shelters (none in force: all open)."""
        geoms = np.asarray(hazards.geometry.array, dtype=object)
        area = shapely.union_all(geoms) if len(geoms) else None
        closure, index, inside = None, None, np.zeros(0, dtype=np.int64)
        found = walking.shelters
        if walking.network is not None:
            points = np.asarray(found.geometry.array, dtype=object)
            closure = close_hazard(
                walking.network,
                area,
                found.index.to_numpy(),
                shapely.get_x(points),
                shapely.get_y(points),
                is_open=found["is_open"].fillna(False).to_numpy(dtype=bool),
            )
            index = closure.shelter_index(
                capacity=found["capacity"].to_numpy(), occupancy=found["occupancy"].to_numpy()
            )
            inside = np.sort(closure.shelter_id[closure.inside])
        return cls(key, walking, hazards, area, closure, index, inside)
