"""Dispatching incidents over HTTP: the recommended worker and why, batch re-dispatch
(preview, confirm, conflicts), who may take a case within the caller's area, and two
writers racing for one case."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services.accounts import issue_token
from tests.api.incidents_shared import _act, _report

# module-scoped fixtures shared with test_incidents_api.py: each module loads its own district
from tests.api.incidents_shared import district as district
from tests.api.incidents_shared import people as people
from tests.conftest import LiveServer


def test_two_taps_on_one_task_one_wins_nothing_lost(
    live_server: LiveServer, people: dict, area: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    case = _report(live_server, people["resident"], lon, lat).json()["id"]
    _act(live_server, people["staff"], case, "register")
    _act(live_server, people["staff"], case, "dispatch", assignee_id=people["worker_id"])
    with engine.connect() as conn:  # a worker on duty the staff may give the case to
        colleague = conn.execute(
            text("SELECT min(id) FROM grid_worker WHERE on_duty AND id = ANY(:w)"),
            {"w": list(area["community"] - {people["worker_id"]})},
        ).scalar()
    for _ in range(3):  # several rounds: start vs reassign racing
        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(_act, live_server, people["worker"], case, "start")
            b = pool.submit(
                _act,
                live_server,
                people["staff"],
                case,
                "reassign",
                assignee_id=colleague,
            )
            codes = sorted([a.result().status_code, b.result().status_code])
        assert codes in ([200, 200], [200, 409], [200, 403]), codes
        detail = httpx.get(f"{live_server.url}/api/incidents/{case}", headers=people["admin"])
        history = detail.json()["history"]
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT count(*) FROM incident_event WHERE incident_id = :i"), {"i": case}
            ).scalar()
        assert stored == len(history)
        # put it back for the next round
        if detail.json()["assignee_id"] != people["worker_id"]:
            _act(live_server, people["staff"], case, "reassign", assignee_id=people["worker_id"])
        if detail.json()["state"] == "in_progress":
            _act(
                live_server,
                people["staff"],
                case,
                "reassign",
                assignee_id=colleague,
            )
            _act(live_server, people["staff"], case, "reassign", assignee_id=people["worker_id"])
    # the same worker tapping "start" twice at once: exactly one succeeds
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(lambda _: _act(live_server, people["worker"], case, "start"), range(2))
        )
    assert sorted(r.status_code for r in results) == [200, 409]


def test_dispatch_goes_to_the_primary_worker_with_a_reason(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    case = _report(live_server, people["resident"], lon, lat).json()["id"]
    _act(live_server, people["staff"], case, "register")
    url = f"{live_server.url}/api/incidents/{case}/recommendation"
    assert httpx.get(url, headers=people["worker"]).status_code == 403
    with engine.connect() as conn:
        on_duty, load, limit = conn.execute(
            text(
                "SELECT w.on_duty, (SELECT count(*) FROM incident WHERE assignee_id = w.id AND "
                "state IN ('dispatched','in_progress','returned','escalated')), w.max_open_tasks "
                "FROM grid_worker w WHERE id = :w"
            ),
            {"w": people["worker_id"]},
        ).one()
    rec = httpx.get(url, headers=people["staff"]).json()
    if on_duty and load < limit:
        assert rec["rule"] == "primary" and rec["worker_id"] == people["worker_id"]
    else:
        assert rec["rule"] in ("backup", "best") and rec["worker_id"] != people["worker_id"]
    assert rec["reason"]
    r = _act(live_server, people["staff"], case, "dispatch")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["assignee_id"] == rec["worker_id"]
    assert body["history"][-1]["note"].startswith("推荐派遣")


# ---------------------------------------------------------------------- batch re-dispatch
REDISPATCH = "/api/incidents/redispatch"


@pytest.fixture(scope="module")
def area(engine: Engine, people: dict) -> dict:
    """The workers around the people's grid: its own, its community's, the street's, and a
    street staff token."""
    with engine.connect() as conn:
        own = conn.execute(
            text("SELECT worker_id FROM grid_assignment WHERE grid_id = :g"),
            {"g": people["grid_id"]},
        ).scalars()
        homes = conn.execute(
            text(
                "SELECT a.worker_id, g.community_id FROM grid_assignment a "
                "JOIN grid g ON g.id = a.grid_id AND g.valid_to IS NULL WHERE a.role = 'primary'"
            )
        ).all()
        community, street = conn.execute(
            text(
                "SELECT c.id, s.code FROM grid g JOIN admin_area c ON c.id = g.community_id "
                "JOIN admin_area s ON s.id = c.parent_id WHERE g.id = :g"
            ),
            {"g": people["grid_id"]},
        ).one()
    return {
        "own": set(own),
        "community": {w for w, c in homes if c == community},
        "elsewhere": {w for w, c in homes if c != community},
        "street": bearer(issue_token(engine, "street_test_mine", "street_staff", street)),
    }


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def _workers_set(engine: Engine, on_duty: dict[int, bool], backup: tuple[int, int] | None = None):
    """Set workers on or off duty and make ``backup`` = (worker, grid) a backup; restore."""
    with engine.begin() as conn:
        before = conn.execute(
            text("SELECT id, on_duty FROM grid_worker WHERE id = ANY(:w)"), {"w": list(on_duty)}
        ).all()
        duty = text("UPDATE grid_worker SET on_duty = :d WHERE id = :w")
        for worker, flag in on_duty.items():
            conn.execute(duty, {"d": flag, "w": worker})
        if backup is not None:
            conn.execute(
                text(
                    "INSERT INTO grid_assignment (worker_id, grid_id, role) "
                    "VALUES (:w, :g, 'backup')"
                ),
                {"w": backup[0], "g": backup[1]},
            )
    try:
        yield
    finally:
        with engine.begin() as conn:
            for worker, flag in before:
                conn.execute(duty, {"d": flag, "w": worker})
            if backup is not None:
                conn.execute(
                    text("DELETE FROM grid_assignment WHERE worker_id = :w AND grid_id = :g"),
                    {"w": backup[0], "g": backup[1]},
                )


def _registered(server: LiveServer, people: dict, n: int) -> list[int]:
    """``n`` new registered cases of our own in the people's grid."""
    lon, lat = people["point"]
    cases = []
    for k in range(n):
        case = _report(server, people["resident"], lon + k * 1e-5, lat, category_code="10201")
        cases.append(case.json()["id"])
        assert _act(server, people["staff"], cases[-1], "register").status_code == 200
    return cases


def _snapshot(engine: Engine) -> dict[int, tuple]:
    """Every incident's state, worker, deadline and the ids of its history rows."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT i.id, i.state, i.assignee_id, i.deadline, (SELECT array_agg(e.id "
                "ORDER BY e.id) FROM incident_event e WHERE e.incident_id = i.id) FROM incident i"
            )
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def _preview(server: LiveServer, headers: dict, **body) -> dict:
    r = httpx.post(f"{server.url}{REDISPATCH}", json=body, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def test_redispatch_preview_changes_nothing_and_shows_each_move(
    live_server: LiveServer, people: dict, area: dict, engine: Engine
) -> None:
    cases = _registered(live_server, people, 3)
    away = min(area["community"] - area["own"])  # a worker of another grid of the community
    assert _act(live_server, people["staff"], cases[2], "dispatch", assignee_id=away).is_success
    for headers in (people["resident"], people["worker"]):
        r = httpx.post(f"{live_server.url}{REDISPATCH}", json={}, headers=headers)
        assert r.status_code == 403
    with _workers_set(engine, {w: True for w in area["own"]}):
        before = _snapshot(engine)
        got = _preview(live_server, people["staff"], include_dispatched=True, incident_ids=cases)
        assert _snapshot(engine) == before  # nothing assigned, no history written
    assert len(got["preview_id"]) == 64 and got["widen"] == "grid" and got["cases"] == 3
    moves = {m["incident_id"]: m for m in got["moves"]}
    assert set(moves) == set(cases)
    for case in cases[:2]:
        assert moves[case]["action"] == "dispatch" and moves[case]["from_worker_id"] is None
        assert moves[case]["current_travel_s"] is None
    back = moves[cases[2]]  # the dispatched case goes back to its grid's own workers
    assert back["action"] == "reassign" and back["from_worker_id"] == away
    assert back["current_travel_s"] > 0 and back["from_worker_name"]
    for m in moves.values():
        assert m["to_worker_id"] in area["own"] and m["relation"] in ("primary", "backup")
        assert m["grid_code"] == people["grid_code"] and m["to_worker_name"]
        assert m["reason"].startswith(("主责网格员", "备用网格员")) and m["travel_s"] >= 0
        assert m["version"] == before[m["incident_id"]][3][-1]
    assert got["assigned"] == 3 and got["current_assigned"] == 1
    assert got["cost"] <= got["greedy_cost"] + 0.01
    assert got["current_cost"] > 0


def test_redispatch_keeps_a_case_with_its_grid_and_never_leaves_the_area(
    live_server: LiveServer, people: dict, area: dict, engine: Engine
) -> None:
    cases = _registered(live_server, people, 2)
    outsider = min(area["elsewhere"])  # of another community, made a backup of our grid
    duty = {w: False for w in area["own"]} | {outsider: True}
    duty |= {w: True for w in area["community"] - area["own"]}
    with _workers_set(engine, duty, backup=(outsider, people["grid_id"])):
        # the grid's own workers of the community are off duty: nobody, and says why
        got = _preview(live_server, people["staff"], incident_ids=cases)
        assert got["moves"] == []
        assert {u["incident_id"] for u in got["unassigned"]} == set(cases)
        assert all("widen" in u["reason"] for u in got["unassigned"])
        # a case the admin gave the outsider by hand is not kept there by the batch either
        handed = _registered(live_server, people, 1)[0]
        assert _act(
            live_server, people["admin"], handed, "dispatch", assignee_id=outsider
        ).is_success
        got = _preview(live_server, people["staff"], incident_ids=[handed], include_dispatched=True)
        assert got["moves"] == [] and got["unchanged"] == []
        assert [(u["incident_id"], u["stays_with"]) for u in got["unassigned"]] == [
            (handed, outsider)
        ]
        cases.append(handed)
        # the street's staff may use the backup from the next community: it is the grid's own
        got = _preview(live_server, area["street"], incident_ids=cases[:2])
        assert {m["incident_id"] for m in got["moves"]} == set(cases[:2])
        assert {(m["to_worker_id"], m["relation"]) for m in got["moves"]} == {(outsider, "backup")}
        # widened, the community's other workers, never the outsider of another community
        for widen in ("community", "area"):
            got = _preview(
                live_server,
                people["staff"],
                incident_ids=cases,
                widen=widen,
                include_dispatched=True,
            )
            assert {m["incident_id"] for m in got["moves"]} == set(cases), widen
            to = {m["to_worker_id"] for m in got["moves"]}
            assert to <= area["community"] - area["own"], widen
            assert {m["relation"] for m in got["moves"]} == {"community"}
        # the street's staff, widened to their area, stay in the street
        got = _preview(
            live_server, area["street"], incident_ids=cases, widen="area", include_dispatched=True
        )
        assert {m["incident_id"] for m in got["moves"]} | set(got["unchanged"]) == set(cases)
        assert {m["to_worker_id"] for m in got["moves"]} <= area["community"] | area["elsewhere"]
    # the outsider's load back as it was
    assert _act(
        live_server, people["staff"], handed, "reassign", assignee_id=min(area["own"])
    ).is_success


def test_confirm_applies_exactly_the_preview_and_reports_a_changed_case(
    live_server: LiveServer, people: dict, area: dict, engine: Engine
) -> None:
    cases = _registered(live_server, people, 3)
    url = f"{live_server.url}{REDISPATCH}"
    with _workers_set(engine, {w: True for w in area["own"]}):
        got = _preview(live_server, people["staff"], incident_ids=cases)
    assert {m["incident_id"] for m in got["moves"]} == set(cases)
    confirm = {"confirm": got["preview_id"], "widen": got["widen"], "moves": got["moves"]}
    # someone dispatches one of them by hand meanwhile
    changed = cases[1]
    hand = min(area["own"])
    assert _act(live_server, people["staff"], changed, "dispatch", assignee_id=hand).is_success
    before = _snapshot(engine)
    # a move altered, or a preview that is not theirs: not found, nothing applied
    altered = [dict(m) for m in got["moves"]]
    altered[0]["to_worker_id"] = min(area["elsewhere"])
    r = httpx.post(url, json=confirm | {"moves": altered}, headers=people["staff"])
    assert r.status_code == 404
    assert httpx.post(url, json=confirm, headers=people["other_staff"]).status_code == 404
    assert httpx.post(url, json=confirm, headers=people["worker"]).status_code == 403
    assert _snapshot(engine) == before
    r = httpx.post(url, json=confirm, headers=people["staff"], timeout=60)
    assert r.status_code == 200, r.text
    run = r.json()
    assert [c["incident_id"] for c in run["conflicts"]] == [changed]
    assert "changed since the preview" in run["conflicts"][0]["reason"]
    after = _snapshot(engine)
    assert {i for i in after if after[i] != before.get(i)} == set(cases) - {changed}
    moves = {m["incident_id"]: m for m in got["moves"]}
    assert {a["incident_id"] for a in run["applied"]} == set(cases) - {changed}
    for case in set(cases) - {changed}:
        detail = httpx.get(f"{live_server.url}/api/incidents/{case}", headers=people["staff"])
        body = detail.json()
        assert body["state"] == "dispatched"
        assert body["assignee_id"] == moves[case]["to_worker_id"]
        last = body["history"][-1]
        assert last["action"] == "dispatch" and last["actor"] == "staff_test_mine"
        assert got["preview_id"][:12] in last["note"] and moves[case]["reason"] in last["note"]
    # the hand-dispatched case keeps the hand's worker and history
    assert after[changed] == before[changed]
    # confirming again moves nothing: every case has changed since the preview
    again = httpx.post(url, json=confirm, headers=people["staff"]).json()
    assert again["applied"] == [] and len(again["conflicts"]) == 3
    assert _snapshot(engine) == after


def test_staff_of_another_area_get_nothing_of_this_area(
    live_server: LiveServer, people: dict, area: dict, engine: Engine
) -> None:
    cases = _registered(live_server, people, 2)
    away = min(area["community"] - area["own"])
    assert _act(live_server, people["staff"], cases[1], "dispatch", assignee_id=away).is_success
    theirs = _preview(live_server, people["other_staff"], include_dispatched=True, widen="area")
    listed = (
        {m["incident_id"] for m in theirs["moves"]}
        | set(theirs["unchanged"])
        | {u["incident_id"] for u in theirs["unassigned"]}
    )
    assert not listed & set(cases)
    assert not {m["to_worker_id"] for m in theirs["moves"]} & area["community"]
    r = httpx.post(
        f"{live_server.url}{REDISPATCH}",
        json={"incident_ids": cases},
        headers=people["other_staff"],
    )
    assert r.status_code == 404 and str(cases[0]) in r.json()["detail"]
    mine = _preview(live_server, people["staff"], include_dispatched=True, incident_ids=cases)
    before = _snapshot(engine)
    confirm = {"confirm": mine["preview_id"], "widen": "grid", "moves": mine["moves"]}
    r = httpx.post(f"{live_server.url}{REDISPATCH}", json=confirm, headers=people["other_staff"])
    assert r.status_code == 404
    assert _snapshot(engine) == before


# ---------------------------------------------------------------------- one case: who may take it
def _recommend(server: LiveServer, headers: dict, case: int) -> dict:
    r = httpx.get(f"{server.url}/api/incidents/{case}/recommendation", headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def _named(rec: dict) -> set[int]:
    """Every worker a recommendation names: the chosen one and the alternatives."""
    return {w for w in [rec["worker_id"], *(a["worker_id"] for a in rec["alternatives"])] if w}


def _open_tasks(engine: Engine, worker: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM incident WHERE assignee_id = :w AND state IN "
                "('dispatched', 'in_progress', 'returned', 'escalated')"
            ),
            {"w": worker},
        ).scalar()


def test_recommendation_stays_in_the_area_and_community_past_nearer_workers(
    live_server: LiveServer, people: dict, area: dict, engine: Engine
) -> None:
    # a case at the edge of the community, by the nearest worker of the next community
    # of the street, and the community's worker farthest from it (not one of the grid's own)
    with engine.connect() as conn:
        grid, near, lon, lat = conn.execute(
            text(
                """
                WITH pos AS (
                    SELECT DISTINCT ON (a.worker_id) a.worker_id, g.community_id,
                           ST_PointOnSurface(g.geom) AS pt
                    FROM grid_assignment a JOIN grid g ON g.id = a.grid_id AND g.valid_to IS NULL
                    WHERE a.role = 'primary' ORDER BY a.worker_id, g.code
                ), edge AS (
                    SELECT g.id, o.worker_id, ST_ClosestPoint(
                        ST_Buffer(g.geom::geography, -40)::geometry, o.pt) AS p
                    FROM grid g JOIN admin_area mc ON mc.id = g.community_id
                    JOIN pos o ON o.community_id <> g.community_id
                    JOIN admin_area oc ON oc.id = o.community_id AND oc.parent_id = mc.parent_id
                    WHERE g.valid_to IS NULL AND g.community_id =
                        (SELECT community_id FROM grid WHERE id = :g)
                    ORDER BY ST_Distance(g.geom, o.pt), g.code, o.worker_id LIMIT 1
                )
                SELECT id, worker_id, ST_X(p), ST_Y(p) FROM edge
                """
            ),
            {"g": people["grid_id"]},
        ).one()
        far = conn.execute(
            text(
                "SELECT a.worker_id FROM grid_assignment a JOIN grid g ON g.id = a.grid_id "
                "WHERE a.role = 'primary' AND g.valid_to IS NULL AND a.worker_id = ANY(:w) "
                "AND a.worker_id NOT IN (SELECT worker_id FROM grid_assignment "
                "WHERE grid_id = :g) ORDER BY ST_Distance(ST_PointOnSurface(g.geom)::geography, "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) DESC LIMIT 1"
            ),
            {"w": list(area["community"]), "g": grid, "x": lon, "y": lat},
        ).scalar()
    r = _report(live_server, people["resident"], lon, lat, category_code="10201")
    case = r.json()["id"]
    assert _act(live_server, people["staff"], case, "register").status_code == 200
    duty = {w: w == far for w in area["community"]} | {w: True for w in area["elsewhere"]}
    # the next community's worker made a backup of the case's grid: not for community staff
    with _workers_set(engine, duty, backup=(near, grid)):
        rec = _recommend(live_server, people["staff"], case)
        assert rec["worker_id"] == far and _named(rec) <= area["community"], rec
        assert (rec["rule"], rec["relation"]) == ("best", "community")
        assert "同社区" in rec["reason"]
    with _workers_set(engine, duty):
        # street staff: the community's worker, although one of the next is nearer
        rec = _recommend(live_server, area["street"], case)
        assert rec["worker_id"] == far and rec["relation"] == "community", rec
        nearer = [
            a
            for a in rec["alternatives"]
            if a["relation"] == "area" and a["travel_s"] < rec["travel_s"]
        ]
        assert nearer and {a["worker_id"] for a in nearer} <= area["elsewhere"]
        assert _recommend(live_server, people["staff"], case)["worker_id"] == far
    with _workers_set(engine, duty | {far: False}):
        # nobody of the community: community staff get nobody, street staff the next one
        rec = _recommend(live_server, people["staff"], case)
        assert rec["worker_id"] is None and rec["rule"] == "none" and rec["alternatives"] == []
        rec = _recommend(live_server, area["street"], case)
        assert rec["relation"] == "area" and rec["worker_id"] in area["elsewhere"]
        assert "跨社区" in rec["reason"]


def test_dispatch_without_a_worker_keeps_the_case_with_its_grids_own(
    live_server: LiveServer, people: dict, area: dict, engine: Engine
) -> None:
    primary = people["worker_id"]
    backups = area["own"] - {primary}
    with engine.connect() as conn:  # the least-loaded worker of another community
        outsider = conn.execute(
            text(
                "SELECT w.id FROM grid_worker w WHERE w.id = ANY(:w) ORDER BY (SELECT count(*) "
                "FROM incident i WHERE i.assignee_id = w.id AND i.state IN ('dispatched', "
                "'in_progress', 'returned', 'escalated')), w.id LIMIT 1"
            ),
            {"w": list(area["elsewhere"])},
        ).scalar()
    duty = {primary: False, outsider: True} | {w: True for w in backups}
    with _workers_set(engine, duty, backup=(outsider, people["grid_id"])):
        # the grid's own backups busier than the borrowed one, who would win on load
        for backup in backups:
            while _open_tasks(engine, backup) <= _open_tasks(engine, outsider):
                case = _registered(live_server, people, 1)[0]
                r = _act(live_server, people["staff"], case, "dispatch", assignee_id=backup)
                assert r.status_code == 200, r.text
        case = _registered(live_server, people, 1)[0]
        rec = _recommend(live_server, people["staff"], case)
        assert outsider not in _named(rec)
        r = _act(live_server, people["staff"], case, "dispatch")
        assert r.status_code == 200, r.text
        body = r.json()
    assert body["assignee_id"] in backups and body["recommendation"]["rule"] == "backup"
    assert body["history"][-1]["note"].startswith("推荐派遣: 备用网格员")


def test_reassign_to_a_worker_of_another_area_or_off_duty_is_refused(
    live_server: LiveServer, people: dict, area: dict, engine: Engine
) -> None:
    own, colleague = min(area["own"]), min(area["community"] - area["own"])
    stranger = min(area["elsewhere"])
    cases = _registered(live_server, people, 2)
    duty = {own: True, stranger: True, colleague: False}
    with _workers_set(engine, duty):
        assert _act(live_server, people["staff"], cases[0], "dispatch", assignee_id=own).is_success
        before = _snapshot(engine)
        r = _act(live_server, people["staff"], cases[0], "reassign", assignee_id=stranger)
        assert r.status_code == 403
        assert f"grid worker {stranger} (" in r.json()["detail"]
        assert "not a worker of your area" in r.json()["detail"]
        r = _act(live_server, people["staff"], cases[1], "dispatch", assignee_id=stranger)
        assert r.status_code == 403 and str(stranger) in r.json()["detail"]
        r = _act(live_server, people["staff"], cases[0], "reassign", assignee_id=colleague)
        assert r.status_code == 422
        assert f"grid worker {colleague} (" in r.json()["detail"]
        assert "off duty" in r.json()["detail"]
        assert _snapshot(engine) == before
        # the street's staff may: the worker is of their area
        r = _act(live_server, area["street"], cases[0], "reassign", assignee_id=stranger)
        assert r.status_code == 200 and r.json()["assignee_id"] == stranger
        r = _act(live_server, area["street"], cases[0], "reassign", assignee_id=own)
        assert r.status_code == 200


def test_confirm_reports_a_move_to_a_worker_now_off_duty_as_a_conflict(
    live_server: LiveServer, people: dict, area: dict, engine: Engine
) -> None:
    cases = _registered(live_server, people, 2)
    with _workers_set(engine, {w: True for w in area["own"]}):
        got = _preview(live_server, people["staff"], incident_ids=cases)
        assert {m["incident_id"] for m in got["moves"]} == set(cases)
        gone = got["moves"][0]["to_worker_id"]
        confirm = {"confirm": got["preview_id"], "widen": got["widen"], "moves": got["moves"]}
        with _workers_set(engine, {gone: False}):
            before = _snapshot(engine)
            r = httpx.post(
                f"{live_server.url}{REDISPATCH}", json=confirm, headers=people["staff"], timeout=60
            )
            assert r.status_code == 200, r.text
            after = _snapshot(engine)
    run = r.json()
    stopped = {m["incident_id"] for m in got["moves"] if m["to_worker_id"] == gone}
    assert {c["incident_id"] for c in run["conflicts"]} == stopped
    assert all(f"grid worker {gone} (" in c["reason"] for c in run["conflicts"])
    assert all("off duty" in c["reason"] for c in run["conflicts"])
    assert {a["incident_id"] for a in run["applied"]} == set(cases) - stopped
    assert {i for i in after if after[i] != before.get(i)} == set(cases) - stopped
