"""Simulating a re-division (网格调整模拟): a candidate layout replayed beside today's grids.

The candidate is a GeoJSON layout (drawn by hand, imported) or the designer's proposal for
a community (``wangge grids design``); the history is the last months of cases and today's
registers.  The simulation itself is :func:`analysis.redivision.simulate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

import geopandas as gpd
import shapely

from analysis.network import RoadNetwork
from analysis.redivision import History, LayoutError, OnTimeModel, simulate
from api.services.grid_design import design_inputs, propose_design
from api.services.grids import UnknownCommunity
from gis import clock
from gis.errors import InvalidInput, ServiceError
from gis.settings import Settings
from gis.store import grid_store
from gis.store import redivision_store as store
from grids.access import Principal, may_see_area, require_street_staff

#: Months of history a simulation may replay.
MONTHS = (1, 36)


class SimulateInputError(ServiceError, InvalidInput):
    """A simulation asked for in a way that cannot be run (what, and how to ask)."""


@dataclass(frozen=True)
class SimulateQuery:
    """A candidate layout (GeoJSON, or the designer's for ``community``) and the months replayed."""

    layout: Mapping[str, Any] | None = None
    design: bool = False
    community: str | None = None
    months: int = 6


@dataclass(frozen=True)
class SimulationReport:
    """A candidate beside today's layout, over a period of the office's history.

    ``grids`` (both layouts, one row a grid) and ``workers`` (one row a worker, both
    layouts side by side and what would change) are the frames of
    :class:`analysis.redivision.Simulation`, limited to the candidate's area;
    ``candidate`` and ``today`` are the two layouts' polygons there.
    """

    source: str
    start: datetime
    end: datetime
    walk_basis: str
    model: OnTimeModel
    cases: int
    due: int
    grids: pd.DataFrame
    workers: pd.DataFrame
    candidate: gpd.GeoDataFrame
    today: gpd.GeoDataFrame


def layout_from_geojson(data: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """A candidate layout from a GeoJSON FeatureCollection (lon/lat, WGS84).

    Each feature is a grid: its ``key`` is the property ``key``, ``code``, ``id`` or
    ``name`` (the first present), else its position; ``worker_id`` is kept when given.

    Raises
    ------
    LayoutError
        When it is not a FeatureCollection of polygons, or a polygon is invalid.
    """
    features = data.get("features") if isinstance(data, Mapping) else None
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection" or not features:
        raise LayoutError(
            "a layout is a GeoJSON FeatureCollection with one Polygon or MultiPolygon "
            "feature a grid (lon/lat, WGS84)"
        )
    try:
        frame = gpd.GeoDataFrame.from_features(features, crs=4326)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise LayoutError(f"the layout's features cannot be read as GeoJSON: {exc}") from exc
    geoms = frame.geometry.to_numpy()
    bad = [
        i
        for i, g in enumerate(geoms)
        if g is None or g.geom_type not in ("Polygon", "MultiPolygon") or not shapely.is_valid(g)
    ]
    if bad:
        i = bad[0]
        what = "no geometry" if geoms[i] is None else shapely.is_valid_reason(geoms[i])
        raise LayoutError(
            f"{len(bad)} of {len(geoms)} features are not valid polygons (the first, feature "
            f"{i + 1}: {what}); every grid is a valid Polygon or MultiPolygon in lon/lat"
        )
    key = next((c for c in ("key", "code", "id", "name") if c in frame), None)
    keys = (
        frame[key].astype(str)
        if key is not None and frame[key].notna().all()
        else pd.Series([f"N{i + 1:03d}" for i in range(len(frame))])
    )
    out = gpd.GeoDataFrame(
        {
            "key": keys.to_numpy(),
            "name": (frame["name"].astype(str) if "name" in frame else keys).to_numpy(),
        },
        geometry=geoms,
        crs=4326,
    )
    if "worker_id" in frame:
        try:
            out["worker_id"] = pd.array(
                [None if pd.isna(w) else int(w) for w in frame["worker_id"]], dtype="Int64"
            )
        except (TypeError, ValueError) as exc:
            raise LayoutError(f"worker_id must be a grid worker's id (a number): {exc}") from exc
    return out


def _candidate(
    engine: Engine, settings: Settings, query: SimulateQuery
) -> tuple[str, gpd.GeoDataFrame]:
    if (query.layout is None) == (not query.design):
        raise SimulateInputError(
            "give one candidate: a layout (GeoJSON FeatureCollection) or design=true with a "
            "community (the designer's proposal)"
        )
    if query.layout is not None:
        return "layout", layout_from_geojson(query.layout)
    if query.community is None:
        raise SimulateInputError("design=true needs the community to design (12-digit code)")
    proposal = propose_design(
        design_inputs(engine, query.community),
        min_households=settings.grid_households_min,
        max_households=settings.grid_households_max,
    )
    grids = proposal.grids
    layout = gpd.GeoDataFrame(
        {"key": grids["code"].astype(str), "name": grids["name"].astype(str)},
        geometry=grids.geometry.to_numpy(),
        crs=4326,
    )
    return f"design of community {query.community}", layout


def simulate_layout(
    engine: Engine,
    settings: Settings,
    network: RoadNetwork | None,
    user: Principal,
    query: SimulateQuery,
) -> SimulationReport:
    """Replay the last ``months`` onto the candidate and today's layout, side by side.

    Street staff and admins only: a re-division is the street office's decision.

    Raises
    ------
    SimulateInputError, LayoutError
        For a candidate that cannot be used, or months outside 1 to 36.
    analysis.redivision.NotEnoughHistory
        When the period holds too few due cases to fit the on-time model.
    """
    require_street_staff(user, "simulate a new grid layout")
    if query.community is not None and not user.sees_everything:
        # a community of another street is not there for its staff (404, as on /grids)
        ids = grid_store.current_grids(engine, query.community)["id"].tolist()
        if not may_see_area(user, ids):
            raise UnknownCommunity(
                f"no community {query.community} in your area; pick one of your communities "
                "on /grids"
            )
    if not MONTHS[0] <= query.months <= MONTHS[1]:
        raise SimulateInputError(f"months must be {MONTHS[0]} to {MONTHS[1]}, not {query.months}")
    source, candidate = _candidate(engine, settings, query)
    end = clock.now()
    start = end - timedelta(days=round(30.44 * query.months))
    today = store.current_layout(engine)
    history = History(
        store.replay_cases(engine, start, end), store.replay_homes(engine), pd.Timestamp(end)
    )
    sim = simulate(
        history,
        today[["key", "name", "worker_id", "geometry"]],
        candidate,
        network=network,
        walk_speed_mps=settings.walk_speed_mps,
    )
    area = shapely.union_all(candidate.geometry.to_numpy())
    overlap = shapely.area(shapely.intersection(today.geometry.to_numpy(), area))
    # today's grids of the same area (a shared edge, rounded, is not an overlap)
    in_scope = today[overlap > 0.01 * shapely.area(today.geometry.to_numpy())]
    keys = set(in_scope["key"])
    grids = sim.grids[(sim.grids["layout"] == "candidate") | sim.grids["key"].isin(keys)]
    workers_here = set(grids["worker_id"].dropna().astype(int))
    workers = sim.workers[sim.workers["worker_id"].astype(int).isin(workers_here)]
    assigned = grids[grids["layout"] == "candidate"][["key", "worker_id"]]
    shown = candidate.merge(assigned, on="key", how="left", suffixes=("_given", ""))
    return SimulationReport(
        source=source,
        start=start,
        end=end,
        walk_basis="road network" if network is not None else "straight line × 1.3 (no roads)",
        model=sim.model,
        cases=sim.cases,
        due=sim.due,
        grids=grids.reset_index(drop=True),
        workers=workers.reset_index(drop=True),
        candidate=shown[["key", "name", "worker_id", "geometry"]],
        today=in_scope[["key", "name", "worker_id", "geometry"]].reset_index(drop=True),
    )
