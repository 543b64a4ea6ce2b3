"""Situational awareness from the outside: who may use which door of the command centre,
the check-on lists, alerts, workers' positions and the live picture (401 / 403 / 404,
never the data), over the typhoon of tests/api/awareness_shared.py."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, text

import shapely
from shapely.geometry import mapping

from api.services.accounts import issue_token
from tests.api.awareness_shared import PROBLEM, _bearer, _events

# module-scoped fixtures shared with test_awareness.py: each module loads its own district
from tests.api.awareness_shared import admin as admin
from tests.api.awareness_shared import district as district
from tests.api.awareness_shared import people as people
from tests.api.awareness_shared import typhoon as typhoon
from tests.conftest import LiveServer
from tests.signin import give_password, signed_in


@pytest.fixture(scope="module")
def resident(district: dict, engine: Engine) -> dict:
    return _bearer(issue_token(engine, "aw_resident", "resident"))


@pytest.fixture(scope="module")
def alert(typhoon: dict, live_server: LiveServer, admin: dict) -> dict:
    """An alert to the typhoon's vulnerable residents, sent by the command centre."""
    hid = typhoon["feature"]["id"]
    r = httpx.post(
        f"{live_server.url}/api/hazards/{hid}/alerts",
        json={"group": "vulnerable"},
        headers=admin,
        timeout=120,
    )
    assert r.status_code == 201, r.text
    status = httpx.get(f"{live_server.url}/api/alerts/{r.json()['alert_id']}", headers=admin)
    return status.json()


def _command_centre_doors(hid: int, alert_id: int, community: str, band: shapely.Geometry):
    """(method, path, request options) of every command-centre door."""
    return [
        ("GET", "/api/awareness/aggregates", {}),
        ("GET", "/api/awareness/hotspots", {}),
        ("GET", "/api/awareness/warnings", {}),
        ("GET", "/api/hazards", {}),
        (
            "POST",
            "/api/hazards",
            {"params": {"kind": "flood", "severity": 2}, "json": mapping(band)},
        ),
        ("GET", f"/api/hazards/{hid}", {}),
        ("GET", f"/api/hazards/{hid}/impact", {}),
        ("POST", f"/api/hazards/{hid}/alerts", {"json": {"group": "vulnerable"}}),
        ("GET", f"/api/alerts/{alert_id}", {"params": {"recipients": True}}),
        ("GET", "/api/live", {}),
        ("GET", "/api/live/incidents", {}),
        ("GET", "/api/live/stream", {}),
        ("GET", "/live", {}),
        ("GET", "/reports/daily", {"params": {"community": community}}),
    ]


def _no_data(r: httpx.Response, *secrets: object) -> None:
    """A refusal is a problem document and carries none of the data behind the door."""
    assert r.headers["content-type"].startswith(PROBLEM), r.text
    assert set(r.json()) <= {"type", "title", "status", "detail"}
    for secret in secrets:
        assert str(secret) not in r.text


def _pending_elsewhere(alert: dict, own: set[str]) -> tuple[str, int]:
    grid = next(
        g for g in alert["grids"] if g["grid_code"] not in own and g["pending_resident_ids"]
    )
    return grid["grid_code"], grid["pending_resident_ids"][0]


def test_without_a_token_every_door_is_401(
    typhoon: dict, alert: dict, people: dict, live_server: LiveServer
) -> None:
    hid, alert_id = typhoon["feature"]["id"], alert["id"]
    doors = _command_centre_doors(hid, alert_id, people["community"], typhoon["wgs84"])
    doors += [
        ("GET", f"/api/hazards/{hid}/check-on", {"params": {"grid": people["mine"]["code"]}}),
        ("POST", f"/api/alerts/{alert_id}/confirm", {"json": {"resident_ids": [1]}}),
        ("POST", f"/api/workers/{people['worker_id']}/position", {"json": {"lon": 120, "lat": 30}}),
    ]
    for method, path, options in doors:
        r = httpx.request(method, f"{live_server.url}{path}", timeout=30, **options)
        assert r.status_code == 401, (path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        _no_data(r, people["mine"]["code"])


def test_a_resident_is_refused_every_door_and_sees_no_data(
    typhoon: dict,
    alert: dict,
    people: dict,
    resident: dict,
    live_server: LiveServer,
    engine: Engine,
) -> None:
    hid, alert_id = typhoon["feature"]["id"], alert["id"]
    pending = alert["grids"][0]["pending_resident_ids"]
    doors = _command_centre_doors(hid, alert_id, people["community"], typhoon["wgs84"])
    doors += [
        ("GET", f"/api/hazards/{hid}/check-on", {"params": {"grid": people["mine"]["code"]}}),
        ("GET", f"/api/hazards/{hid}/check-on", {}),
        ("POST", f"/api/alerts/{alert_id}/confirm", {"json": {"resident_ids": pending}}),
        ("POST", f"/api/workers/{people['worker_id']}/position", {"json": {"lon": 120, "lat": 30}}),
    ]
    for method, path, options in doors:
        r = httpx.request(
            method, f"{live_server.url}{path}", headers=resident, timeout=30, **options
        )
        assert r.status_code == 403, (path, r.text)
        _no_data(r, people["mine"]["code"], *pending[:3])
    # the live stream with a resident's session cookie, as the browser's EventSource sends it
    give_password(engine, "aw_resident")
    with signed_in(live_server.url, "aw_resident", timeout=30) as browser:
        r = browser.get("/api/live/stream")
    assert r.status_code == 403 and "event:" not in r.text
    # and with the key in the URL: refused before anything is read
    key = resident["Authorization"].split()[1]
    r = httpx.get(f"{live_server.url}/api/live/stream", params={"api_key": key}, timeout=30)
    assert r.status_code == 400 and "event:" not in r.text and key not in r.text


def test_a_grid_worker_gets_their_own_check_on_list_and_no_command_centre_door(
    typhoon: dict, alert: dict, people: dict, live_server: LiveServer
) -> None:
    hid = typhoon["feature"]["id"]
    worker, mine, other = people["worker"], people["mine"], people["other"]
    for method, path, options in _command_centre_doors(
        hid, alert["id"], people["community"], typhoon["wgs84"]
    ):
        r = httpx.request(method, f"{live_server.url}{path}", headers=worker, timeout=30, **options)
        assert r.status_code == 403, (path, r.text)
        _no_data(r, other["code"])
    url = f"{live_server.url}/api/hazards/{hid}/check-on"
    own = httpx.get(url, params={"grid": mine["code"]}, headers=worker, timeout=120)
    assert own.status_code == 200, own.text
    assert own.json()["count"] == mine["check_on"] > 0
    # another grid's list (its residents) is not theirs: 404, as if it did not exist
    admin_view = httpx.get(url, params={"grid": other["code"]}, headers=people["street_staff"])
    theirs = {f["properties"]["resident_id"] for f in admin_view.json()["features"]}
    assert theirs
    refused = httpx.get(url, params={"grid": other["code"]}, headers=worker, timeout=120)
    assert refused.status_code == 404
    _no_data(refused, *sorted(theirs)[:5])
    # without a grid: every row of their own grids, none of another's
    everything = httpx.get(url, headers=worker, timeout=120).json()
    codes = {f["properties"]["grid_code"] for f in everything["features"]}
    assert mine["code"] in codes and other["code"] not in codes
    assert not theirs & {f["properties"]["resident_id"] for f in everything["features"]}


def test_staff_see_their_area_and_another_communitys_is_404(
    typhoon: dict, people: dict, live_server: LiveServer, engine: Engine, district: dict
) -> None:
    hid = typhoon["feature"]["id"]
    url = f"{live_server.url}/api/hazards/{hid}/check-on"
    mine = people["mine"]
    ok = httpx.get(url, params={"grid": mine["code"]}, headers=people["staff"], timeout=120)
    assert ok.status_code == 200 and ok.json()["count"] == mine["check_on"]
    ids = [f["properties"]["resident_id"] for f in ok.json()["features"]]
    assert not {"name", "phone", "id_number"} & set(ok.json()["features"][0]["properties"])
    refused = httpx.get(url, params={"grid": mine["code"]}, headers=people["other_staff"])
    assert refused.status_code == 404
    _no_data(refused, *ids[:5])
    # the impact: grid rows and check-on counts of their own area only
    impact = httpx.get(
        f"{live_server.url}/api/hazards/{hid}/impact", headers=people["other_staff"], timeout=120
    ).json()
    assert all(g["code"].startswith(people["other_community"]) for g in impact["grids"])
    assert mine["code"] not in {g["code"] for g in impact["grids"]}
    assert impact["check_on"] == sum(g["check_on"] for g in impact["grids"])
    # daily reports: their community yes; another community or the street around it, 404
    report = f"{live_server.url}/reports/daily"
    own = httpx.get(report, params={"community": people["community"]}, headers=people["staff"])
    assert own.status_code == 200 and "每日态势报告" in own.text
    name = district["admin_area"].set_index("code").loc[people["community"], "name"]
    other = httpx.get(
        report, params={"community": people["community"]}, headers=people["other_staff"]
    )
    assert other.status_code == 404
    _no_data(other, name)
    street = httpx.get(report, params={"street": people["street"]}, headers=people["staff"])
    assert street.status_code == 404
    by_street = httpx.get(
        report, params={"street": people["street"]}, headers=people["street_staff"], timeout=120
    )
    assert by_street.status_code == 200 and "分社区情况" in by_street.text


def test_the_live_incidents_and_stream_carry_only_the_staff_members_grids(
    people: dict, live_server: LiveServer, engine: Engine, district: dict, admin: dict
) -> None:
    # an open case in each of the two communities, reported through the API: what the
    # sample leaves open depends on the clock's weekday and hour (some hours, none in one)
    grids = district["grid"]
    for code in (people["community"], people["other_community"]):
        spot = grids[grids["community_code"] == code].geometry.iloc[0].representative_point()
        body = {"category_code": "10101", "description": "井盖缺失", "lon": spot.x, "lat": spot.y}
        r = httpx.post(f"{live_server.url}/api/incidents", json=body, headers=admin, timeout=60)
        assert r.status_code == 201, r.text
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT i.id, c.code FROM incident i JOIN grid g ON g.id = i.grid_id "
                "JOIN admin_area c ON c.id = g.community_id "
                "WHERE i.state NOT IN ('closed', 'rated', 'rejected') ORDER BY i.id"
            )
        ).all()
    in_mine = {i for i, c in rows if c == people["community"]}
    in_theirs = {i for i, c in rows if c == people["other_community"]}
    assert in_mine and in_theirs
    listed = httpx.get(f"{live_server.url}/api/live/incidents", headers=people["staff"]).json()
    assert {r["id"] for r in listed} == in_mine
    snapshot = httpx.get(f"{live_server.url}/api/live", headers=people["other_staff"]).json()
    assert snapshot["open_incidents"] == len(in_theirs)

    # each wall screen reads the stream with its session cookie, as EventSource does
    for name in ("aw_staff_mine", "aw_staff_theirs"):
        give_password(engine, name)
    first, second = min(in_mine), min(in_theirs)
    with (
        signed_in(live_server.url, "aw_staff_mine", timeout=30) as mine_screen,
        signed_in(live_server.url, "aw_staff_theirs", timeout=30) as theirs_screen,
        mine_screen.stream("GET", "/api/live/stream") as one,
        theirs_screen.stream("GET", "/api/live/stream") as two,
    ):
        assert one.status_code == two.status_code == 200
        seen_mine, seen_theirs = _events(one.iter_lines()), _events(two.iter_lines())
        assert next(seen_mine)[0] == next(seen_theirs)[0] == "ready"
        for incident_id in (first, second):  # one change in each community, in this order
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE incident SET state = 'in_progress' WHERE id = :id"),
                    {"id": incident_id},
                )
        # each screen's first incident event is its own community's: the other was withheld
        assert next(seen_theirs)[1]["id"] == second
        assert next(seen_mine)[1]["id"] == first


def test_a_worker_reports_only_their_own_position(
    people: dict, resident: dict, live_server: LiveServer, engine: Engine, district: dict
) -> None:
    lon, lat = district["road_node"].geometry.iloc[7].coords[0]
    with engine.connect() as conn:
        other = conn.execute(
            text("SELECT min(id) FROM grid_worker WHERE id <> :w"), {"w": people["worker_id"]}
        ).scalar_one()
    url = f"{live_server.url}/api/workers/{other}/position"
    for who in (people["worker"], people["staff"], people["street_staff"], resident):
        r = httpx.post(url, json={"lon": lon, "lat": lat}, headers=who)
        assert r.status_code == 403, r.text
        _no_data(r, f"{lon:.5f}")
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM worker_position WHERE worker_id = :w"), {"w": other}
        ).scalar_one()
    assert stored == 0


def test_a_worker_confirms_only_recipients_of_their_grids_and_staff_see_only_theirs(
    alert: dict, people: dict, live_server: LiveServer, engine: Engine
) -> None:
    with engine.connect() as conn:
        own = set(
            conn.execute(
                text(
                    "SELECT g.code FROM grid_assignment a JOIN grid g ON g.id = a.grid_id "
                    "WHERE a.worker_id = :w"
                ),
                {"w": people["worker_id"]},
            ).scalars()
        )
    code, resident_id = _pending_elsewhere(alert, own)
    url = f"{live_server.url}/api/alerts/{alert['id']}/confirm"
    r = httpx.post(url, json={"resident_ids": [resident_id]}, headers=people["worker"])
    assert r.status_code in (404, 422), r.text
    assert code not in r.text
    with engine.connect() as conn:
        confirmed = conn.execute(
            text(
                "SELECT confirmed_at FROM alert_recipient WHERE alert_id = :a AND resident_id = :r"
            ),
            {"a": alert["id"], "r": resident_id},
        ).scalar_one()
    assert confirmed is None
    # the status an area's staff read: their grids, and the counts over them
    for who in ("staff", "other_staff"):
        r = httpx.get(
            f"{live_server.url}/api/alerts/{alert['id']}",
            params={"recipients": True},
            headers=people[who],
        )
        if r.status_code == 404:  # the alert reached nobody in their area
            continue
        body = r.json()
        assert body["recipients"] == sum(g["recipients"] for g in body["grids"])
        grid_ids = {g["grid_id"] for g in body["grids"]}
        assert {row["grid_id"] for row in body["recipient_list"]} <= grid_ids
        assert grid_ids < {g["grid_id"] for g in alert["grids"]}


def test_an_open_live_stream_ends_when_its_token_is_revoked(
    people: dict, live_server: LiveServer, engine: Engine, district: dict, admin: dict
) -> None:
    """The trial's stream: revoked, it went on carrying the area's cases for 15 minutes."""
    from api.services.accounts import revoke_tokens

    screen = _bearer(
        issue_token(engine, "aw_stream_revoked", "community_staff", people["community"])
    )
    grids = district["grid"]
    spot = grids[grids["community_code"] == people["community"]].geometry.iloc[0]
    spot = spot.representative_point()
    body = {"category_code": "10101", "description": "路灯不亮", "lon": spot.x, "lat": spot.y}
    with httpx.stream(
        "GET", f"{live_server.url}/api/live/stream", headers=screen, timeout=30
    ) as stream:
        assert stream.status_code == 200
        events = _events(stream.iter_lines())
        assert next(events)[0] == "ready"
        assert revoke_tokens(engine, "aw_stream_revoked") == 1
        filed = httpx.post(f"{live_server.url}/api/incidents", json=body, headers=admin, timeout=60)
        assert filed.status_code == 201, filed.text
        assert next(events) == ("ended", {"reason": "signed_out"})
        assert next(events, None) is None  # the server closed it; no case came after
    again = httpx.get(f"{live_server.url}/api/live/stream", headers=screen, timeout=30)
    assert again.status_code == 401
