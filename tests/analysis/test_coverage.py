"""Facility coverage on hand-checkable streets: demand, access, capacity, equity, sites, plans."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, box

from analysis import coverage as cv
from analysis.coverage import walking_access
from analysis.network import RoadNetwork
from gis.errors import ValidationError

SPEED = 1.2
STEP_M = 100.0
ORIGIN = (220_000.0, 3_357_000.0)  # UTM 51N, near 三墩, Hangzhou
TO_LONLAT = Transformer.from_crs(32651, 4326, always_xy=True)
#: clinics within 5 minutes: 360 m on foot, so a site covers 3 steps of 100 m each way
FIVE_MIN = {"clinic": {"minutes": 5}}


def lonlat(x: float, y: float = 0.0) -> tuple[float, float]:
    lon, lat = TO_LONLAT.transform(ORIGIN[0] + x, ORIGIN[1] + y)
    return float(lon), float(lat)


def line_network(n: int = 9) -> RoadNetwork:
    """One straight street of ``n`` nodes, 100 m apart, west to east."""
    nodes = gpd.GeoDataFrame(
        {"id": np.arange(1, n + 1)},
        geometry=[Point(lonlat(i * STEP_M)) for i in range(n)],
        crs=4326,
    )
    edges = gpd.GeoDataFrame(
        {
            "id": np.arange(1, n),
            "source": np.arange(1, n),
            "target": np.arange(2, n + 1),
            "length_m": STEP_M,
        },
        geometry=[LineString([lonlat(i * STEP_M), lonlat((i + 1) * STEP_M)]) for i in range(n - 1)],
        crs=4326,
    )
    return RoadNetwork.from_frames(nodes, edges, walk_speed_mps=SPEED)


def demand_at(xs: list[float], everyone: list[float], **groups: list[float]) -> pd.DataFrame:
    """Demand rows on the street at ``xs`` metres, one grid each (grid id = row + 1)."""
    pts = [lonlat(x) for x in xs]
    frame = pd.DataFrame(
        {
            "cell": np.arange(len(xs), dtype=np.int64) + 1,
            "grid_id": pd.array(np.arange(len(xs)) + 1, dtype="Int64"),
            "community_id": pd.array([1] * len(xs), dtype="Int64"),
            "lon": [p[0] for p in pts],
            "lat": [p[1] for p in pts],
        }
    )
    for g in cv.GROUPS:
        frame[g] = np.asarray(groups.get(g, everyone if g == "everyone" else [0] * len(xs)), float)
    return frame


def facilities_at(xs: list[float], kind: str = "clinic", capacity=None) -> pd.DataFrame:
    pts = [lonlat(x) for x in xs]
    return pd.DataFrame(
        {
            "id": np.arange(1, len(xs) + 1),
            "kind": kind,
            "name": [f"{kind}{i + 1}" for i in range(len(xs))],
            "capacity": np.nan if capacity is None else np.asarray(capacity, float),
            "lon": [p[0] for p in pts],
            "lat": [p[1] for p in pts],
        }
    )


# ------------------------------------------------------------------ standards


def test_default_standards_follow_the_life_circles() -> None:
    s = cv.load_standards({})
    assert {k: v.minutes for k, v in s.items()} == {
        "clinic": 15,
        "elder_care": 15,
        "community_centre": 15,
        "school": 15,
        "park": 10,
        "shelter": 15,
        "pharmacy": 15,
    }
    assert s["elder_care"].group == "elderly_60" and s["school"].group == "children"
    assert "GB 50180-2018" in s["park"].source


def test_standards_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "standards.json"
    path.write_text(json.dumps({"park": {"minutes": 5}, "clinic": {"group": "elderly_60"}}))
    s = cv.load_standards(path)
    assert s["park"].minutes == 5 and s["clinic"].group == "elderly_60"
    assert s["school"].minutes == 15  # the rest keep their defaults
    monkeypatch.setenv(cv.STANDARDS_ENV, str(path))
    assert cv.load_standards()["park"].minutes == 5


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"gym": {"minutes": 5}}, "clinic, elder_care, park"),
        ({"park": {"group": "teens"}}, "everyone, elderly_60"),
        ({"park": {"minutes": -5}}, "minutes"),
        ({"park": {"walk": 5}}, "minutes"),
    ],
)
def test_bad_standards_name_what_is_allowed(overrides: dict, named: str) -> None:
    with pytest.raises(cv.CoverageError, match=named):
        cv.load_standards(overrides)


# ------------------------------------------------------------------ demand


def test_demand_by_group_per_cell_and_grid() -> None:
    a, b = lonlat(0), lonlat(3000)  # 3 km apart: different H3 cells
    households = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "lon": [a[0], a[0], b[0]],
            "lat": [a[1], a[1], b[1]],
            "grid_id": [7, 8, 7],
            "community_id": [70, 70, 70],
        }
    )
    residents = pd.DataFrame(
        {
            "household_id": [1, 1, 1, 2, 3, 3, 99],
            "birth_year": [1940, 1960, 2020, 1990, 1946, 2015, 1930],
            "disabled": [True, False, False, False, False, True, True],
        }
    )
    d = cv.demand_from_households(households, residents, reference_year=2026)
    assert list(d.columns) == list(cv.DEMAND_COLUMNS)
    assert len(d) == 3  # (cell a, grid 7), (cell a, grid 8), (cell b, grid 7)
    assert d["everyone"].sum() == 6  # the resident of unknown household 99 is left out
    row = d[(d["grid_id"] == 7) & (d["lon"].round(9) == round(a[0], 9))].iloc[0]
    # 1940 → 86, 1960 → 66, 2020 → 6
    assert row[list(cv.GROUPS)].tolist() == [3, 2, 1, 1, 1]
    row_b = d[d["lon"].round(9) == round(b[0], 9)].iloc[0]
    assert row_b[list(cv.GROUPS)].tolist() == [2, 1, 1, 1, 1]  # 1946 → 80: elderly_80
    assert d["cell"].nunique() == 2


def test_demand_from_a_census_file_and_its_errors() -> None:
    x0, y0 = lonlat(0)
    squares = gpd.GeoDataFrame(
        {"everyone": [100, 50], "elderly_60": [30, 5]},
        geometry=[box(x0, y0, x0 + 0.001, y0 + 0.001), box(x0 + 0.03, y0, x0 + 0.031, y0 + 0.001)],
        crs=4326,
    )
    d = cv.demand_from_file(squares)
    assert d["everyone"].sum() == 150 and d["elderly_60"].sum() == 35
    assert d["children"].sum() == 0  # missing groups count nobody
    assert d["grid_id"].isna().all()

    bad = squares.assign(everyone=[100, -3], elderly_60=["many", 5])
    with pytest.raises(ValidationError) as err:
        cv.demand_from_file(bad, layer="census.gpkg")
    text = str(err.value)
    assert "census.gpkg row 2" in text and "'everyone'" in text
    assert "row 1" in text and "'elderly_60'" in text
    with pytest.raises(ValidationError, match="everyone"):
        cv.demand_from_file(squares.drop(columns="everyone"))


# ------------------------------------------------------------------ access


def test_walking_time_to_the_nearest_facility_along_the_street() -> None:
    net = line_network()
    demand = demand_at([0, 200, 400, 600, 800], [10, 20, 30, 40, 50], elderly_60=[0, 0, 0, 0, 9])
    result = cv.access(
        net, demand, facilities_at([0]), "clinic", standards=cv.load_standards(FIVE_MIN)
    )
    np.testing.assert_allclose(result.time_s, np.array([0, 200, 400, 600, 800]) / SPEED, atol=1e-3)
    assert result.served.tolist() == [True, True, False, False, False]
    shares = cv.served_shares(result)
    assert shares.loc["everyone", "served"] == 30 and shares.loc["everyone", "people"] == 150
    assert shares.loc["elderly_60", "share_served"] == 0
    assert np.isnan(shares.loc["children", "share_served"])  # nobody: no share
    worst = cv.unserved_by(result, "grid_id")
    assert worst.index[0] == 5 and worst.iloc[0]["unserved"] == 50
    assert cv.unserved_by(result, "community_id").loc[1, "unserved"] == 120


def test_the_matrix_of_times_agrees_with_the_nearest_facility(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    net = line_network()
    rng = np.random.default_rng(3)
    xs = rng.uniform(0, 800, 30)
    demand = demand_at(list(xs), [1.0] * 30)
    demand["lat"] += rng.uniform(-2e-4, 2e-4, 30)  # off the street: the walk to it counts
    fac = facilities_at([130, 555, 790])
    nearest = cv.access(net, demand, fac, "clinic").time_s
    matrix = cv.travel_times(net, demand["lon"], demand["lat"], fac["lon"], fac["lat"])
    np.testing.assert_allclose(matrix.min(axis=1), nearest, rtol=1e-9)
    cut = cv.travel_times(net, demand["lon"], demand["lat"], fac["lon"], fac["lat"], limit_s=100.0)
    assert np.array_equal(np.isfinite(cut), matrix <= 100.0)
    # one site per Dijkstra: the same answer
    monkeypatch.setattr(walking_access, "_DIJKSTRA_CELLS", 1)
    chunked = cv.travel_times(net, demand["lon"], demand["lat"], fac["lon"], fac["lat"])
    np.testing.assert_array_equal(chunked, matrix)


def test_no_facility_of_a_kind_serves_nobody() -> None:
    demand = demand_at([0, 400], [5, 5])
    result = cv.access(line_network(), demand, facilities_at([0], kind="park"), "clinic")
    assert np.isinf(result.time_s).all() and (result.facility_id == -1).all()
    assert cv.served_shares(result).loc["everyone", "served"] == 0


@pytest.mark.parametrize(
    ("kind", "group", "message"),
    [("gym", None, "clinic, elder_care"), ("clinic", "teens", "everyone, elderly_60")],
)
def test_unknown_kind_or_group_is_a_clear_error(kind: str, group: str | None, message: str) -> None:
    demand = demand_at([0], [1])
    with pytest.raises(cv.CoverageError, match=message):
        result = cv.access(line_network(), demand, facilities_at([0]), kind)
        cv.unserved_by(result, group=group or "everyone")


def test_empty_demand_is_a_clear_error() -> None:
    demand = demand_at([0], [0])
    with pytest.raises(cv.CoverageError, match="no demand"):
        cv.access(line_network(), demand, facilities_at([0]), "clinic")


# ------------------------------------------------------------------ capacity, equity


def test_three_way_split_with_a_full_facility() -> None:
    net = line_network()
    demand = demand_at([0, 200, 400, 600, 800], [10, 20, 30, 40, 50])
    standards = cv.load_standards(FIVE_MIN)
    one = cv.capacity_split(
        net, demand, facilities_at([0], capacity=[20]), "clinic", standards=standards
    )
    assert (one.people, one.served, one.lack_of_capacity, one.outside_limit) == (150, 20, 10, 120)
    # a second, unlimited clinic at 400 m: the 20 people at 200 m can walk there instead
    two = cv.capacity_split(
        net, demand, facilities_at([0, 400], capacity=[20, np.nan]), "clinic", standards=standards
    )
    assert (two.served, two.lack_of_capacity, two.outside_limit) == (100, 0, 50)
    assert two.facility_load.sum() == 100 and two.facility_load.loc[1] <= 20
    assert (two.row_served + two.row_lack + two.row_outside == demand["everyone"]).all()


def test_gini_of_walking_time() -> None:
    assert cv.weighted_gini([0, 1]) == pytest.approx(0.5)
    assert cv.weighted_gini([7, 7, 7]) == pytest.approx(0.0)
    # a weight is the same as repeating the value
    assert cv.weighted_gini([1, 3], [2, 1]) == pytest.approx(cv.weighted_gini([1, 1, 3]))
    assert cv.weighted_gini([1, 1, 3]) == pytest.approx(8 / 30)
    assert cv.weighted_gini([1, np.inf], [1, 5]) == pytest.approx(0.0)  # unreachable left out


def test_equity_shows_the_elderly_worse_off() -> None:
    demand = demand_at([0, 200, 800], [10, 10, 10], elderly_60=[0, 1, 9])
    result = cv.access(
        line_network(), demand, facilities_at([0]), "clinic", standards=cv.load_standards(FIVE_MIN)
    )
    fair = cv.equity(result)
    assert fair.loc["everyone", "share_unserved"] == pytest.approx(1 / 3)
    assert fair.loc["elderly_60", "share_unserved"] == pytest.approx(0.9)
    assert fair.loc["elderly_60", "ratio_to_everyone"] == pytest.approx(2.7)
    assert fair.loc["elderly_60", "p90_min"] == pytest.approx(800 / SPEED / 60, rel=1e-6)


# ------------------------------------------------------------------ sites and plans


def _all_nodes() -> tuple[pd.DataFrame, pd.DataFrame]:
    xs = [i * STEP_M for i in range(9)]
    demand = demand_at(xs, [1.0] * 9)
    frame = pd.DataFrame({"id": range(9), "lon": demand["lon"], "lat": demand["lat"]})
    return demand, cv.candidates_from_points(frame, source="node")


NO_CLINIC = facilities_at([0], kind="park")


def test_lscp_needs_two_sites_on_the_street() -> None:
    demand, cand = _all_nodes()
    rec = cv.recommend_sites(
        line_network(), demand, NO_CLINIC, cand, "clinic", model="lscp",
        standards=cv.load_standards(FIVE_MIN),
    )  # fmt: skip
    assert rec.status == "optimal" and len(rec.sites) == 2 and rec.objective == 2
    assert rec.served_before == 0 and rec.served_after == 9


def test_mclp_and_p_median_known_optima() -> None:
    net, standards = line_network(), cv.load_standards(FIVE_MIN)
    demand, cand = _all_nodes()
    mclp = cv.recommend_sites(
        net, demand, NO_CLINIC, cand, "clinic", model="mclp", p=1, standards=standards
    )
    assert mclp.objective == 7 and mclp.sites["site_id"].iloc[0] in {"node:3", "node:4", "node:5"}
    ends = demand.assign(everyone=[5, 0, 0, 0, 0, 0, 0, 0, 5])
    assert (
        cv.recommend_sites(
            net, ends, NO_CLINIC, cand, "clinic", model="mclp", p=2, standards=standards
        ).objective
        == 10
    )
    med = cv.recommend_sites(net, demand, NO_CLINIC, cand, "clinic", model="p_median", p=1)
    assert med.sites["site_id"].tolist() == ["node:4"]
    assert med.objective == pytest.approx(2 * (100 + 200 + 300 + 400) / SPEED, rel=1e-6)
    # the middle is not available (邻避): the next best is one step aside
    med2 = cv.recommend_sites(
        net, demand, NO_CLINIC, cand, "clinic", model="p_median", p=1, excluded=["node:4"]
    )
    assert med2.sites["site_id"].iloc[0] in {"node:3", "node:5"}
    assert med2.objective == pytest.approx(2100 / SPEED, rel=1e-6)


def test_existing_facilities_are_kept_and_capacity_counts() -> None:
    net, standards = line_network(), cv.load_standards(FIVE_MIN)
    demand, cand = _all_nodes()
    existing = facilities_at([0], capacity=[4])
    rec = cv.recommend_sites(
        net, demand, existing, cand, "clinic", model="mclp", p=1, standards=standards
    )
    assert (
        rec.served_before == 4 and rec.served_after == 9
    )  # node 0 covers 0–3; a site at 5–8 the rest
    assert rec.sites["site_id"].iloc[0] in {"node:5", "node:6", "node:7", "node:8"}
    cap = cv.recommend_sites(
        net, demand, existing, cand.assign(capacity=3.0), "clinic",
        model="capacitated_p_median", p=2, standards=standards,
    )  # fmt: skip
    assert cap.status == "optimal" and len(cap.sites) == 2  # 9 people, 4 + 3 + 3 places


def test_an_uncoverable_lscp_says_which_demand_and_why() -> None:
    demand, cand = _all_nodes()
    far = demand_at([400], [3])
    far["lat"] += 0.02  # 2 km north of the street, no road there
    far["cell"] = 99
    both = pd.concat([demand, far], ignore_index=True)
    rec = cv.recommend_sites(
        line_network(), both, NO_CLINIC, cand, "clinic", model="lscp",
        standards=cv.load_standards(FIVE_MIN),
    )  # fmt: skip
    assert rec.uncoverable["cell"].tolist() == [99]
    assert len(rec.sites) == 2  # the rest is still covered
    assert "unserved whatever is opened" in rec.explanation


def test_bad_solve_input_is_named() -> None:
    demand, cand = _all_nodes()
    net = line_network()
    with pytest.raises(cv.CoverageError, match="lscp, mclp"):
        cv.recommend_sites(net, demand, NO_CLINIC, cand, "clinic", model="best")
    with pytest.raises(cv.CoverageError, match="not among the candidates"):
        cv.recommend_sites(net, demand, NO_CLINIC, cand, "clinic", excluded=["node:99"])
    with pytest.raises(cv.CoverageError, match="no candidate"):
        cv.recommend_sites(net, demand, NO_CLINIC, cand.iloc[:0], "clinic")


def test_mclp_agrees_with_pysal_spopt() -> None:
    pulp = pytest.importorskip("pulp")
    spopt_locate = pytest.importorskip("spopt.locate")
    net = line_network(9)
    rng = np.random.default_rng(11)
    xs = rng.uniform(0, 800, 40)
    demand = demand_at(list(xs), list(rng.integers(1, 30, 40).astype(float)))
    cand_xy = rng.uniform(0, 800, 12)
    frame = pd.DataFrame(
        {
            "id": range(12),
            "lon": [lonlat(x)[0] for x in cand_xy],
            "lat": [lonlat(x)[1] for x in cand_xy],
        }
    )
    cand = cv.candidates_from_points(frame, source="c")
    standards = cv.load_standards({"clinic": {"minutes": 2}})
    ours = cv.recommend_sites(
        net, demand, NO_CLINIC, cand, "clinic", model="mclp", p=2, standards=standards
    )
    cost = cv.travel_times(net, demand["lon"], demand["lat"], cand["lon"], cand["lat"])
    theirs = spopt_locate.MCLP.from_cost_matrix(
        cost, demand["everyone"].to_numpy(), service_radius=120.0, p_facilities=2
    ).solve(pulp.HiGHS(msg=False))
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective))
    lscp = cv.recommend_sites(
        net, demand, NO_CLINIC, cand, "clinic", model="lscp", standards=standards
    )
    covered = (cost <= 120.0).any(axis=1)
    theirs_lscp = spopt_locate.LSCP.from_cost_matrix(cost[covered], service_radius=120.0).solve(
        pulp.HiGHS(msg=False)
    )
    assert lscp.objective == pytest.approx(pulp.value(theirs_lscp.problem.objective))


def test_compare_plans_with_today() -> None:
    net, standards = line_network(), cv.load_standards(FIVE_MIN)
    demand = demand_at([0, 200, 400, 600, 800], [10, 20, 30, 40, 50])
    fac = facilities_at([0], capacity=[100])
    east = cv.Plan(
        "东端新增",
        "clinic",
        pd.DataFrame({"lon": [lonlat(800)[0]], "lat": [lonlat(800)[1]], "cost": [5e5]}),
    )
    closed = cv.Plan("撤并", "clinic", removed=(1,))
    table, accesses = cv.compare_plans(
        net, demand, fac, [east, closed], "clinic", standards=standards
    )
    assert table.index.tolist() == [cv.TODAY, "东端新增", "撤并"]
    assert table.loc[cv.TODAY, "served_everyone"] == 30
    assert (
        table.loc["东端新增", "served_everyone"] == 120
    )  # 600 and 800 m, not 400 m, now within 5 min
    assert table.loc["撤并", "served_everyone"] == 0 and table.loc["撤并", "facilities"] == 0
    assert table.loc["东端新增", "cost"] == 5e5
    assert table.loc["东端新增", "mean_min"] < table.loc[cv.TODAY, "mean_min"]
    assert set(accesses) == {cv.TODAY, "东端新增", "撤并"}
    with pytest.raises(cv.CoverageError, match="not clinic facilities"):
        cv.compare_plans(net, demand, fac, [cv.Plan("x", "clinic", removed=(42,))], "clinic")


def test_candidates_from_demand_cells() -> None:
    demand = demand_at([0, 0, 400], [4, 6, 5], elderly_60=[1, 0, 0])
    demand.loc[1, "cell"] = demand.loc[0, "cell"]  # two grids share a cell
    cells = cv.candidates_from_demand(demand)
    assert len(cells) == 2 and cells["site_id"].iloc[0].startswith("cell:")
    assert len(cv.candidates_from_demand(demand, group="elderly_60")) == 1
    assert (
        shapely.Point(cells["lon"].iloc[0], cells["lat"].iloc[0]).distance(shapely.Point(lonlat(0)))
        < 1e-9
    )
