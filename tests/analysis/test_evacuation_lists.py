"""Road closures and per-grid evacuation lists (who goes where, who needs help, which way)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from analysis.evacuation_lists import (
    NEED_FLAGS,
    build_evacuation_lists,
    households_from_layers,
    shelters_from_layers,
)
from analysis.nearest import ShelterIndex
from analysis.network import NetworkError, RoadNetwork
from etl.sample import generate_district
from tests.analysis.test_service_area import ll, river_network

WALK = 1.2


@pytest.fixture(scope="module")
def river() -> RoadNetwork:
    return river_network()


# ---------------------------------------------------------------------- closures
def test_closing_the_only_bridge_cuts_the_shelter_off(river: RoadNetwork) -> None:
    s_lon, s_lat = ll(500, 60)  # the shelter, north of the canal
    index = ShelterIndex.build(river, [1], [s_lon], [s_lat])
    lon, lat = ll(500, -10)  # a household south of it, 70 m away as the crow flies
    sid, dist = index.query([lon], [lat])
    assert sid[0] == 1
    assert dist[0] == pytest.approx(10 + 500 + 50 + 500 + 10, abs=0.5)

    closed = river.without_edges([999])
    assert closed.n_nodes == river.n_nodes
    assert np.array_equal(closed.node_id, river.node_id)
    assert np.array_equal(closed.node_xy, river.node_xy)
    assert closed.n_edges == river.n_edges - 1 and 999 not in closed.edge_id
    assert river.n_edges == 21  # the original is untouched
    sid, dist = ShelterIndex.build(closed, [1], [s_lon], [s_lat]).query([lon], [lat])
    assert sid[0] == -1 and np.isinf(dist[0])
    # the shelter's own bank still reaches it
    sid, _ = ShelterIndex.build(closed, [1], [s_lon], [s_lat]).query(*ll(0, 60))
    assert sid[0] == 1


def test_closing_unknown_edges_is_refused(river: RoadNetwork) -> None:
    with pytest.raises(NetworkError, match="unknown"):
        river.without_edges([12345])
    same = river.without_edges([])
    assert same.n_edges == river.n_edges


def test_closure_only_lengthens_walks_on_the_sample_district() -> None:
    d = generate_district(3000, 7, progress=False)
    net = RoadNetwork.from_frames(d["road_node"], d["road_edge"])
    sh = shelters_from_layers(d["facility"], d["shelter"])
    pts = np.asarray(sh.geometry.array)
    args = (sh["shelter_id"].to_numpy(), shapely.get_x(pts), shapely.get_y(pts))
    before = ShelterIndex.build(net, *args)
    # close a tenth of the streets (not those the shelters stand on, which would move them)
    rng = np.random.default_rng(3)
    free = np.setdiff1d(np.arange(net.n_edges), before.shelter_snap.edge)
    closed_ids = net.edge_id[rng.choice(free, size=net.n_edges // 10, replace=False)]
    t = time.perf_counter()
    after = ShelterIndex.build(net.without_edges(closed_ids), *args)
    print(f"closure recompute on 3000 households: {time.perf_counter() - t:.3f} s")
    assert np.all(after.node_distance_m >= before.node_distance_m - 1e-6)
    assert np.any(after.node_distance_m > before.node_distance_m + 1.0)
    # the driving graph follows the closure too
    assert after.network.drive_graph.nnz < net.drive_graph.nnz


# ---------------------------------------------------------------------- tiny case
def _tiny_inputs(
    cap_south: int, cap_north: int, north_fixed: bool = False
) -> tuple[pd.DataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    south = shapely.box(*ll(-100, -100), *ll(1100, 25))
    north = shapely.box(*ll(-100, 25), *ll(1100, 150))
    households = pd.DataFrame(
        {
            "household_id": [11, 12, 13],
            "building_id": [1, 2, 3],
            "size": [2, 2, 1],
            "lon": [ll(100, -10)[0], ll(200, -10)[0], ll(100, 60)[0]],
            "lat": [ll(100, -10)[1], ll(200, -10)[1], ll(100, 60)[1]],
            "living_alone_elderly": [False, False, False],
            "disabled": [True, False, False],
            "mobility_impaired": [False, False, False],
            "help_resident_ids": [(101,), (), ()],
        }
    )
    shelters = gpd.GeoDataFrame(
        {
            "shelter_id": [1, 2],
            "capacity": [cap_south, cap_north],
            "shelter_class": ["emergency", "fixed" if north_fixed else "emergency"],
            "zone": [None, north],
        },
        geometry=[shapely.Point(ll(300, -10)), shapely.Point(ll(300, 60))],
        crs=4326,
    )
    grids = gpd.GeoDataFrame({"code": ["N", "S"]}, geometry=[north, south], crs=4326)
    return households, shelters, grids


def test_tiny_case_special_needs_first_and_the_long_way_round(river: RoadNetwork) -> None:
    households, shelters, grids = _tiny_inputs(3, 10)
    lists = build_evacuation_lists(river, households, shelters, grids)
    t = lists.households.set_index("household_id")
    # the disabled resident's household takes 2 of the 3 southern places, nearest
    assert t.loc[11, "shelter_id"] == 1
    assert t.loc[11, "walk_m"] == pytest.approx(10 + 200 + 10, abs=0.5)
    assert t.loc[11, "walk_minutes"] == pytest.approx(220 / WALK / 60, abs=0.01)
    # the other southern household does not fit: over the bridge to the north shelter
    assert t.loc[12, "shelter_id"] == 2
    assert t.loc[12, "walk_m"] == pytest.approx(10 + 800 + 50 + 700 + 10, abs=0.5)
    assert t.loc[13, "shelter_id"] == 2
    assert lists.unassigned_population == 0
    assert lists.grids == ["N", "S"]

    south = lists.grid_list("S")
    assert south["household_id"].tolist() == [11, 12]  # needs help first
    assert south["needs_help"].tolist() == [True, False]
    assert south["disabled"].tolist() == [True, False]
    assert south["help_resident_ids"].iloc[0] == (101,)
    assert south.crs.to_epsg() == 4326
    route = south.geometry.iloc[1]
    assert shapely.Point(route.coords[0]).distance(shapely.Point(ll(200, -10))) < 1e-9
    assert shapely.Point(route.coords[-1]).distance(shapely.Point(ll(300, 60))) < 1e-9
    # the route crosses at the bridge, x = 1000 m
    xmax = max(ll(1000, 0)[0], ll(1000, 50)[0])
    assert max(x for x, _ in route.coords) == pytest.approx(xmax, abs=1e-7)
    assert lists.grid_list("N")["household_id"].tolist() == [13]


def test_tiny_case_shortage_zones_and_gb51143(river: RoadNetwork) -> None:
    households, shelters, grids = _tiny_inputs(3, 0, north_fixed=True)
    lists = build_evacuation_lists(river, households, shelters, grids)
    t = lists.households.set_index("household_id")
    assert t.loc[11, "shelter_id"] == 1
    assert t.loc[12, "shelter_id"] == -1 and t.loc[12, "status"] == "no_capacity"
    assert np.isnan(t.loc[12, "walk_minutes"])
    # the northern household takes the last southern place, over the bridge
    assert t.loc[13, "shelter_id"] == 1
    assert t.loc[13, "walk_m"] == pytest.approx(10 + 900 + 50 + 700 + 10, abs=0.5)
    assert lists.unassigned_population == 2
    # the fixed northern shelter holds 0 of its zone's 1 resident: below 15 %
    assert lists.gb51143_short == [2]
    row = lists.shelters.set_index("shelter_id").loc[2]
    assert row["fixed"] and row["zone_population"] == 1
    assert lists.grid_list("S").geometry.iloc[1] is None  # no route when unassigned

    # the southern household may not use the fixed northern shelter (not its zone)
    households, shelters, grids = _tiny_inputs(3, 10, north_fixed=True)
    t = build_evacuation_lists(river, households, shelters, grids).households
    t = t.set_index("household_id")
    assert t.loc[12, "shelter_id"] == -1 and t.loc[13, "shelter_id"] == 2


def test_after_the_bridge_closes_nobody_crosses(river: RoadNetwork) -> None:
    households, shelters, grids = _tiny_inputs(3, 10)
    lists = build_evacuation_lists(river.without_edges([999]), households, shelters, grids)
    t = lists.households.set_index("household_id")
    assert t.loc[12, "shelter_id"] == -1 and t.loc[12, "status"] == "no_capacity"
    assert t.loc[13, "shelter_id"] == 2


# ---------------------------------------------------------------------- sample district
@pytest.fixture(scope="module")
def district() -> dict[str, Any]:
    return generate_district(3000, 7, progress=False)


def _lists(district: dict[str, Any], share: float | None = None) -> Any:
    net = RoadNetwork.from_frames(district["road_node"], district["road_edge"])
    hh = households_from_layers(district["building"], district["household"], district["resident"])
    sh = shelters_from_layers(district["facility"], district["shelter"])
    if share is not None:
        total = int(hh["size"].sum())
        sh["capacity"] = np.full(len(sh), int(share * total / len(sh)))
    return build_evacuation_lists(net, hh, sh, district["grid"])


def test_district_lists_capacity_and_grids(district: dict[str, Any]) -> None:
    lists = _lists(district)
    plan = lists.plan
    assert np.all(plan.load <= plan.capacity)
    t = lists.households
    assert len(t) == len(district["household"])
    assert "name" not in t.columns and "phone" not in t.columns
    assert "id_number" not in t.columns
    grid_geom = district["grid"].set_index("code").geometry
    total = 0
    for code, rows in lists.grid_lists(routes=False).items():
        total += len(rows)
        pts = shapely.points(rows["lon"].to_numpy(), rows["lat"].to_numpy())
        assert shapely.covers(grid_geom[code], pts).all(), code
        help_ = rows["needs_help"].to_numpy(bool)
        assert not np.any(~help_[:-1] & help_[1:]), "needs help first"
    assert total == int(t["grid"].notna().sum()) == len(t)
    # loads agree with the table
    load = t[t["shelter_id"] >= 0].groupby("shelter_id")["size"].sum()
    s = lists.shelters.set_index("shelter_id")
    assert (load.reindex(s.index, fill_value=0) == s["load"]).all()


def test_district_routes_are_the_walks(district: dict[str, Any]) -> None:
    lists = _lists(district)
    code = lists.grids[0]
    rows = lists.grid_list(code)
    net = lists.distances.network
    for _, r in rows.head(20).iterrows():
        if r["shelter_id"] < 0:
            continue
        metric = shapely.transform(
            r.geometry,
            lambda xy: net.to_metric(xy[:, 0], xy[:, 1]),
        )
        # route length in the local metric CRS vs the geodesic edge lengths: within 0.5 %
        assert metric.length == pytest.approx(r["walk_m"], rel=5e-3, abs=1.0)
        assert (
            shapely.Point(r.geometry.coords[0]).distance(shapely.Point(r["lon"], r["lat"])) < 1e-9
        )


def test_district_short_capacity_special_needs_first(district: dict[str, Any]) -> None:
    lists = _lists(district, share=0.3)
    plan = lists.plan
    assert np.all(plan.load <= plan.capacity)
    assert lists.unassigned_population > 0
    assert plan.special_needs.any()
    assert plan.special_needs_unassigned_population == 0
    t = lists.households
    assert set(t.loc[t["shelter_id"] < 0, "status"]) <= {"no_capacity", "no_candidate"}
    assert int(t.loc[t["shelter_id"] < 0, "size"].sum()) == lists.unassigned_population


def test_flags_cover_gb_51143_needs(district: dict[str, Any]) -> None:
    hh = households_from_layers(district["building"], district["household"], district["resident"])
    res = district["resident"]
    for f in NEED_FLAGS:
        flagged = set(res.loc[res[f].astype(bool), "household_id"])
        assert flagged == set(hh.loc[hh[f], "household_id"])
    n_help = sum(len(x) for x in hh["help_resident_ids"])
    assert n_help == int(res[list(NEED_FLAGS)].astype(bool).any(axis=1).sum())
