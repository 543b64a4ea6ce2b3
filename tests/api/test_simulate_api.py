"""The re-division simulator over HTTP and the command line, on the sample district's history."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, text

import shapely
from shapely.geometry import box, mapping, shape

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from tests.conftest import LiveServer, run_wangge


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    load_layers(engine, generate_district(3000, 41, progress=False), replace=True, progress=False)
    with engine.connect() as conn:
        street = conn.execute(
            text("SELECT username FROM app_user WHERE role = 'street_staff' ORDER BY id LIMIT 1")
        ).scalar_one()
        staff = conn.execute(
            text("SELECT username FROM app_user WHERE role = 'community_staff' ORDER BY id LIMIT 1")
        ).scalar_one()
        community = conn.execute(
            text(
                "SELECT c.code FROM admin_area c JOIN grid g ON g.community_id = c.id "
                "WHERE g.valid_to IS NULL GROUP BY c.code HAVING count(*) >= 2 "
                "ORDER BY c.code LIMIT 1"
            )
        ).scalar_one()

    def bearer(user: str, role: str) -> dict:
        return {"Authorization": f"Bearer {issue_token(engine, user, role)}"}

    grids = httpx.get(f"{live_server.url}/api/grids", params={"community": community}).json()
    return {
        "url": live_server.url,
        "street": bearer(street, "street_staff"),
        "staff": bearer(staff, "community_staff"),
        "resident": bearer("resident00001", "resident"),
        "street_name": street,
        "community": community,
        "grids": grids,
    }


def _simulate(district: dict, who: str = "street", **body) -> httpx.Response:
    return httpx.post(
        f"{district['url']}/api/grids/simulate", json=body, headers=district[who], timeout=300
    )


def test_today_s_layout_against_itself_changes_nothing(district: dict) -> None:
    r = _simulate(district, layout=district["grids"])
    assert r.status_code == 200, r.text
    body = r.json()
    model = body["model"]
    assert [c["name"] for c in model["coefficients"]] == ["intercept", "open_load", "walk_min"]
    assert model["n"] > 30 and 0 <= model["pseudo_r2"] < 1
    assert body["walk_basis"] == "road network"
    today = {g["key"]: g for g in body["grids"] if g["layout"] == "today"}
    cand = {g["key"]: g for g in body["grids"] if g["layout"] == "candidate"}
    assert (
        set(today) == set(cand) == {f["properties"]["code"] for f in district["grids"]["features"]}
    )
    for key, g in cand.items():
        t = today[key]
        for column in ("worker_id", "households", "vulnerable", "incidents", "due", "categories"):
            assert g[column] == t[column], (key, column)
        assert g["on_time_expected"] == pytest.approx(t["on_time_expected"])
    assert all(w["change"] == "no change" for w in body["workers"])
    assert sum(g["incidents"] for g in cand.values()) == body["cases"] > 0


def test_a_candidate_in_two_halves_keeps_every_case_and_home(district: dict) -> None:
    area = shapely.union_all([shape(f["geometry"]) for f in district["grids"]["features"]])
    w, s, e, n = area.bounds
    halves = [
        area.intersection(box(w, s, (w + e) / 2, n)),
        area.intersection(box((w + e) / 2, s, e, n)),
    ]
    layout = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"key": f"H{i}", "name": f"半区{i}"},
                "geometry": mapping(h),
            }
            for i, h in enumerate(halves)
        ],
    }
    r = _simulate(district, layout=layout, months=6)
    assert r.status_code == 200, r.text
    body = r.json()
    today = [g for g in body["grids"] if g["layout"] == "today"]
    cand = [g for g in body["grids"] if g["layout"] == "candidate"]
    assert [g["key"] for g in cand] == ["H0", "H1"]
    assert sum(g["incidents"] for g in today) == sum(g["incidents"] for g in cand) == body["cases"]
    assert sum(g["households"] for g in today) == pytest.approx(sum(g["households"] for g in cand))
    assert all(g["worker_id"] is not None for g in cand)
    assert all(0 < g["on_time_expected"] < 1 for g in cand if g["due"])
    assert any("→" in w["change"] for w in body["workers"])
    assert len(body["candidate"]["features"]) == 2 and body["today"]["features"]


def test_the_designer_s_proposal_from_the_command_line(district: dict, database_url: str) -> None:
    done = run_wangge(
        database_url,
        "grids",
        "simulate",
        "--design",
        "--community",
        district["community"],
        "--as",
        district["street_name"],
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    assert "on-time model" in done.stdout and "what would change" in done.stdout
    assert "held-out check" in done.stderr
    bad = run_wangge(database_url, "grids", "simulate")
    assert bad.returncode != 0 and "give one candidate" in bad.stderr


def test_only_street_staff_simulate(district: dict) -> None:
    assert _simulate(district, "staff", layout=district["grids"]).status_code == 403
    assert _simulate(district, "resident", layout=district["grids"]).status_code == 403


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "give one candidate"),
        ({"design": True}, "needs the community"),
        ({"layout": {"type": "Feature"}}, "FeatureCollection"),
        ({"months": 0, "design": True, "community": "330106109001"}, "months"),
        (
            {
                "layout": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {},
                            "geometry": {
                                "type": "Polygon",
                                "coordinates": [
                                    [
                                        [120, 30],
                                        [120.01, 30.01],
                                        [120.01, 30],
                                        [120, 30.01],
                                        [120, 30],
                                    ]
                                ],
                            },
                        }
                    ],
                }
            },
            "not valid polygons",
        ),
    ],
)
def test_bad_requests_are_a_clear_422(district: dict, body: dict, says: str) -> None:
    r = _simulate(district, **body)
    assert r.status_code == 422, r.text
    assert says in r.text
