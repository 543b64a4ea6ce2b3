"""A tiny, hand-checkable district for tests: one community split into two grids."""

from __future__ import annotations

import pandas as pd

import geopandas as gpd
from shapely import LineString, Point, Polygon, box

from gis.store import incident_ids

# a 0.01° x 0.01° community near 三墩 (about 960 m x 1,110 m), split west / east
W, S, E, N = 120.08, 30.31, 120.09, 30.32
MID = (W + E) / 2
TZ = "Asia/Shanghai"


def _gdf(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def tiny_district() -> dict[str, pd.DataFrame]:
    """Every layer of a district, small enough to check by hand."""
    community = box(W, S, E, N)
    admin = _gdf(
        [
            {
                "code": "330106",
                "name": "西湖区",
                "level": "district",
                "parent_code": None,
                "geometry": box(W - 0.01, S - 0.01, E + 0.01, N + 0.01),
            },
            {
                "code": "330106109",
                "name": "三墩镇",
                "level": "street",
                "parent_code": "330106",
                "geometry": box(W - 0.005, S - 0.005, E + 0.005, N + 0.005),
            },
            {
                "code": "330106109001",
                "name": "测试社区",
                "level": "community",
                "parent_code": "330106109",
                "geometry": community,
            },
            {
                "code": "330106109001E01",
                "name": "测试小区",
                "level": "estate",
                "parent_code": "330106109001",
                "geometry": box(W + 0.001, S + 0.001, E - 0.001, N - 0.001),
            },
        ]
    )
    grids = _gdf(
        [
            {
                "code": "330106109001001",
                "name": "测试社区第1网格",
                "community_code": "330106109001",
                "kind": "base",
                "geometry": box(W, S, MID, N),
            },
            {
                "code": "330106109001002",
                "name": "测试社区第2网格",
                "community_code": "330106109001",
                "kind": "base",
                "geometry": box(MID, S, E, N),
            },
        ]
    )
    buildings = _gdf(
        [
            {
                "id": 1,
                "name": "1幢",
                "estate_code": "330106109001E01",
                "use": "residential",
                "floors": 6,
                "units": 2,
                "geometry": box(W + 0.002, S + 0.002, W + 0.0026, S + 0.0023),
            },
            {
                "id": 2,
                "name": "2幢",
                "estate_code": "330106109001E01",
                "use": "residential",
                "floors": 18,
                "units": 1,
                "geometry": box(E - 0.003, N - 0.003, E - 0.0027, N - 0.0027),
            },
        ]
    )
    households = pd.DataFrame(
        [
            {"id": 11, "building_id": 1, "unit": 1, "room": "101", "size": 2},
            {"id": 12, "building_id": 1, "unit": 2, "room": "302", "size": 1},
            {"id": 21, "building_id": 2, "unit": 1, "room": "1201", "size": 3},
        ]
    )
    residents = pd.DataFrame(
        [
            _person(111, 11, 1950, "M", "张伟", "330106195001010011"),
            _person(112, 11, 1952, "F", "李娜", "33010619520202002X"),
            _person(121, 12, 1940, "F", "王芳", "330106194003030022", living_alone_elderly=True),
            _person(211, 21, 1985, "M", "刘洋", "330106198504040031"),
            _person(212, 21, 1987, "F", "陈静", "330106198705050042"),
            _person(213, 21, 2015, "M", "刘子轩", "330106201506060051"),
        ]
    )
    facilities = _gdf(
        [
            {
                "id": 1,
                "kind": "clinic",
                "name": "测试社区卫生服务站",
                "capacity": 200,
                "geometry": Point(W + 0.004, S + 0.005),
            },
            {
                "id": 2,
                "kind": "shelter",
                "name": "测试公园紧急避难场所",
                "capacity": 1500,
                "geometry": Point(E - 0.002, S + 0.002),
            },
        ]
    )
    shelters = _gdf(
        [
            {
                "facility_id": 2,
                "shelter_class": "emergency",
                "area_m2": 1500.0,
                "occupancy": 0,
                "geometry": community,
            },
        ]
    )
    nodes = _gdf(
        [
            {"id": 1, "geometry": Point(W, S)},
            {"id": 2, "geometry": Point(MID, S)},
            {"id": 3, "geometry": Point(E, S)},
        ]
    )
    edges = _gdf(
        [
            {
                "id": 1,
                "source": 1,
                "target": 2,
                "name": "测试路",
                "road_class": "branch",
                "length_m": 480.0,
                "walkable": True,
                "drivable": True,
                "oneway": False,
                "walk_speed_mps": 1.2,
                "drive_speed_kmh": 30.0,
                "geometry": LineString([(W, S), (MID, S)]),
            },
            {
                "id": 2,
                "source": 2,
                "target": 3,
                "name": "测试路",
                "road_class": "branch",
                "length_m": 480.0,
                "walkable": True,
                "drivable": True,
                "oneway": False,
                "walk_speed_mps": 1.2,
                "drive_speed_kmh": 30.0,
                "geometry": LineString([(MID, S), (E, S)]),
            },
        ]
    )
    users = pd.DataFrame(
        [
            {"username": "admin", "display_name": "管理员", "role": "admin", "area_code": None},
            {
                "username": "worker1",
                "display_name": "网格员一",
                "role": "grid_worker",
                "area_code": None,
            },
            {
                "username": "resident1",
                "display_name": "居民一",
                "role": "resident",
                "area_code": None,
            },
        ]
    )
    workers = pd.DataFrame(
        [
            {
                "id": 1,
                "username": "worker1",
                "name": "网格员一",
                "phone": "13800000001",
                "on_duty": True,
                "max_open_tasks": 20,
            }
        ]
    )
    assignments = pd.DataFrame(
        [
            {"worker_id": 1, "grid_code": "330106109001001", "role": "primary"},
            {"worker_id": 1, "grid_code": "330106109001002", "role": "backup"},
        ]
    )
    t0 = pd.Timestamp("2026-10-01 09:00", tz=TZ)
    incidents = _gdf(
        [
            {
                "id": 1,
                "category_code": "20101",
                "source": "patrol",
                "description": "暴露垃圾",
                "state": "reported",
                "reported_at": t0,
                "deadline": pd.NaT,
                "closed_at": pd.NaT,
                "assignee_id": pd.NA,
                "reporter_username": None,
                "rating": pd.NA,
                "geometry": Point(W + 0.001, S + 0.001),
            },
            {
                "id": 2,
                "category_code": "30401",
                "source": "resident_app",
                "description": "楼道灯坏",
                "state": "dispatched",
                "reported_at": t0,
                "deadline": t0 + pd.Timedelta(hours=72),
                "closed_at": pd.NaT,
                "assignee_id": 1,
                "reporter_username": "resident1",
                "rating": pd.NA,
                "geometry": Point(E - 0.001, N - 0.001),
            },
        ]
    )
    incidents["deadline"] = pd.to_datetime(incidents["deadline"]).dt.tz_convert(TZ)
    incidents["closed_at"] = pd.to_datetime(incidents["closed_at"]).dt.tz_localize(TZ)
    incidents["assignee_id"] = incidents["assignee_id"].astype("Int64")
    incidents["rating"] = incidents["rating"].astype("Int64")
    events = pd.DataFrame(
        [
            {
                "incident_id": 1,
                "from_state": None,
                "to_state": "reported",
                "at": t0,
                "actor": "worker1",
                "note": None,
            },
            {
                "incident_id": 2,
                "from_state": None,
                "to_state": "reported",
                "at": t0,
                "actor": "resident1",
                "note": None,
            },
            {
                "incident_id": 2,
                "from_state": "reported",
                "to_state": "registered",
                "at": t0 + pd.Timedelta(minutes=10),
                "actor": "admin",
                "note": None,
            },
            {
                "incident_id": 2,
                "from_state": "registered",
                "to_state": "dispatched",
                "at": t0 + pd.Timedelta(minutes=20),
                "actor": "system",
                "note": "派遣给网格员一",
            },
        ]
    )
    return {
        "admin_area": admin,
        "grid": grids,
        "building": buildings,
        "household": households,
        "resident": residents,
        "facility": facilities,
        "shelter": shelters,
        "road_node": nodes,
        "road_edge": edges,
        "app_user": users,
        "grid_worker": workers,
        "grid_assignment": assignments,
        "incident": incidents,
        "incident_event": events,
    }


def _person(
    pid: int, household: int, birth_year: int, sex: str, name: str, id_number: str, **flags: bool
) -> dict:
    return {
        "id": pid,
        "household_id": household,
        "birth_year": birth_year,
        "sex": sex,
        "living_alone_elderly": flags.get("living_alone_elderly", False),
        "disabled": False,
        "mobility_impaired": False,
        "low_income": False,
        "name": name,
        "id_number": id_number,
        "phone": f"139{pid:08d}",
    }


def bowtie() -> Polygon:
    """A self-intersecting polygon: make_valid would change its shape, so it is rejected."""
    return Polygon([(W, S), (E, N), (E, S), (W, N), (W, S)])


def tiny_case(file_id: int) -> int:
    """The number the tiny district's case ``file_id`` is stored under once loaded.

    A case's number carries the month it was reported in (:mod:`gis.store.incident_ids`);
    the file's id is its serial part, and the load makes the month's partition.
    """
    cases = tiny_district()["incident"]
    at = cases.loc[cases["id"] == file_id, "reported_at"].iloc[0]
    return incident_ids.coded_id(file_id, at.to_pydatetime())
