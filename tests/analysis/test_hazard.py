"""Hazard impact: counts equal a brute-force count; routes avoid the area; bad areas say why."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon, box

from analysis.alerts import nearest_safe_shelters
from analysis.evacuation_lists import NEED_FLAGS, build_evacuation_lists
from analysis.hazard import (
    CHILD_MAX_AGE,
    HazardError,
    close_hazard,
    edges_inside,
    hazard_impact,
)
from analysis.network import RoadNetwork
from etl.sample import generate_district
from tests.factories import bowtie

YEAR = 2026


@pytest.fixture(scope="module")
def district() -> dict[str, Any]:
    d = generate_district(3000, 5, progress=False)
    grids = d["grid"].copy()
    grids["id"] = np.arange(1, len(grids) + 1)
    fac = d["facility"]
    shelters = fac[fac["id"].isin(d["shelter"]["facility_id"])].reset_index(drop=True)
    workers = d["grid_assignment"].merge(
        grids[["id", "code"]].rename(columns={"id": "grid_id", "code": "grid_code"}),
        on="grid_code",
    )
    net = RoadNetwork.from_frames(d["road_node"], d["road_edge"])
    return {**d, "grids": grids, "shelters": shelters, "workers": workers, "net": net}


def _impact(d: dict[str, Any], hazard: Any, **kw: Any):
    return hazard_impact(
        hazard,
        grids=d["grids"],
        buildings=d["building"],
        households=d["household"],
        residents=d["resident"],
        shelters=d["shelters"],
        network=d["net"],
        workers=d["workers"],
        reference_year=YEAR,
        **kw,
    )


def _metric(d: dict[str, Any]) -> tuple[Transformer, Transformer]:
    crs = d["net"].crs
    return (
        Transformer.from_crs(4326, crs, always_xy=True),
        Transformer.from_crs(crs, 4326, always_xy=True),
    )


def _tf(geom: Any, t: Transformer) -> Any:
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(*xy.T)))


def _crossing_box(d: dict[str, Any]) -> Polygon:
    """A box over the middle of the district that covers the shelter near its centre."""
    x0, y0, x1, y1 = d["grids"].total_bounds
    return box(
        x0 + (x1 - x0) * 0.3, y0 + (y1 - y0) * 0.2, x0 + (x1 - x0) * 0.7, y0 + (y1 - y0) * 0.6
    )


def test_counts_equal_a_brute_force_count(district: dict[str, Any]) -> None:
    d = district
    hz = _crossing_box(d)
    imp = _impact(d, hz)
    fwd, _ = _metric(d)
    hz_m = _tf(hz, fwd)

    # brute force, one shape at a time
    inside_b = [
        int(i)
        for i, geom in zip(d["building"]["id"], d["building"].geometry, strict=True)
        if _tf(geom, fwd).intersects(hz_m)
    ]
    assert sorted(imp.buildings.tolist()) == sorted(inside_b)
    hh = d["household"][d["household"]["building_id"].isin(inside_b)]
    assert sorted(imp.households.tolist()) == sorted(hh["id"].tolist())
    expected = {
        "residents": 0,
        "elderly_alone": 0,
        "disabled": 0,
        "mobility_impaired": 0,
        "children": 0,
    }
    hh_ids = set(hh["id"].tolist())
    for r in d["resident"].itertuples():
        if r.household_id in hh_ids:
            expected["residents"] += 1
            expected["elderly_alone"] += bool(r.living_alone_elderly)
            expected["disabled"] += bool(r.disabled)
            expected["mobility_impaired"] += bool(r.mobility_impaired)
            expected["children"] += YEAR - r.birth_year <= CHILD_MAX_AGE
    assert imp.residents_by_group == expected
    assert expected["elderly_alone"] > 0 and expected["children"] > 0

    # per grid: the grid whose polygon covers the building's point on surface
    grid_of: dict[int, int] = {}
    for b in d["building"][d["building"]["id"].isin(inside_b)].itertuples():
        pt = b.geometry.point_on_surface()
        grid_of[b.id] = next(
            int(g.id) for g in d["grids"].sort_values("code").itertuples() if g.geometry.covers(pt)
        )
    rows = imp.grids.set_index("grid_id")
    assert len(rows) >= 2  # the box crosses several grids
    for gid in set(grid_of.values()):
        n_bld = sum(1 for v in grid_of.values() if v == gid)
        assert rows.loc[gid, "buildings"] == n_bld
        n_hh = int(hh["building_id"].map(grid_of).eq(gid).sum())
        assert rows.loc[gid, "households"] == n_hh
    assert rows["residents"].sum() == expected["residents"]
    for g in d["grids"].itertuples():
        gm = _tf(g.geometry, fwd)
        share = gm.intersection(hz_m).area / gm.area
        if share > 0:
            assert rows.loc[g.id, "area_share"] == pytest.approx(share, rel=1e-9)
        else:
            assert g.id not in rows.index or rows.loc[g.id, "buildings"] > 0


def test_shelter_inside_is_unusable_and_routes_avoid_the_area(district: dict[str, Any]) -> None:
    d = district
    hz = _crossing_box(d)
    imp = _impact(d, hz)
    fwd, _ = _metric(d)
    inside = [int(s.id) for s in d["shelters"].itertuples() if hz.covers(s.geometry)]
    assert inside and imp.shelters_inside.tolist() == sorted(inside)
    assert sorted(imp.shelters_outside.tolist()) == sorted(
        set(d["shelters"]["id"].tolist()) - set(inside)
    )
    co = imp.check_on
    assert len(co) > 0 and (co["reason"] == "ok").all()
    assert not co["shelter_id"].isin(inside).any()
    assert co["worker_id"].notna().all()
    assert set(co["groups"].str.split(",").explode()) <= {
        "elderly_alone",
        "disabled",
        "mobility_impaired",
    }

    # closed edges are exactly those meeting the area
    closed = set(edges_inside(d["net"], hz).tolist())
    for eid, geom in zip(d["net"].edge_id, d["net"].edge_geometry, strict=True):
        assert (int(eid) in closed) == geom.intersects(_tf(hz, fwd))

    # every route leaves the area by the building's own walk out, then stays outside
    core = hz.buffer(-1e-6)
    shelter_at = {int(s.id): _tf(s.geometry, fwd) for s in d["shelters"].itertuples()}
    for row in co.drop_duplicates("building_id").itertuples():
        coords = np.asarray(row.route.coords)
        assert Point(coords[0]).distance(Point(row.lon, row.lat)) < 1e-7
        assert not LineString(coords[1:]).intersects(core), row.building_id
        # the walk is the route's length (edges carry geodesic lengths), at least the crow flies
        assert _tf(row.route, fwd).length == pytest.approx(row.walk_m, rel=2e-3)
        start = _tf(Point(row.lon, row.lat), fwd)
        assert row.walk_m >= start.distance(shelter_at[int(row.shelter_id)]) - 1e-6
        assert row.walk_s == pytest.approx(row.walk_m / d["net"].walk_speed_mps)


def test_a_building_enclosed_by_the_hazard_is_cut_off(district: dict[str, Any]) -> None:
    d = district
    fwd, back = _metric(d)
    sh_m = shapely.points(
        np.column_stack(fwd.transform(d["shelters"].geometry.x, d["shelters"].geometry.y))
    )
    # a building far from every shelter, enclosed by a square ring of hazard around it
    # (no shelter in the hole) with its nearest road inside the hole: an island
    b_m = _tf(np.asarray(d["building"].geometry.array), fwd)
    far = np.array([shapely.distance(b, sh_m).min() for b in b_m])
    roads = shapely.STRtree(d["net"].edge_geometry)
    chosen = None
    for b in np.argsort(-far).tolist():
        half = min(160.0, far[b] / 1.5)
        centre = b_m[b].centroid
        hole = centre.buffer(half, cap_style="square")
        road = d["net"].edge_geometry[roads.nearest(b_m[b])]
        if hole.buffer(-1).contains(road):
            chosen = b, centre, half
            break
    assert chosen is not None
    b, centre, half = chosen
    ring = centre.buffer(half + 80, cap_style="square").difference(
        centre.buffer(half, cap_style="square")
    )
    hazard_m = shapely.union_all([ring, b_m[b].buffer(3)])
    hz = _tf(hazard_m, back)
    imp = _impact(d, hz, include_children=True)
    bid = int(d["building"]["id"].iloc[b])
    rows = imp.check_on[imp.check_on["building_id"] == bid]
    assert len(rows) > 0  # with children included, this building has someone to check on
    assert (rows["reason"] == "cut_off").all()
    assert rows["route"].isna().all() and rows["shelter_id"].isna().all()


def test_no_safe_shelter_when_all_are_inside(district: dict[str, Any]) -> None:
    d = district
    x0, y0, x1, y1 = d["grids"].total_bounds
    everything = box(x0 - 0.001, y0 - 0.001, x1 + 0.001, y1 + 0.001)
    imp = _impact(d, everything, routes=False)
    assert len(imp.shelters_outside) == 0
    assert (imp.check_on["reason"] == "no_safe_shelter").all()
    assert len(imp.buildings) == len(d["building"])
    assert imp.grids["area_share"].round(9).eq(1.0).all()


@pytest.mark.parametrize(
    ("hazard", "message"),
    [
        (None, "no hazard area given"),
        (Polygon(), "empty"),
        (Point(120.09, 30.32), "not a polygon"),
        (bowtie(), "cannot be repaired"),
        (box(116.3, 39.8, 116.4, 39.9), "outside the served area"),  # Beijing
        (box(30.31, 120.08, 30.32, 120.09), "swap them"),
        (box(0, 0, 1, 1), "outside the service area"),
    ],
)
def test_bad_hazard_areas_say_what_and_how_to_fix(
    district: dict[str, Any], hazard: Any, message: str
) -> None:
    with pytest.raises(HazardError, match=message):
        _impact(district, hazard)


def test_self_touching_polygon_is_repaired_and_noted(district: dict[str, Any]) -> None:
    d = district
    x0, y0, x1, y1 = d["grids"].total_bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    s = 0.002
    # a square with a zero-width spike: invalid, and make_valid keeps its area
    spiky = Polygon(
        [
            (cx, cy),
            (cx + s, cy),
            (cx + s, cy + s),
            (cx + s, cy + 2 * s),
            (cx + s, cy + s),
            (cx, cy + s),
        ]
    )
    assert not spiky.is_valid
    imp = _impact(d, spiky, routes=False)
    assert imp.notes and "repaired" in imp.notes[0]
    assert imp.hazard.is_valid
    assert pd.Series(imp.buildings).is_unique


def test_a_gcj02_hazard_area_is_converted_first(district: dict[str, Any]) -> None:
    from gis.coords import from_wgs84

    d = district
    hz = shapely.segmentize(_crossing_box(d), 0.0002)
    gcj = shapely.transform(hz, lambda xy: np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], "gcj02")))
    assert shapely.hausdorff_distance(hz, gcj) > 0.001  # hundreds of metres apart as drawn
    as_wgs = _impact(d, hz, routes=False)
    as_gcj = _impact(d, gcj, routes=False, coord_type="gcj02")
    assert as_gcj.buildings.tolist() == as_wgs.buildings.tolist()
    assert as_gcj.residents_by_group == as_wgs.residents_by_group
    with pytest.raises(HazardError, match="unknown coordinate system"):
        _impact(d, gcj, coord_type="mars")


def test_every_door_names_the_same_safe_shelter(district: dict[str, Any]) -> None:
    """The check-on list, the alert, the resident's answer and the evacuation plan follow
    one rule (close_hazard): for each building, the same safe shelter and the same walk."""
    d = district
    hz = _crossing_box(d)
    rows = _impact(d, hz, routes=False).check_on.drop_duplicates("building_id")
    assert len(rows) > 0
    lon, lat = rows["lon"].to_numpy(), rows["lat"].to_numpy()
    sh = d["shelters"].assign(facility_id=d["shelters"]["id"], is_open=True)
    alert = nearest_safe_shelters(d["net"], hz, rows["building_id"], lon, lat, sh).frame
    closure = close_hazard(d["net"], hz, sh["id"], sh.geometry.x, sh.geometry.y)
    index = closure.shelter_index()
    assert index is not None
    resident, walk_m = index.query(lon, lat)
    households = pd.DataFrame(
        {"household_id": rows["building_id"], "building_id": rows["building_id"], "size": 1}
    ).assign(lon=lon, lat=lat, **{f: False for f in NEED_FLAGS})
    plan = build_evacuation_lists(
        d["net"],
        households,
        sh.assign(shelter_id=sh["id"], capacity=10**6)[["shelter_id", "capacity", "geometry"]],
        hazard=hz,
    )
    assert not np.isin(rows["shelter_id"], closure.shelter_id[closure.inside]).any()
    assert rows["shelter_id"].tolist() == alert["shelter_id"].tolist() == resident.tolist()
    assert plan.households["shelter_id"].tolist() == resident.tolist()
    assert plan.shelters_inside.tolist() == sorted(closure.shelter_id[closure.inside].tolist())
    np.testing.assert_allclose(rows["walk_m"], walk_m, rtol=1e-9)
    np.testing.assert_allclose(alert["distance_m"], walk_m, rtol=1e-9)
    np.testing.assert_allclose(plan.households["walk_m"], walk_m, rtol=1e-3)


def test_no_hazard_closes_nothing(district: dict[str, Any]) -> None:
    d = district
    sh = d["shelters"]
    closure = close_hazard(d["net"], None, sh["id"], sh.geometry.x, sh.geometry.y)
    assert closure.network is d["net"] and len(closure.closed_edges) == 0
    assert closure.usable.all() and not closure.inside.any()
