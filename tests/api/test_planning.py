"""Planners over HTTP and the command line: who lacks elder care, 3 new sites, plan vs today;
and from the outside, that only the street office's staff may plan (401 / 403, no data)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from analysis import coverage as cv
from analysis.network import RoadNetwork
from api.services import planning
from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.coords import wgs84_to_gcj02
from gis.settings import get_settings
from gis.store import plan_store, queries
from tests.conftest import LiveServer, empty_database, run_wangge
from tests.signin import HTML, give_password, signed_in

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> Iterator[dict]:
    layers = generate_district(3000, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    yield layers
    empty_database(engine)  # leave the session's database as other test files expect it


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def planner(district: dict, engine: Engine) -> dict:
    """A planner of the street office (street staff of the sample street)."""
    street = district["admin_area"].query("level == 'street'")["code"].iloc[0]
    return _bearer(issue_token(engine, "plan_street_staff", "street_staff", street))


def _get(server: LiveServer, who: dict, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", params=params, headers=who, timeout=120)


def _post(server: LiveServer, who: dict, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, headers=who, timeout=120)


def test_standards_table(planner: dict, live_server: LiveServer) -> None:
    body = _get(live_server, planner, "/api/planning/standards").json()
    minutes = {s["kind"]: s["minutes"] for s in body["standards"]}
    assert minutes["elder_care"] == 15 and minutes["park"] == 10
    assert [g["group"] for g in body["groups"]] == list(cv.GROUPS)


def test_who_lacks_elder_care_within_15_minutes(
    planner: dict, district: dict, live_server: LiveServer, engine: Engine
) -> None:
    r = _get(live_server, planner, "/api/planning/access", kind="elder_care")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["group"] == "elderly_60" and body["standard"]["minutes"] == 15
    served = {row["group"]: row for row in body["served"]}
    # the people counted are the residents PostGIS holds, aged from this year (the clock's)
    with engine.connect() as conn:
        elderly, everyone = conn.execute(
            text("SELECT count(*) FILTER (WHERE :year - birth_year >= 60), count(*) FROM resident"),
            {"year": clock.now().year},
        ).one()
    assert served["elderly_60"]["people"] == elderly
    assert served["everyone"]["people"] == everyone
    assert 0 < served["elderly_60"]["share_served"] < 1  # one elder-care centre is not enough
    split = body["capacity_split"]
    assert split["group"] == "elderly_60" and split["people"] == elderly
    assert split["served"] + split["lack_of_capacity"] + split["outside_limit"] == elderly
    assert split["outside_limit"] == round(served["elderly_60"]["unserved"])
    grids = body["unserved_by_grid"]
    assert grids[0]["unserved"] >= grids[-1]["unserved"]
    assert all(len(g["grid_code"]) == 15 and g["community_name"] for g in grids if g["grid_id"])
    assert sum(g["unserved"] for g in body["unserved_by_community"]) == pytest.approx(
        served["elderly_60"]["unserved"]
    )
    equity = {row["group"]: row for row in body["equity"]}
    assert 0 <= equity["everyone"]["gini"] < 1
    # no personal data in the answer
    assert not any(n in r.text for n in district["resident"]["name"].head(200))
    assert not any(p in r.text for p in ("id_number", "phone", "birth_year"))


def test_access_cells_are_h3_hexagons_of_the_people(
    planner: dict, district: dict, live_server: LiveServer, engine: Engine
) -> None:
    r = _get(live_server, planner, "/api/planning/access/cells", kind="park", group="children")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    features = r.json()["features"]
    with engine.connect() as conn:
        cells, children = conn.execute(
            text(
                "SELECT count(DISTINCT h.h3_cell), count(r.id) FILTER "
                "(WHERE :year - r.birth_year <= 14) "
                "FROM household h JOIN resident r ON r.household_id = h.id"
            ),
            {"year": clock.now().year},
        ).one()
    assert len(features) == cells
    assert sum(f["properties"]["people"] for f in features) == children
    assert all(f["geometry"]["type"] == "Polygon" for f in features)
    assert all(
        f["properties"]["minutes"] is None or f["properties"]["minutes"] >= 0 for f in features
    )


def test_demand_from_a_census_file(planner: dict, district: dict, live_server: LiveServer) -> None:
    pts = [district["building"].geometry.iloc[i].representative_point() for i in (0, 40)]
    gcj = [wgs84_to_gcj02(p.x, p.y) for p in pts]
    census = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"everyone": 120, "elderly_60": 30},
                "geometry": {"type": "Point", "coordinates": list(xy)},
            }
            for xy in gcj
        ],
    }
    url = "/api/planning/access"
    r = _post(
        live_server, planner, url, {"kind": "clinic", "demand": census, "coord_type": "gcj02"}
    )
    assert r.status_code == 200, r.text
    served = {row["group"]: row for row in r.json()["served"]}
    assert served["everyone"]["people"] == 240 and served["elderly_60"]["people"] == 60
    assert served["children"]["people"] == 0
    assert all(g["grid_code"] for g in r.json()["unserved_by_grid"])  # placed in grids

    census["features"][1]["properties"]["everyone"] = -5
    bad = _post(live_server, planner, url, {"kind": "clinic", "demand": census})
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert "demand row 2" in bad.json()["detail"] and "'everyone'" in bad.json()["detail"]
    for f in census["features"]:
        f["properties"] = {"everyone": 0}
    nobody = _post(live_server, planner, url, {"kind": "clinic", "demand": census})
    assert nobody.status_code == 422 and "no demand" in nobody.json()["detail"]
    empty = _post(
        live_server, planner, url, {"kind": "clinic", "demand": {"type": "FeatureCollection"}}
    )
    assert empty.status_code == 422 and "FeatureCollection" in empty.json()["detail"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"kind": "gym"}, "clinic, elder_care, park"),
        ({"kind": "park", "group": "teens"}, "everyone, elderly_60"),
        ({"kind": ""}, "clinic, elder_care"),
    ],
)
def test_unknown_kind_or_group_is_a_4xx_naming_the_valid_ones(
    planner: dict, live_server: LiveServer, params: dict, named: str
) -> None:
    paths = ("/api/planning/access", "/api/planning/access/cells", "/planning/access")
    for path in (*paths, "/planning/sites"):
        r = _get(live_server, planner, path, **params)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert named in r.json()["detail"]


def test_best_three_sites_then_compare_with_today(
    planner: dict, district: dict, live_server: LiveServer, engine: Engine
) -> None:
    r = _post(
        live_server,
        planner,
        "/api/planning/solve",
        {"kind": "elder_care", "model": "mclp", "p": 3, "save_as": "养老三处"},
    )
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["status"] == "optimal" and 1 <= len(rec["sites"]) <= 3
    assert rec["served_after"] > rec["served_before"]
    assert rec["served_after"] <= rec["people"]
    # the same answer as the analysis from the database directly
    nodes, edges = queries.road_network_frames(engine)
    demand = cv.demand_from_households(
        plan_store.demand_households(engine),
        plan_store.demand_residents(engine),
        reference_year=clock.now().year,
    )
    direct = cv.recommend_sites(
        RoadNetwork.from_frames(nodes, edges),
        demand,
        plan_store.facilities(engine),
        cv.candidates_from_demand(demand, group="elderly_60"),
        "elder_care",
        p=3,
    )
    assert rec["served_after"] == pytest.approx(direct.served_after)

    cmp = _get(
        live_server, planner, "/api/planning/compare", kind="elder_care", scenario="养老三处"
    )
    assert cmp.status_code == 200, cmp.text
    plans = {p["plan"]: p for p in cmp.json()["plans"]}
    assert set(plans) == {cv.TODAY, "养老三处"}
    assert plans["养老三处"]["served_elderly_60"] == pytest.approx(rec["served_after"])
    assert plans[cv.TODAY]["served_elderly_60"] == pytest.approx(rec["served_before"])
    assert plans["养老三处"]["facilities"] == plans[cv.TODAY]["facilities"] + len(rec["sites"])
    assert plans["养老三处"]["p90_min"] <= plans[cv.TODAY]["p90_min"]

    page = _get(live_server, planner, "/planning/compare", kind="elder_care", scenario="养老三处")
    assert page.status_code == 200 and "现状" in page.text and "wangge-compare" in page.text
    sites = _get(live_server, planner, "/planning/sites", kind="elder_care", p=3)
    assert sites.status_code == 200 and "养老服务设施可达性" in sites.text
    assert "wangge-candidate" in sites.text
    assert sites.text.count("wangge-recommended") >= len(rec["sites"])


def test_an_lscp_no_site_can_satisfy_says_which_demand(
    planner: dict, district: dict, live_server: LiveServer
) -> None:
    b = district["building"].geometry.iloc[0].representative_point()
    r = _post(
        live_server,
        planner,
        "/api/planning/solve",
        {
            "kind": "elder_care",
            "model": "lscp",
            "candidates": "sites",
            "sites": [{"lon": b.x, "lat": b.y}],
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["uncoverable"], body
    assert {"cell", "grid_id", "elderly_60"} <= set(body["uncoverable"][0])
    assert body["served_after"] < body["people"]
    assert "unserved whatever is opened" in body["explanation"]  # and says why


def test_bad_solve_requests_are_clear(
    planner: dict, live_server: LiveServer, district: dict
) -> None:
    cases = [
        ({"kind": "elder_care", "model": "best"}, "lscp, mclp"),
        ({"kind": "elder_care", "candidates": "buildings:castle"}, "residential"),
        ({"kind": "elder_care", "candidates": "sites"}, "non-empty 'sites'"),
        ({"kind": "elder_care", "exclude": ["cell:0"]}, "not among the candidates"),
        ({"kind": "bakery"}, "clinic, elder_care"),
        ({"kind": "clinic", "p": 0}, "p"),
    ]
    for body, named in cases:
        r = _post(live_server, planner, "/api/planning/solve", body)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (body, r.text)
        assert named in r.json()["detail"], (body, r.text)


def test_scenarios_are_saved_listed_and_deleted(
    planner: dict, district: dict, live_server: LiveServer, engine: Engine
) -> None:
    lon, lat = 120.0850, 30.3180
    glon, glat = wgs84_to_gcj02(lon, lat)
    clinic = int(district["facility"].query("kind == 'clinic'")["id"].iloc[0])
    body = {
        "name": "诊所调整",
        "kind": "clinic",
        "add": [{"lon": glon, "lat": glat, "name": "新诊所", "capacity": 120, "cost": 3e5}],
        "remove": [clinic],
        "coord_type": "gcj02",
    }
    r = _post(live_server, planner, "/api/planning/scenarios", body)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["remove"] == [clinic]
    assert np.allclose([saved["add"][0]["lon"], saved["add"][0]["lat"]], [lon, lat], atol=1e-5)
    assert _post(live_server, planner, "/api/planning/scenarios", body).status_code == 409
    park = int(district["facility"].query("kind == 'park'")["id"].iloc[0])
    wrong = _post(
        live_server, planner, "/api/planning/scenarios", {**body, "name": "x", "remove": [park]}
    )
    assert wrong.status_code == 422 and "no clinic facility" in wrong.json()["detail"]
    listed = _get(live_server, planner, "/api/planning/scenarios", kind="clinic").json()
    assert [s["name"] for s in listed] == ["诊所调整"] and listed[0]["cost"] == 3e5
    assert (
        _get(live_server, planner, f"/api/planning/scenarios/{saved['id']}").json()["name"]
        == "诊所调整"
    )
    cmp = _get(live_server, planner, "/api/planning/compare", kind="park", scenario="诊所调整")
    assert cmp.status_code == 422 and "plans clinic facilities, not park" in cmp.json()["detail"]
    deleted = httpx.delete(f"{live_server.url}/api/planning/scenarios/诊所调整", headers=planner)
    assert deleted.status_code == 204
    gone = _get(live_server, planner, "/api/planning/scenarios/诊所调整")
    assert gone.status_code == 404 and gone.headers["content-type"] == PROBLEM


def test_a_scenario_key_that_is_no_id_is_a_name_and_capacities_fit_the_column(
    planner: dict, district: dict, live_server: LiveServer
) -> None:
    for key in ("²", "9" * 30, str(2**31)):  # not ASCII, or beyond the integer key
        r = _get(live_server, planner, f"/api/planning/scenarios/{key}")
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, r.text
    site = {"lon": 120.0850, "lat": 30.3180, "capacity": 2**31}
    body = {"name": "太大", "kind": "clinic", "add": [site]}
    r = _post(live_server, planner, "/api/planning/scenarios", body)
    assert r.status_code == 422, r.text
    assert ["body", "add", 0, "capacity"] in [e["loc"] for e in r.json()["errors"]]
    r = _post(live_server, planner, "/api/planning/scenarios", {**body, "name": "太\x00大"})
    assert ["body", "name"] in [e["loc"] for e in r.json()["errors"]]
    names = [s["name"] for s in _get(live_server, planner, "/api/planning/scenarios").json()]
    assert "太大" not in names


PLANNING_DOORS = [
    ("GET", "/api/planning/standards", {}),
    ("GET", "/api/planning/access", {"params": {"kind": "elder_care"}}),
    ("POST", "/api/planning/access", {"json": {"kind": "clinic", "demand": {}}}),
    ("GET", "/api/planning/access/cells", {"params": {"kind": "elder_care"}}),
    ("POST", "/api/planning/solve", {"json": {"kind": "elder_care", "save_as": "偷偷保存"}}),
    ("POST", "/api/planning/scenarios", {"json": {"name": "偷偷保存", "kind": "clinic"}}),
    ("GET", "/api/planning/scenarios", {}),
    ("GET", "/api/planning/scenarios/规划保留", {}),
    ("DELETE", "/api/planning/scenarios/规划保留", {}),
    ("GET", "/api/planning/compare", {"params": {"kind": "clinic", "scenario": "规划保留"}}),
    ("GET", "/planning/access", {"params": {"kind": "elder_care"}}),
    ("GET", "/planning/sites", {"params": {"kind": "elder_care"}}),
    ("GET", "/planning/compare", {"params": {"kind": "clinic", "scenario": "规划保留"}}),
]


def test_only_the_street_offices_staff_may_plan(
    planner: dict, district: dict, live_server: LiveServer, engine: Engine
) -> None:
    kept = _post(
        live_server, planner, "/api/planning/scenarios", {"name": "规划保留", "kind": "clinic"}
    )
    assert kept.status_code == 201, kept.text
    try:
        with engine.connect() as conn:
            grid = conn.execute(
                text(
                    "SELECT g.code, u.username FROM grid g JOIN grid_assignment a "
                    "ON a.grid_id = g.id AND a.role = 'primary' JOIN grid_worker w "
                    "ON w.id = a.worker_id JOIN app_user u ON u.id = w.user_id "
                    "WHERE g.valid_to IS NULL ORDER BY g.code LIMIT 1"
                )
            ).one()
        community = district["admin_area"].query("level == 'community'")["code"].iloc[0]
        resident = issue_token(engine, "plan_resident", "resident")
        worker = issue_token(engine, grid.username, "grid_worker")
        staff = issue_token(engine, "plan_community_staff", "community_staff", community)
        for method, path, options in PLANNING_DOORS:
            url = f"{live_server.url}{path}"
            anonymous = httpx.request(method, url, timeout=60, **options)
            assert anonymous.status_code == 401, (path, anonymous.text)
            for token in (resident, worker):
                headers = {**options.get("headers", {}), **_bearer(token)}
                opts = {**options, "headers": headers}
                r = httpx.request(method, url, timeout=60, **opts)
                assert r.status_code == 403, (path, r.text)
                assert r.headers["content-type"] == PROBLEM
                assert set(r.json()) <= {"type", "title", "status", "detail"}
                assert "规划保留" not in r.text and grid.code not in r.text
        # nothing was saved or deleted by them; a community's staff plan like the street's
        names = [
            s["name"] for s in _get(live_server, _bearer(staff), "/api/planning/scenarios").json()
        ]
        assert "规划保留" in names and "偷偷保存" not in names
        give_password(engine, "plan_community_staff")  # the page, signed in at /login
        with signed_in(live_server.url, "plan_community_staff") as browser:
            page = browser.get("/planning/access", params={"kind": "elder_care"}, headers=HTML)
        assert page.status_code == 200 and "wangge-access" in page.text
    finally:  # the scenario is this test's own: the other tests list the scenarios
        httpx.delete(f"{live_server.url}/api/planning/scenarios/规划保留", headers=planner)


def test_the_command_line_plans_with_progress(
    district: dict, database_url: str, engine: Engine, tmp_path
) -> None:
    out = tmp_path / "access.html"
    r = run_wangge(
        database_url, "plan", "access", "--kind", "elder_care", "--map-out", str(out), "--store"
    )
    assert r.returncode == 0, r.stderr
    assert "elderly_60" in r.stderr and "lacking capacity" in r.stderr
    assert "household_access" in r.stderr and "the previous rows replaced" in r.stderr
    with engine.connect() as conn:
        stored, households = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM household_access WHERE kind = 'elder_care'), "
                "(SELECT count(*) FROM household)"
            )
        ).one()
    assert stored == households
    assert "walking times to the nearest elder_care" in r.stderr  # a progress step
    assert "wangge-access" in out.read_text(encoding="utf-8")

    r = run_wangge(
        database_url, "plan", "solve", "--kind", "elder_care", "--p", "3", "--save", "命令行方案"
    )
    assert r.returncode == 0, r.stderr
    assert "saved as scenario" in r.stderr
    r = run_wangge(
        database_url, "plan", "compare", "--kind", "elder_care", "--scenario", "命令行方案"
    )
    assert r.returncode == 0, r.stderr
    assert "现状" in r.stderr and "命令行方案" in r.stderr

    bad = run_wangge(database_url, "plan", "access", "--kind", "gym")
    assert bad.returncode != 0 and "clinic, elder_care" in bad.stderr


def test_access_on_dask_is_the_one_process_answer(district: dict, engine: Engine) -> None:
    """``wangge plan access --dask``'s use case: a LocalCluster of 2 workers, the same report."""
    import logging

    import distributed  # noqa: F401  (its import sets its loggers' levels: quiet them after)

    from api.services import planning
    from api.services.walking import load_walking
    from grids.access import Principal
    from grids.incidents import SYSTEM

    operator = Principal(0, SYSTEM.username, "系统", SYSTEM.role, grid_ids=None)
    settings = get_settings()
    data = planning.PlanningData(
        engine, load_walking(engine, settings).network, settings.h3_resolution, None, None
    )
    one = planning.access_report(operator, data, "elder_care")
    dask_log = logging.getLogger("distributed")
    level = dask_log.level
    dask_log.setLevel(logging.WARNING)  # its INFO lines carry token-like ids the log scan flags
    try:
        many = planning.access_report(operator, data, "elder_care", on_dask=True)
    finally:
        dask_log.setLevel(level)
    a, b = one.coverage.access, many.coverage.access
    assert 0 < a.served.sum() < len(a.served)
    np.testing.assert_allclose(a.time_s, b.time_s, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(a.facility_id, b.facility_id)
    pd.testing.assert_frame_equal(one.served, many.served)
    pd.testing.assert_frame_equal(one.unserved_by_grid, many.unserved_by_grid)


def _stored(engine: Engine, kind: str) -> pd.DataFrame:
    from gis.store.household_access_store import stored_access

    with engine.connect() as conn:
        return stored_access(conn, kind)


def test_stored_household_access_on_dask_is_the_one_process_rows(
    district: dict, engine: Engine
) -> None:
    """``wangge plan access --store [--dask]``: the same rows either way; a run replaces."""
    import logging

    import distributed  # noqa: F401  (its import sets its loggers' levels: quiet them after)

    from api.services.household_access import store_household_access
    from api.services.walking import load_walking
    from grids.access import Principal
    from grids.incidents import SYSTEM

    operator = Principal(0, SYSTEM.username, "系统", SYSTEM.role, grid_ids=None)
    settings = get_settings()
    data = planning.PlanningData(
        engine, load_walking(engine, settings).network, settings.h3_resolution, None, None
    )
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    with clock.frozen(at):
        one = store_household_access(operator, data, "elder_care")
        rows_one = _stored(engine, "elder_care")
        dask_log = logging.getLogger("distributed")
        level = dask_log.level
        dask_log.setLevel(logging.WARNING)  # its INFO lines carry token-like ids the log scan flags
        try:
            many = store_household_access(operator, data, "elder_care", on_dask=True)
        finally:
            dask_log.setLevel(level)
    rows_many = _stored(engine, "elder_care")
    with engine.connect() as conn:
        households = conn.execute(text("SELECT count(*) FROM household")).scalar_one()
    # one row per household and kind: the second run replaced the first, not added to it
    assert one.households == many.households == len(rows_many) == households
    assert 0 < one.served < households  # some households beyond the standard: exact too
    assert (rows_many["computed_at"] == at).all()
    assert (rows_many["standard_minutes"] == one.standard_minutes).all()
    beyond = rows_many[~rows_many["served"]]
    assert (beyond["minutes"] > one.standard_minutes).all()
    pd.testing.assert_frame_equal(
        rows_one.drop(columns="minutes"), rows_many.drop(columns="minutes")
    )
    np.testing.assert_allclose(rows_one["minutes"], rows_many["minutes"], rtol=0, atol=1e-9)
    stored_grids = rows_many.set_index("household_id")["grid_id"]
    with engine.connect() as conn:
        grids = pd.Series(
            dict(conn.execute(text("SELECT id, grid_id FROM household")).all()), dtype="Int64"
        )
    pd.testing.assert_series_equal(
        stored_grids.sort_index(), grids.sort_index(), check_names=False, check_index_type=False
    )


def test_stored_access_is_seen_as_the_households_are(
    district: dict, engine: Engine, database_url: str, live_server: LiveServer
) -> None:
    """Row security: through the app's role a user sees the access of their households only;
    the summary per grid counts those; a household's access moves with it to another grid."""
    from sqlalchemy import create_engine

    from api.services.household_access import access_rows, household_demand
    from gis.db import principal
    from gis.store.access_store import user_by_name
    from gis.store.household_access_store import replace_access
    from grids.access import Principal

    households = plan_store.demand_households(engine)
    demand = household_demand(households)
    fake = cv.Access(
        "park",
        cv.load_standards()["park"],
        demand,
        np.full(len(demand), 300.0),
        np.full(len(demand), -1, np.int64),
    )
    with clock.frozen(datetime(2026, 3, 1, tzinfo=UTC)) as at:
        replace_access(engine, "park", access_rows(fake, households["id"].to_numpy(), at))
    community = district["admin_area"].query("level == 'community'")["code"].iloc[0]
    staff_token = issue_token(engine, "access_rls_staff", "community_staff", community)
    resident_token = issue_token(engine, "access_rls_resident", "resident")
    app = principal.install(create_engine(database_url), get_settings().db_app_role or "wangge_app")
    seen = {}
    try:
        for name in ("access_rls_staff", "access_rls_resident"):
            with engine.connect() as conn:
                who = Principal.of(user_by_name(conn, name))
            principal.set_principal(principal.DbPrincipal.of(who))
            try:
                with app.connect() as conn:
                    seen[name] = conn.execute(
                        text(
                            "SELECT (SELECT count(*) FROM household_access WHERE kind = 'park'), "
                            "(SELECT count(*) FROM household)"
                        )
                    ).one()
            finally:
                principal.set_principal(None)
    finally:
        app.dispose()
    staff_access, staff_households = seen["access_rls_staff"]
    assert 0 < staff_access == staff_households < len(households)
    assert seen["access_rls_resident"] == (0, 0)

    path = "/api/planning/access/stored"
    r = _get(live_server, _bearer(staff_token), path, kind="park")
    assert r.status_code == 200, r.text
    grids = r.json()["grids"]
    assert sum(g["households"] for g in grids) == staff_households
    assert all(g["served"] == g["households"] and g["median_minutes"] == 5 for g in grids)
    assert _get(live_server, _bearer(resident_token), path, kind="park").status_code == 403
    assert _get(live_server, _bearer(staff_token), path, kind="gym").status_code == 422

    with engine.connect() as conn:  # rolled back: the district stays as it was
        one, other = conn.execute(
            text(
                "SELECT h.id, (SELECT g.id FROM grid g WHERE g.id <> h.grid_id LIMIT 1) "
                "FROM household h WHERE h.grid_id IS NOT NULL ORDER BY h.id LIMIT 1"
            )
        ).one()
        move = text("UPDATE household SET grid_id = :g WHERE id = :h")
        conn.execute(move, {"g": other, "h": one})
        moved = conn.execute(
            text("SELECT grid_id FROM household_access WHERE household_id = :h AND kind = 'park'"),
            {"h": one},
        ).scalar_one()
        conn.rollback()
    assert moved == other


def test_rows_the_store_refuses_leave_the_stored_ones(district: dict, engine: Engine) -> None:
    """Bad rows: every problem named before anything is written; a row the database refuses
    (no such household) rolls the whole run back."""
    from api.services.household_access import access_rows, household_demand
    from gis.errors import ValidationError
    from gis.store.household_access_store import AccessStoreError, replace_access

    households = plan_store.demand_households(engine).head(5)
    demand = household_demand(households)
    times = np.array([60.0, 1200.0, np.inf, 0.0, 30.0])
    fake = cv.Access(
        "school", cv.load_standards()["school"], demand, times, np.full(5, -1, np.int64)
    )
    with clock.frozen(datetime(2026, 3, 1, tzinfo=UTC)) as at:
        rows = access_rows(fake, households["id"].to_numpy(), at)
    assert replace_access(engine, "school", rows) == 5
    before = _stored(engine, "school")
    assert before["minutes"].isna().sum() == 1 and before["served"].sum() == 3

    bad = rows.copy()
    bad.loc[1, "household_id"] = bad.loc[0, "household_id"]
    bad.loc[2, "minutes"] = -1.0
    with pytest.raises(ValidationError) as refused:
        replace_access(engine, "school", bad)
    assert "duplicate household_id" in str(refused.value) and "minutes" in str(refused.value)

    unknown = rows.copy()
    unknown.loc[4, "household_id"] = 10**12
    with pytest.raises(AccessStoreError, match="refused"):
        replace_access(engine, "school", unknown)
    pd.testing.assert_frame_equal(_stored(engine, "school"), before)
