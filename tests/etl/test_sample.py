"""The sample district generator: contract, determinism, geometry, population, network."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from etl.sample import DEFAULT_END, LAYERS, generate_district
from gis import clock
from gis.db.models import (
    ADMIN_LEVELS,
    BUILDING_USES,
    FACILITY_KINDS,
    INCIDENT_SOURCES,
    INCIDENT_STATES,
    ROAD_CLASSES,
    ROLES,
    SHELTER_CLASSES,
)
from grids.categories import CATEGORY_BY_CODE

METRIC = "EPSG:32651"

# the layer contract with the database loader: column → dtype ("geometry" for geometry)
STR = "str"
CONTRACT: dict[str, dict[str, str]] = {
    "admin_area": {"code": STR, "name": STR, "level": STR, "parent_code": STR},
    "grid": {"code": STR, "name": STR, "community_code": STR, "kind": STR},
    "building": {
        "id": "int64",
        "name": STR,
        "estate_code": STR,
        "use": STR,
        "floors": "int64",
        "units": "int64",
    },
    "household": {
        "id": "int64",
        "building_id": "int64",
        "unit": "int64",
        "room": STR,
        "size": "int64",
    },
    "resident": {
        "id": "int64",
        "household_id": "int64",
        "birth_year": "int64",
        "sex": STR,
        "living_alone_elderly": "bool",
        "disabled": "bool",
        "mobility_impaired": "bool",
        "low_income": "bool",
        "name": STR,
        "id_number": STR,
        "phone": STR,
    },
    "facility": {"id": "int64", "kind": STR, "name": STR, "capacity": "int64"},
    "shelter": {
        "facility_id": "int64",
        "shelter_class": STR,
        "area_m2": "float64",
        "occupancy": "int64",
    },
    "road_node": {"id": "int64"},
    "road_edge": {
        "id": "int64",
        "source": "int64",
        "target": "int64",
        "name": STR,
        "road_class": STR,
        "length_m": "float64",
        "walkable": "bool",
        "drivable": "bool",
        "oneway": "bool",
        "walk_speed_mps": "float64",
        "drive_speed_kmh": "float64",
    },
    "app_user": {"username": STR, "display_name": STR, "role": STR, "area_code": STR},
    "grid_worker": {
        "id": "int64",
        "username": STR,
        "name": STR,
        "phone": STR,
        "on_duty": "bool",
        "max_open_tasks": "int64",
    },
    "grid_assignment": {"worker_id": "int64", "grid_code": STR, "role": STR},
    "incident": {
        "id": "int64",
        "category_code": STR,
        "source": STR,
        "description": STR,
        "state": STR,
        "reported_at": "datetime64[ns, Asia/Shanghai]",
        "deadline": "datetime64[ns, Asia/Shanghai]",
        "closed_at": "datetime64[ns, Asia/Shanghai]",
        "assignee_id": "Int64",
        "reporter_username": STR,
        "rating": "Int64",
    },
    "incident_event": {
        "incident_id": "int64",
        "from_state": STR,
        "to_state": STR,
        "at": "datetime64[ns, Asia/Shanghai]",
        "actor": STR,
        "note": STR,
    },
}
GEOMETRY = {
    "admin_area": "MultiPolygon",
    "grid": "MultiPolygon",
    "building": "Polygon",
    "facility": "Point",
    "shelter": "MultiPolygon",
    "road_node": "Point",
    "road_edge": "LineString",
    "incident": "Point",
}
TRANSITIONS = {
    (None, "reported"),
    ("reported", "registered"),
    ("reported", "rejected"),
    ("registered", "dispatched"),
    ("dispatched", "in_progress"),
    ("in_progress", "escalated"),
    ("escalated", "resolved"),
    ("in_progress", "resolved"),
    ("resolved", "returned"),
    ("returned", "in_progress"),
    ("resolved", "verified"),
    ("verified", "closed"),
    ("closed", "rated"),
}


@pytest.fixture(scope="module")
def district() -> dict[str, pd.DataFrame]:
    return generate_district(20_000, progress=False, end=DEFAULT_END)


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    return generate_district(2_000, seed=7, progress=False, end=DEFAULT_END)


def connected_components(n: int, src: np.ndarray, dst: np.ndarray) -> int:
    """Number of connected components (scipy when installed, else label propagation)."""
    try:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components as cc
    except ImportError:
        label = np.arange(n)
        while True:
            low = np.minimum(label[src], label[dst])
            new = label.copy()
            np.minimum.at(new, src, low)
            np.minimum.at(new, dst, low)
            new = new[new]  # pointer jumping
            if np.array_equal(new, label):
                return len(np.unique(label))
            label = new
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    return int(cc(graph, directed=False)[0])


def metric(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
    return gdf.geometry.to_crs(METRIC)


# ---------------------------------------------------------------------- contract


@pytest.mark.parametrize("name", ["district", "small"])
def test_contract_columns_and_dtypes(name: str, request: pytest.FixtureRequest) -> None:
    layers = request.getfixturevalue(name)
    assert list(layers) == list(LAYERS)
    for layer, columns in CONTRACT.items():
        frame = layers[layer]
        expected = list(columns) + (["geometry"] if layer in GEOMETRY else [])
        assert list(frame.columns) == expected, layer
        for column, dtype in columns.items():
            assert str(frame[column].dtype) == dtype, (layer, column, frame[column].dtype)
        if layer in GEOMETRY:
            assert isinstance(frame, gpd.GeoDataFrame)
            assert frame.crs.to_epsg() == 4326
            assert frame.geometry.name == "geometry"
            assert set(frame.geom_type) == {GEOMETRY[layer]}, layer
            assert shapely.is_valid(frame.geometry.values).all(), layer
            assert not frame.geometry.is_empty.any(), layer
        else:
            assert not isinstance(frame, gpd.GeoDataFrame), layer
        assert len(frame) > 0, layer


def test_exact_household_count(district: dict, small: dict) -> None:
    assert len(district["household"]) == 20_000
    assert len(small["household"]) == 2_000
    tiny = generate_district(150, seed=3, progress=False, incidents_per_household=0.1)
    assert len(tiny["household"]) == 150
    assert len(tiny["grid"]) == 1


def test_determinism() -> None:
    a = generate_district(2_500, seed=11, progress=False, end=DEFAULT_END)
    b = generate_district(2_500, seed=11, progress=False, end=DEFAULT_END)
    c = generate_district(2_500, seed=12, progress=False, end=DEFAULT_END)
    for name in LAYERS:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)
    assert not a["resident"]["name"].equals(c["resident"]["name"])
    assert len(a["building"]) != len(c["building"]) or not (
        a["building"].geometry.values.geom_equals(c["building"].geometry.values).all()
    )


def test_the_window_ends_at_the_clock_by_default() -> None:
    at = datetime(2031, 7, 9, 14, 25, tzinfo=UTC)
    with clock.frozen(at):
        inc = generate_district(150, seed=3, progress=False, incidents_per_household=0.5)[
            "incident"
        ]
    end = pd.Timestamp(at).tz_convert("Asia/Shanghai").floor("h")
    assert inc["reported_at"].max() < end
    assert inc["reported_at"].max() > end - pd.Timedelta(days=7)


def test_end_moves_the_incident_window() -> None:
    end = pd.Timestamp("2025-03-01 12:00", tz="Asia/Shanghai")
    layers = generate_district(2_000, progress=False, end=end.to_pydatetime(), months=2)
    inc = layers["incident"]
    assert inc["reported_at"].max() < end
    assert inc["reported_at"].min() >= end - pd.DateOffset(months=2)
    assert len(inc) == 600


def test_unique_ids_and_foreign_keys(district: dict) -> None:
    d = district
    for layer, key in [
        ("building", "id"),
        ("household", "id"),
        ("resident", "id"),
        ("facility", "id"),
        ("road_node", "id"),
        ("road_edge", "id"),
        ("grid_worker", "id"),
        ("incident", "id"),
        ("admin_area", "code"),
        ("grid", "code"),
        ("app_user", "username"),
        ("shelter", "facility_id"),
        ("resident", "id_number"),
    ]:
        assert d[layer][key].is_unique, (layer, key)
        assert d[layer][key].notna().all(), (layer, key)
    admin = d["admin_area"].set_index("code")
    estates = admin.index[admin["level"] == "estate"]
    communities = admin.index[admin["level"] == "community"]
    assert d["building"]["estate_code"].isin(estates).all()
    assert d["household"]["building_id"].isin(d["building"]["id"]).all()
    assert d["resident"]["household_id"].isin(d["household"]["id"]).all()
    assert d["grid"]["community_code"].isin(communities).all()
    assert d["road_edge"]["source"].isin(d["road_node"]["id"]).all()
    assert d["road_edge"]["target"].isin(d["road_node"]["id"]).all()
    assert d["grid_worker"]["username"].isin(d["app_user"]["username"]).all()
    assert d["grid_assignment"]["worker_id"].isin(d["grid_worker"]["id"]).all()
    assert d["grid_assignment"]["grid_code"].isin(d["grid"]["code"]).all()
    inc = d["incident"]
    assert inc["category_code"].isin(list(CATEGORY_BY_CODE)).all()
    assert inc["assignee_id"].dropna().isin(d["grid_worker"]["id"]).all()
    assert inc["reporter_username"].dropna().isin(d["app_user"]["username"]).all()
    events = d["incident_event"]
    assert events["incident_id"].isin(inc["id"]).all()
    users = set(d["app_user"]["username"]) | {"system"}
    assert events["actor"].isin(users).all()
    # household rooms are unique per building and unit, units within the building's
    hh = d["household"].merge(d["building"][["id", "units"]], left_on="building_id", right_on="id")
    assert not hh.duplicated(["building_id", "unit", "room"]).any()
    assert hh["unit"].between(1, hh["units"]).all()
    assert hh["room"].str.fullmatch(r"[1-9][0-9]?0[1-4]").all()
    # residents per household equal its size, and sizes are positive
    assert (d["household"]["size"] >= 1).all()
    counts = d["resident"]["household_id"].value_counts()
    sizes = d["household"].set_index("id")["size"]
    assert counts.reindex(sizes.index).eq(sizes).all()


def test_value_sets(district: dict) -> None:
    d = district
    # one district: every level from it down, no province or city above it
    assert set(d["admin_area"]["level"]) == set(ADMIN_LEVELS) - {"province", "city"}
    assert set(d["building"]["use"]) <= set(BUILDING_USES)
    # every kind but pharmacies (药店 come from OpenStreetMap or the office's register)
    assert set(d["facility"]["kind"]) == set(FACILITY_KINDS) - {"pharmacy"}
    assert set(d["shelter"]["shelter_class"]) <= set(SHELTER_CLASSES)
    assert set(d["road_edge"]["road_class"]) == set(ROAD_CLASSES) - {"footway"}
    # a district's own users: no district or city staff (they come with a city)
    assert set(d["app_user"]["role"]) == set(ROLES) - {"district_staff", "city_staff"}
    assert set(d["incident"]["source"]) == set(INCIDENT_SOURCES)
    assert set(d["incident"]["state"]) <= set(INCIDENT_STATES)
    assert set(d["grid"]["kind"]) == {"base"}
    assert set(d["resident"]["sex"]) == {"M", "F"}
    assert d["app_user"]["username"].map(str.isascii).all()
    assert (d["building"]["floors"].between(1, 200)).all()
    assert (d["building"]["units"].between(1, 100)).all()


# ------------------------------------------------------------------- admin, grids


def test_admin_hierarchy_and_codes(district: dict) -> None:
    admin = district["admin_area"]
    district_row = admin[admin["level"] == "district"]
    assert district_row[["code", "name"]].values.tolist() == [["330106", "西湖区"]]
    assert district_row["parent_code"].isna().all()
    streets = admin[admin["level"] == "street"]
    assert streets.iloc[0][["code", "name"]].tolist() == ["330106109", "三墩镇"]
    assert streets["code"].str.fullmatch(r"330106\d{3}").all()
    comms = admin[admin["level"] == "community"]
    assert comms["code"].str.fullmatch(r"330106\d{6}").all()
    assert comms["name"].str.endswith("社区").all()
    assert (comms["code"].str[:9] == comms["parent_code"]).all()
    estates = admin[admin["level"] == "estate"]
    assert estates["code"].str.fullmatch(r"330106\d{6}E\d{2}").all()
    assert (estates["code"].str[:12] == estates["parent_code"]).all()
    assert (streets["parent_code"] == "330106").all()
    # around 9 estates per community, ~1,900 households per community
    assert 7 <= len(estates) / len(comms) <= 9
    assert 1_200 <= 20_000 / len(comms) <= 2_600
    # children lie inside their parents and the district covers everything
    geom = admin.set_index("code").geometry.to_crs(METRIC)
    child = geom.loc[admin["code"].iloc[1:]].buffer(-0.01)
    parent = geom.loc[admin["parent_code"].iloc[1:]].values
    assert child.within(gpd.GeoSeries(parent, index=child.index, crs=METRIC)).all()
    area = comms.to_crs(METRIC).area
    assert area.between(20e4, 45e4).all()  # about 30 ha each
    # near 三墩, Hangzhou
    c = district_row.geometry.iloc[0].centroid
    assert abs(c.x - 120.09) < 0.05
    assert abs(c.y - 30.32) < 0.05


def test_grids_tile_their_community(district: dict) -> None:
    admin = district["admin_area"]
    comms = admin[admin["level"] == "community"].set_index("code").to_crs(METRIC)
    grids = district["grid"].to_crs(METRIC)
    assert grids["code"].str.fullmatch(r"\d{15}").all()
    assert (grids["code"].str[:12] == grids["community_code"]).all()
    for code, group in grids.groupby("community_code"):
        community = comms.geometry.loc[code]
        union = shapely.union_all(group.geometry.values)
        assert abs(union.area - community.area) / community.area < 1e-4
        assert union.symmetric_difference(community).area < 1.0
        geoms = group.geometry.values
        for i in range(len(geoms)):
            for j in range(i + 1, len(geoms)):
                assert geoms[i].intersection(geoms[j]).area < 1.0
        # sequence numbers run 1..n, the first in the north, the last in the south
        seq = group["code"].str[12:].astype(int).sort_values()
        assert seq.tolist() == list(range(1, len(group) + 1))
        ordered = group.set_index(group["code"].str[12:].astype(int)).sort_index()
        assert ordered.geometry.iloc[0].centroid.y >= ordered.geometry.iloc[-1].centroid.y
        names = group["name"].tolist()
        assert all(re.fullmatch(r".+社区第\d+网格", n) for n in names)


def households_per_grid(layers: dict) -> pd.Series:
    buildings = layers["building"][["id", "geometry"]].copy()
    buildings["geometry"] = buildings.geometry.representative_point()
    located = gpd.sjoin(buildings, layers["grid"][["code", "geometry"]], predicate="within")
    assert located["id"].is_unique
    hh = layers["household"].merge(located[["id", "code"]], left_on="building_id", right_on="id")
    assert len(hh) == len(layers["household"])
    return hh.groupby("code").size().reindex(layers["grid"]["code"], fill_value=0)


def test_households_per_grid_in_band(district: dict) -> None:
    counts = households_per_grid(district)
    assert counts.between(300, 500).all(), counts.describe()
    assert 370 <= counts.mean() <= 430


# ------------------------------------------------------------------------ geometry


def test_everything_near_sanduo_in_wgs84(district: dict) -> None:
    for name in GEOMETRY:
        minx, miny, maxx, maxy = district[name].total_bounds
        assert minx > 119.9 and maxx < 120.3, name
        assert miny > 30.15 and maxy < 30.5, name


def test_buildings_inside_estates_apart_from_each_other_and_roads(district: dict) -> None:
    admin = district["admin_area"].set_index("code").to_crs(METRIC)
    buildings = district["building"].to_crs(METRIC)
    estate = gpd.GeoSeries(
        admin.geometry.loc[buildings["estate_code"]].values, index=buildings.index, crs=METRIC
    )
    assert buildings.geometry.within(estate).all()
    tree = shapely.STRtree(buildings.geometry.values)
    left, right = tree.query(buildings.geometry.values, predicate="intersects")
    assert (left == right).all()
    roads = district["road_edge"].to_crs(METRIC).geometry.values
    hits = tree.query(roads, predicate="dwithin", distance=2.0)
    assert hits.size == 0
    # slab blocks and towers in plausible sizes
    area = buildings.area
    assert area.between(200, 1_500).all()
    res = buildings[buildings["use"].isin(["residential", "mixed"])]
    assert res["floors"].between(5, 33).all()
    assert res["name"].str.fullmatch(r".+\d+幢").all()


def test_facilities(district: dict) -> None:
    fac = district["facility"]
    admin = district["admin_area"]
    n_comm = (admin["level"] == "community").sum()
    counts = fac["kind"].value_counts()
    assert counts["community_centre"] == counts["clinic"] == counts["park"] == n_comm
    assert 1 <= counts["school"] <= n_comm / 2
    assert n_comm / 4 <= counts["elder_care"] <= n_comm * 0.8
    outline = admin[admin["level"] == "district"].geometry.iloc[0]
    assert fac.geometry.within(outline).all()
    hits = shapely.STRtree(district["building"].geometry.values).query(
        fac.geometry.values, predicate="intersects"
    )
    assert hits.size == 0
    assert (fac["capacity"] > 0).all()


def test_shelters(district: dict) -> None:
    fac = district["facility"].set_index("id")
    shelters = district["shelter"]
    shelter_ids = fac.index[fac["kind"] == "shelter"]
    assert sorted(shelters["facility_id"]) == sorted(shelter_ids)
    assert (shelters["occupancy"] == 0).all()
    admin = district["admin_area"]
    n_comm = (admin["level"] == "community").sum()
    emergency = shelters[shelters["shelter_class"] == "emergency"]
    fixed = shelters[shelters["shelter_class"] == "fixed"]
    assert len(emergency) == n_comm
    assert 1 <= len(fixed) <= n_comm / 3
    cap = fac.loc[shelters["facility_id"], "capacity"].to_numpy()
    assert np.all(cap[shelters["shelter_class"] == "emergency"] >= 1_000)
    assert np.all(cap[shelters["shelter_class"] == "emergency"] <= 3_000)
    assert np.all(cap[shelters["shelter_class"] == "fixed"] >= 3_000)
    assert np.all(cap[shelters["shelter_class"] == "fixed"] <= 10_000)
    # responsibility zones: fixed zones tile the district; each shelter lies in its zone
    zones = shelters.to_crs(METRIC)
    district_area = admin[admin["level"] == "district"].to_crs(METRIC).area.iloc[0]
    assert zones[zones["shelter_class"] == "fixed"].area.sum() == pytest.approx(district_area)
    points = fac.loc[shelters["facility_id"]].geometry.to_crs(METRIC).values
    assert shapely.within(points, zones.geometry.values).all()


# ------------------------------------------------------------------------- people


def census_age(resident: pd.DataFrame) -> pd.Series:
    born = pd.to_datetime(resident["id_number"].str[6:14], format="%Y%m%d")
    ref = DEFAULT_END.tz_localize(None)
    before = (born.dt.month > ref.month) | ((born.dt.month == ref.month) & (born.dt.day > ref.day))
    age = ref.year - born.dt.year - before.astype(int)
    assert (born.dt.year == resident["birth_year"]).all()
    return age


def test_population_structure(district: dict) -> None:
    r, h = district["resident"], district["household"]
    age = census_age(r)
    assert (age >= 0).all()
    assert abs((age < 15).mean() - 0.1795) < 0.015
    assert abs((age >= 60).mean() - 0.187) < 0.015
    assert abs((age >= 65).mean() - 0.135) < 0.015
    ratio = (r["sex"] == "M").sum() / (r["sex"] == "F").sum() * 100
    assert 101 <= ratio <= 109
    assert 2.5 <= h["size"].mean() <= 2.7
    assert 0.2 <= (h["size"] == 1).mean() <= 0.3
    # vulnerability
    assert 0.045 <= r["disabled"].mean() <= 0.075
    assert 0.01 <= r["mobility_impaired"].mean() <= 0.03
    assert (age[r["mobility_impaired"]] >= 75).mean() > 0.5
    assert r.loc[age >= 75, "disabled"].mean() > 2 * r.loc[age < 60, "disabled"].mean()
    assert 0.01 <= r["low_income"].mean() <= 0.03
    # 低保 is granted per household
    assert r.groupby("household_id")["low_income"].nunique().max() == 1
    # living alone when elderly: 60+ and the only member
    size = r["household_id"].map(h.set_index("id")["size"])
    assert r["living_alone_elderly"].equals((size == 1) & (age >= 60))


def test_households_are_coherent(district: dict) -> None:
    r = district["resident"].assign(age=census_age(district["resident"]))
    kids = r[r["age"] < 15]
    adults = r[r["age"] >= 20].groupby("household_id")["age"].max()
    # every child under 15 lives with someone at least 20 years older
    assert (adults.reindex(kids["household_id"]).to_numpy() >= kids["age"].to_numpy() + 20).all()


def test_identity_numbers(district: dict) -> None:
    r = district["resident"]
    ids = r["id_number"]
    assert ids.str.fullmatch(r"330106(19|20)\d{9}[0-9X]").all()
    assert ids.is_unique
    digits = np.array([list(map(int, s[:17])) for s in ids.to_numpy()])
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    check = (12 - (digits @ weights) % 11) % 11
    expected = np.where(check == 10, "X", check.astype(str))
    assert (ids.str[17].to_numpy() == expected).all()
    odd = digits[:, 16] % 2 == 1
    assert ((r["sex"] == "M").to_numpy() == odd).all()
    assert pd.to_datetime(ids.str[6:14], format="%Y%m%d").notna().all()
    assert r["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert r["name"].str.fullmatch(r"[\u4e00-\u9fff]{2,3}").all()


def test_people_at_work(district: dict) -> None:
    users = district["app_user"]
    workers = district["grid_worker"]
    grids = district["grid"]
    admin = district["admin_area"]
    assert (users["role"] == "admin").sum() == 1
    assert users.loc[users["username"] == "admin", "area_code"].isna().all()
    street_codes = admin.loc[admin["level"] == "street", "code"]
    staff = users[users["role"] == "street_staff"]
    assert sorted(staff["area_code"]) == sorted(street_codes)
    cs = users[users["role"] == "community_staff"]
    per_comm = cs["area_code"].value_counts()
    assert per_comm.index.isin(admin.loc[admin["level"] == "community", "code"]).all()
    assert per_comm.between(1, 2).all()
    assert len(per_comm) == (admin["level"] == "community").sum()
    assert users.loc[users["role"] == "grid_worker", "area_code"].isna().all()
    assert 24 <= (users["role"] == "resident").sum() <= 100
    assert len(workers) == len(grids)
    assert 0.85 <= workers["on_duty"].mean() <= 1.0
    assert (workers["max_open_tasks"] == 20).all()
    a = district["grid_assignment"]
    assert a.groupby("grid_code")["role"].value_counts().unstack().eq(1).all().all()
    primary = a[a["role"] == "primary"]
    assert primary["worker_id"].is_unique
    backup = a[a["role"] == "backup"].merge(
        primary, on="worker_id", suffixes=("", "_own")
    )  # the backup's own grid
    assert len(backup) == len(grids)
    assert (backup["grid_code"] != backup["grid_code_own"]).all()
    assert (backup["grid_code"].str[:12] == backup["grid_code_own"].str[:12]).all()
    neighbours = grids.set_index("code").geometry.to_crs(METRIC)
    gap = neighbours.loc[backup["grid_code"]].values.distance(
        neighbours.loc[backup["grid_code_own"]].values
    )
    assert (gap < 1.0).all()


# -------------------------------------------------------------------------- roads


def test_road_network(district: dict) -> None:
    nodes, edges = district["road_node"], district["road_edge"]
    index = pd.Series(np.arange(len(nodes)), index=nodes["id"])
    src = index.loc[edges["source"]].to_numpy()
    dst = index.loc[edges["target"]].to_numpy()
    assert connected_components(len(nodes), src, dst) == 1
    # every node is used and every edge runs from its source point to its target point
    assert np.isin(np.arange(len(nodes)), np.r_[src, dst]).all()
    coords = shapely.get_coordinates(edges.geometry.values).reshape(len(edges), 2, 2)
    node_xy = shapely.get_coordinates(nodes.geometry.values)
    assert np.array_equal(coords[:, 0], node_xy[src])
    assert np.array_equal(coords[:, 1], node_xy[dst])
    # planar: two edges meet only at a node they share
    geoms = edges.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    shared = (
        (src[left] == src[right])
        | (src[left] == dst[right])
        | (dst[left] == src[right])
        | (dst[left] == dst[right])
    )
    assert shared[pairs].all()
    meet = shapely.intersection(geoms[left[pairs]], geoms[right[pairs]])
    assert (shapely.get_type_id(meet) == 0).all()  # a single point
    # lengths, classes, speeds
    metric_len = edges.geometry.to_crs(METRIC).length
    assert np.allclose(edges["length_m"], metric_len, rtol=2e-3)
    assert (edges["length_m"] > 0).all()
    speeds = edges.groupby("road_class")["drive_speed_kmh"].unique()
    assert speeds.to_dict() == {"arterial": [50.0], "branch": [30.0], "lane": [15.0]}
    assert (edges["walk_speed_mps"] == 1.2).all()
    assert edges["walkable"].all()
    named = edges["road_class"] != "lane"
    assert edges.loc[named, "name"].str.fullmatch(r"[\u4e00-\u9fff]{2,5}").all()
    assert edges.loc[~named, "name"].isna().all()
    assert edges.loc[edges["road_class"] == "branch", "oneway"].sum() > 0
    assert not edges.loc[edges["road_class"] != "branch", "oneway"].any()


# ---------------------------------------------------------------------- incidents


def test_incidents(district: dict) -> None:
    inc = district["incident"]
    assert len(inc) == round(20_000 * 0.3)
    outline = district["admin_area"].geometry.iloc[0]
    assert inc.geometry.within(outline).all()
    start = DEFAULT_END - pd.DateOffset(months=6)
    assert inc["reported_at"].between(start, DEFAULT_END, inclusive="left").all()
    assert inc["reported_at"].is_monotonic_increasing
    share = inc["source"].value_counts(normalize=True)
    assert abs(share["patrol"] - 0.5) < 0.05
    assert abs(share["resident_app"] - 0.3) < 0.05
    assert abs(share["hotline_12345"] - 0.2) < 0.05
    top = inc["category_code"].value_counts().index[:3]
    assert set(top) <= {"20501", "20101", "20102", "10301", "20201"}
    hour = inc["reported_at"].dt.hour
    assert (hour.between(0, 5)).mean() < 0.03
    assert (hour.between(9, 11)).mean() > 0.2
    dow = inc["reported_at"].dt.day_of_week
    patrol = inc["source"] == "patrol"
    assert (dow[patrol] >= 5).mean() < (dow[~patrol] >= 5).mean()
    state = inc["state"].value_counts()
    assert state[["closed", "rated"]].sum() / len(inc) > 0.85
    assert 0 < state.get("rejected", 0) / len(inc) < 0.08
    assert state.drop(["closed", "rated", "rejected"], errors="ignore").sum() > 5
    old = inc["reported_at"] < DEFAULT_END - pd.Timedelta(days=30)
    assert inc.loc[old, "state"].isin(["closed", "rated", "rejected"]).mean() > 0.95
    # deadline, assignee, closed_at and rating follow the state
    dispatched = ~inc["state"].isin(["reported", "registered", "rejected"])
    assert inc["deadline"].notna().eq(dispatched).all()
    assert inc["assignee_id"].notna().eq(dispatched).all()
    closed = inc["state"].isin(["closed", "rated"])
    assert inc["closed_at"].notna().eq(closed).all()
    assert inc["rating"].notna().eq(inc["state"] == "rated").all()
    assert inc["rating"].dropna().between(1, 5).all()
    limit = inc["category_code"].map(lambda c: CATEGORY_BY_CODE[c].time_limit_hours)
    late = inc["deadline"] - inc["reported_at"]
    assert (late.dropna() >= pd.to_timedelta(limit[dispatched], unit="h")).all()
    # the assignee is the primary worker of the grid the incident lies in
    located = gpd.sjoin(inc[["id", "geometry"]], district["grid"][["code", "geometry"]])
    assert located["id"].is_unique and len(located) == len(inc)
    a = district["grid_assignment"]
    primary = a[a["role"] == "primary"].set_index("grid_code")["worker_id"]
    expected = located.set_index("id")["code"].map(primary).reindex(inc["id"]).to_numpy()
    assigned = inc["assignee_id"].notna().to_numpy()
    assert (inc["assignee_id"].to_numpy()[assigned] == expected[assigned]).all()
    assert inc["description"].str.len().gt(6).all()


def test_incident_histories(district: dict) -> None:
    inc = district["incident"].set_index("id")
    ev = district["incident_event"]
    assert ev["incident_id"].is_monotonic_increasing
    first = ~ev["incident_id"].duplicated()
    assert ev.loc[first, "from_state"].isna().all()
    assert (ev.loc[first, "to_state"] == "reported").all()
    prev_to = ev["to_state"].shift()
    assert (ev.loc[~first, "from_state"] == prev_to[~first]).all()
    from_state = ev["from_state"].astype(object).where(ev["from_state"].notna(), None)
    pairs = set(zip(from_state, ev["to_state"], strict=True))
    assert pairs <= TRANSITIONS
    gap = ev["at"].diff()[~first]
    assert (gap > pd.Timedelta(0)).all()
    last = ev.groupby("incident_id").tail(1).set_index("incident_id")
    assert (last["to_state"] == inc.loc[last.index, "state"]).all()
    assert len(last) == len(inc)
    assert (ev.loc[first].set_index("incident_id")["at"] == inc["reported_at"]).all()
    assert (ev["at"] < DEFAULT_END).all()
    closed = ev[ev["to_state"] == "closed"].set_index("incident_id")["at"]
    assert (inc.loc[closed.index, "closed_at"] == closed).all()
    dispatched = ev[ev["to_state"] == "dispatched"].set_index("incident_id")["at"]
    limit = inc.loc[dispatched.index, "category_code"].map(
        lambda c: pd.Timedelta(hours=CATEGORY_BY_CODE[c].time_limit_hours)
    )
    assert (inc.loc[dispatched.index, "deadline"] == dispatched + limit).all()
    # escalation happens after the deadline; some paths escalate, return and reject
    esc = ev[ev["to_state"] == "escalated"].set_index("incident_id")["at"]
    assert len(esc) > 0
    assert (esc > inc.loc[esc.index, "deadline"]).all()
    assert (ev["to_state"] == "returned").any()
    assert (ev["to_state"] == "rejected").any()


def test_hotspots(district: dict) -> None:
    inc = district["incident"].to_crs(METRIC)
    cells = (
        (inc.geometry.x // 100).astype(int).astype(str)
        + ":"
        + (inc.geometry.y // 100).astype(int).astype(str)
    )
    counts = cells.value_counts()
    # a handful of 100 m cells hold far more than their share
    assert counts.iloc[0] > 8 * counts.median()


# ------------------------------------------------------------------------- scale


def test_small_district(small: dict) -> None:
    counts = households_per_grid(small)
    assert counts.between(300, 500).all()
    assert len(small["admin_area"].query("level == 'community'")) == 1
    assert len(small["incident"]) == 600


def test_larger_district_scales() -> None:
    layers = generate_district(200_000, seed=5, progress=False, incidents_per_household=0.05)
    assert len(layers["household"]) == 200_000
    admin = layers["admin_area"]
    streets = (admin["level"] == "street").sum()
    comms = (admin["level"] == "community").sum()
    assert streets >= 5 and 8 <= comms / streets <= 15
    assert layers["resident"]["id_number"].is_unique
    counts = households_per_grid(layers)
    assert counts.between(300, 500).all()
    nodes, edges = layers["road_node"], layers["road_edge"]
    index = pd.Series(np.arange(len(nodes)), index=nodes["id"])
    src = index.loc[edges["source"]].to_numpy()
    dst = index.loc[edges["target"]].to_numpy()
    assert connected_components(len(nodes), src, dst) == 1
    # each street is one piece
    street_geoms = admin.loc[admin["level"] == "street"].geometry
    assert (shapely.get_num_geometries(street_geoms.values) == 1).all()
