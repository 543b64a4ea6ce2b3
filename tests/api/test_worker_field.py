"""The grid worker's field app API over real HTTP: visits, proof of 反馈, conflicts of a case
taken away, the check-on list during a typhoon and its marks seen live, notices, coverage
and the offline bundle; the forbidden paths tried from the outside."""

from __future__ import annotations

import gzip
import io
import json
import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from PIL import Image
from sqlalchemy import Engine, text

from shapely import box
from shapely.geometry import mapping

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock, crypt
from gis.coords import from_wgs84
from tests.browser import open_page
from tests.conftest import LiveServer, run_wangge
from tests.signin import give_password, sign_in_page

SEED = 23


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, SEED, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


def _primary(conn, where: str = "", **params) -> object:  # type: ignore[no-untyped-def]
    return conn.execute(
        text(
            "SELECT g.id, g.code, g.community_id, w.id AS worker, w.name AS worker_name, "
            "u.username FROM grid g JOIN grid_assignment ga ON ga.grid_id = g.id "
            "AND ga.role = 'primary' JOIN grid_worker w ON w.id = ga.worker_id "
            f"JOIN app_user u ON u.id = w.user_id WHERE g.valid_to IS NULL {where} "
            "ORDER BY g.code LIMIT 1"
        ),
        params,
    ).one()


@pytest.fixture(scope="module")
def field(engine: Engine, live_server: LiveServer, district: dict) -> dict:
    """Worker A (primary of the first grid), worker B of another community, a colleague C
    of A's community (on duty), A's community staff, an admin; a household of each grid."""
    with engine.connect() as conn:
        a = _primary(conn)
        b = _primary(conn, "AND g.community_id <> :c", c=a.community_id)
        c = conn.execute(
            text(
                "SELECT DISTINCT w.id, w.name FROM grid_worker w JOIN grid_assignment ga "
                "ON ga.worker_id = w.id JOIN grid g ON g.id = ga.grid_id "
                "WHERE g.community_id = :c AND w.id <> :a AND w.on_duty ORDER BY w.id LIMIT 1"
            ),
            {"c": a.community_id, "a": a.worker},
        ).one()
        community = conn.execute(
            text("SELECT code FROM admin_area WHERE id = :c"), {"c": a.community_id}
        ).scalar_one()
        homes = {
            key: conn.execute(
                text(
                    "SELECT h.id, ST_X(ST_PointOnSurface(b.geom)) AS lon, "
                    "ST_Y(ST_PointOnSurface(b.geom)) AS lat FROM household h "
                    "JOIN building b ON b.id = h.building_id WHERE h.grid_id = :g "
                    "ORDER BY h.id LIMIT 1"
                ),
                {"g": grid},
            ).one()
            for key, grid in (("a", a.id), ("b", b.id))
        }
    tokens = {
        "a": bearer(issue_token(engine, a.username, "grid_worker")),
        "b": bearer(issue_token(engine, b.username, "grid_worker")),
        "resident": bearer(issue_token(engine, "resident00005", "resident")),
        "staff": bearer(issue_token(engine, "staff_field_test", "community_staff", community)),
        "admin": bearer(issue_token(engine, "admin_field_test", "admin")),
    }
    url = live_server.url

    def new_task(category: str = "10101") -> int:
        """A fresh case at A's household's building, dispatched to A by A's staff."""
        r = httpx.post(
            f"{url}/api/incidents",
            json={
                "category_code": category,
                "description": "现场需要网格员查看处置",
                "lon": homes["a"].lon,
                "lat": homes["a"].lat,
            },
            headers=tokens["resident"],
        )
        assert r.status_code == 201, r.text
        case = r.json()["id"]
        for body in ({"action": "register"}, {"action": "dispatch", "assignee_id": a.worker}):
            r = httpx.post(
                f"{url}/api/incidents/{case}/actions", json=body, headers=tokens["staff"]
            )
            assert r.status_code == 200, r.text
        return int(case)

    return {
        "url": url,
        "t": tokens,
        "a": a,
        "b": b,
        "c": c,
        "homes": homes,
        "new_task": new_task,
    }


def _act(field: dict, case: int, who: str, action: str, **body: object) -> httpx.Response:
    return httpx.post(
        f"{field['url']}/api/incidents/{case}/actions",
        json={"action": action, **body},
        headers=field["t"][who],
        timeout=60,
    )


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def _visit(field: dict, who: str, household: int, **extra: object) -> httpx.Response:
    return httpx.post(
        f"{field['url']}/api/worker/visits",
        json={"household_id": household, "note": "入户走访，老人身体状况良好", **extra},
        headers=field["t"][who],
    )


# ------------------------------------------------------------------ visits


def test_a_visit_is_recorded_in_my_grids_only_and_shown_on_the_household(
    field: dict, engine: Engine
) -> None:
    url, t, home = field["url"], field["t"], field["homes"]["a"]
    at = (clock.now() - timedelta(hours=1)).replace(microsecond=0)
    g_lon, g_lat = from_wgs84(home.lon, home.lat, "gcj02")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {
        "household_id": home.id,
        "note": "入户走访，老人身体状况良好",
        "visited_at": at.isoformat(),
        "lon": g_lon,
        "lat": g_lat,
        "coord_type": "gcj02",
    }
    first = httpx.post(f"{url}/api/worker/visits", json=body, headers={**t["a"], **key})
    assert first.status_code == 201, first.text
    again = httpx.post(f"{url}/api/worker/visits", json=body, headers={**t["a"], **key})
    assert again.status_code == 201 and again.json() == first.json()  # queued twice, filed once
    visit = first.json()
    assert visit["household_id"] == home.id and visit["grid"] == field["a"].code
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT count(*), max(ST_X(geom)), max(ST_Y(geom)) FROM household_visit "
                "WHERE household_id = :h AND visited_at = :at"
            ),
            {"h": home.id, "at": at},
        ).one()
    assert stored[0] == 1  # the GCJ-02 position stored in WGS84
    assert stored[1] == pytest.approx(home.lon, abs=1e-5)
    assert stored[2] == pytest.approx(home.lat, abs=1e-5)
    listed = httpx.get(
        f"{url}/api/worker/households", params={"grid": field["a"].code}, headers=t["a"]
    ).json()["households"]
    mine = next(h for h in listed if h["id"] == home.id)
    assert mine["visits_recent"] >= 1 and mine["last_visited"] is not None
    assert mine["last_visited"] >= at.isoformat()[:16]
    assert all("last_visited" in h and "visits_recent" in h for h in listed)
    # another grid's household is not found, whoever asks with a worker's token
    assert _visit(field, "a", field["homes"]["b"].id).status_code == 404
    assert _visit(field, "a", 10**12).status_code == 404
    # only grid workers record visits; a time in the future and an empty note are refused
    assert _visit(field, "resident", home.id).status_code == 403
    assert httpx.post(f"{url}/api/worker/visits", json=body).status_code == 401
    late = (clock.now() + timedelta(days=3)).isoformat()
    r = _visit(field, "a", home.id, visited_at=late)
    assert r.status_code == 422 and "visited_at" in r.text
    r = httpx.post(
        f"{url}/api/worker/visits", json={"household_id": home.id, "note": ""}, headers=t["a"]
    )
    assert r.status_code == 422


def test_where_a_worker_stood_is_erased_after_the_retention(field: dict, engine: Engine) -> None:
    url, t, home = field["url"], field["t"], field["homes"]["a"]
    old = (clock.now() - timedelta(days=45)).replace(microsecond=0)
    body = {"household_id": home.id, "note": "补录走访", "lon": home.lon, "lat": home.lat}
    r = httpx.post(
        f"{url}/api/worker/visits", json=body | {"visited_at": old.isoformat()}, headers=t["a"]
    )
    assert r.status_code == 201, r.text
    first = r.json()["id"]
    r = httpx.post(f"{url}/api/worker/visits", json=body, headers=t["a"])
    assert r.status_code == 201, r.text
    with engine.connect() as conn:
        kept = dict(
            conn.execute(
                text("SELECT id, geom IS NOT NULL FROM household_visit WHERE id = ANY(:i)"),
                {"i": [first, r.json()["id"]]},
            ).all()
        )
    assert kept == {first: False, r.json()["id"]: True}  # the visit stays, the position goes


def test_coverage_counts_a_visit_i_made_for_me_and_for_the_staff(field: dict) -> None:
    url, t = field["url"], field["t"]
    code = field["a"].code

    def mine(path: str, who: str, **params: object) -> dict:
        r = httpx.get(f"{url}{path}", params=params, headers=t[who])
        assert r.status_code == 200, r.text
        return next(g for g in r.json()["grids"] if g["grid"] == code)

    before = mine("/api/worker/coverage", "a", days=7)
    with_visit = httpx.post(
        f"{url}/api/worker/visits",
        json={"household_id": field["homes"]["a"].id, "note": "巡查"},
        headers=t["a"],
    )
    assert with_visit.status_code == 201
    after = mine("/api/worker/coverage", "a", days=7)
    assert after["households"] > 0 and after["buildings"] > 0
    assert 1 <= after["households_visited"] <= after["households"]
    assert 1 <= after["buildings_visited"] <= after["buildings"]
    assert after["households_visited"] >= before["households_visited"]
    desk = mine("/api/desk/coverage", "staff", days=7)
    assert desk == after
    # the staff's desk page shows the same figures
    page = httpx.get(f"{url}/grids", headers={**t["staff"], "Accept": "text/html"})
    assert page.status_code == 200 and "巡查覆盖" in page.text and code in page.text
    assert httpx.get(f"{url}/api/desk/coverage", headers=t["a"]).status_code == 403
    assert httpx.get(f"{url}/api/worker/coverage", headers=t["staff"]).status_code == 403
    r = httpx.get(f"{url}/api/worker/coverage", params={"days": 0}, headers=t["a"])
    assert r.status_code == 422
    other = httpx.get(f"{url}/api/worker/coverage", headers=t["b"]).json()["grids"]
    assert code not in {g["grid"] for g in other}


# ------------------------------------------------------------------ proof of 反馈


def test_resolving_needs_a_note_and_the_proof_of_the_category(field: dict) -> None:
    url, t = field["url"], field["t"]
    rules = httpx.get(f"{url}/api/worker/proof-rules", headers=t["a"])
    assert rules.status_code == 200, rules.text
    by_code = {r["code"]: r for r in rules.json()["categories"]}
    assert by_code["30202"] == {"code": "30202", "name": "燃气隐患", "photo": True, "checkin": True}
    assert by_code["10101"]["photo"] is False
    assert httpx.get(f"{url}/api/worker/proof-rules", headers=t["staff"]).status_code == 403

    case = field["new_task"]("30202")  # 燃气隐患: a photo and a check-in on site
    assert _act(field, case, "a", "start").status_code == 200
    r = _act(field, case, "a", "resolve")
    assert r.status_code == 422, r.text
    assert {p["field"] for p in r.json()["problems"]} == {"note", "photo", "checkin"}
    r = _act(field, case, "a", "resolve", note="已关闭燃气阀门")
    assert r.status_code == 422 and {p["field"] for p in r.json()["problems"]} == {
        "photo",
        "checkin",
    }
    assert "照片" in r.text
    up = httpx.post(
        f"{url}/api/incidents/{case}/photos",
        files=[("files", ("site.jpg", _jpeg(), "image/jpeg"))],
        headers=t["a"],
    )
    assert up.status_code == 201, up.text
    r = _act(field, case, "a", "resolve", note="已关闭燃气阀门")
    assert r.status_code == 422 and [p["field"] for p in r.json()["problems"]] == ["checkin"]
    home = field["homes"]["a"]
    far = httpx.post(
        f"{url}/api/worker/tasks/{case}/checkin",
        json={"lon": home.lon, "lat": home.lat + 0.002},
        headers=t["a"],
    )
    assert far.status_code == 200 and far.json()["accepted"] is False
    r = _act(field, case, "a", "resolve", note="已关闭燃气阀门")
    assert r.status_code == 422  # a refused check-in is no proof of presence
    near = httpx.post(
        f"{url}/api/worker/tasks/{case}/checkin",
        json={"lon": home.lon, "lat": home.lat},
        headers=t["a"],
    )
    assert near.json()["accepted"] is True
    r = _act(field, case, "a", "resolve", note="已关闭燃气阀门")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "resolved"

    # a category without proof rules: the note alone, but never without it
    plain = field["new_task"]("10101")
    assert _act(field, plain, "a", "start").status_code == 200
    r = _act(field, plain, "a", "resolve", note="  ")
    assert r.status_code == 422 and [p["field"] for p in r.json()["problems"]] == ["note"]
    assert _act(field, plain, "a", "resolve", note="已更换井盖").status_code == 200


def test_an_admin_sets_the_proof_of_a_category_from_the_command_line(
    field: dict, database_url: str
) -> None:
    url, t = field["url"], field["t"]
    done = run_wangge(database_url, "categories", "proof", "10102", "--photo")
    assert done.returncode == 0, done.stderr
    assert "路灯损坏" in done.stdout + done.stderr
    try:
        rules = httpx.get(f"{url}/api/worker/proof-rules", headers=t["a"]).json()
        lamp = next(r for r in rules["categories"] if r["code"] == "10102")
        assert lamp["photo"] is True and lamp["checkin"] is False
    finally:
        back = run_wangge(database_url, "categories", "proof", "10102", "--no-photo")
        assert back.returncode == 0, back.stderr
    unknown = run_wangge(database_url, "categories", "proof", "99999", "--photo")
    assert unknown.returncode != 0 and "99999" in unknown.stdout + unknown.stderr


# ------------------------------------------------------------------ conflicts


def test_a_case_taken_away_or_closed_answers_409_with_what_it_is_now(field: dict) -> None:
    url, t = field["url"], field["t"]
    case = field["new_task"]()
    assert _act(field, case, "a", "start").status_code == 200
    r = _act(field, case, "staff", "reassign", assignee_id=field["c"].id, note="改派")
    assert r.status_code == 200, r.text
    home = field["homes"]["a"]
    tries = [
        _act(field, case, "a", "start"),
        _act(field, case, "a", "resolve", note="已处理"),
        httpx.post(
            f"{url}/api/worker/tasks/{case}/checkin",
            json={"lon": home.lon, "lat": home.lat},
            headers=t["a"],
        ),
        httpx.post(
            f"{url}/api/incidents/{case}/photos",
            files=[("files", ("late.jpg", _jpeg(), "image/jpeg"))],
            headers=t["a"],
        ),
    ]
    for r in tries:
        assert r.status_code == 409, r.text
        body = r.json()
        assert body["current"]["status"] == "dispatched"
        assert body["current"]["assignee"] == field["c"].name
        assert field["c"].name in body["detail"]
    # the worker is told: a notice of the case taken away
    notes = httpx.get(f"{url}/api/worker/notices", headers=t["a"]).json()["notices"]
    assert any(n["kind"] == "reassigned" and n["incident_id"] == case for n in notes)

    # resolved meanwhile: a second 反馈 queued offline meets the state it is in now
    mine = field["new_task"]()
    assert _act(field, mine, "a", "start").status_code == 200
    assert _act(field, mine, "a", "resolve", note="已处理").status_code == 200
    r = _act(field, mine, "a", "resolve", note="已处理")
    assert r.status_code == 409
    assert r.json()["current"] == {
        "status": "resolved",
        "status_name": "反馈",
        "assignee": field["a"].worker_name,
    }
    # a case that was never theirs: another community's worker is told nothing of it
    theirs = field["new_task"]()
    assert _act(field, theirs, "staff", "reassign", assignee_id=field["c"].id).status_code == 200
    other = _act(field, theirs, "b", "start")
    assert other.status_code == 404 and "current" not in other.json()


# ------------------------------------------------------------------ notices


def test_notices_name_deadlines_and_urging_newest_first(field: dict, engine: Engine) -> None:
    url, t = field["url"], field["t"]
    case = field["new_task"]()
    with engine.begin() as conn:  # due in an hour
        conn.execute(
            text("UPDATE incident SET deadline = :d WHERE id = :i"),
            {"d": clock.now() + timedelta(hours=1), "i": case},
        )
    r = _act(field, case, "staff", "escalate", note="请加快处置")
    assert r.status_code == 200, r.text
    notes = httpx.get(f"{url}/api/worker/notices", headers=t["a"])
    assert notes.status_code == 200, notes.text
    found = notes.json()["notices"]
    kinds = {n["kind"] for n in found if n["incident_id"] == case}
    assert kinds == {"deadline", "urged"}
    urged = next(n for n in found if n["incident_id"] == case and n["kind"] == "urged")
    assert "督办" in urged["text"] and "请加快处置" in urged["text"]
    ats = [n["at"] for n in found]
    assert len(found) <= 100 and ats == sorted(ats, reverse=True)
    assert httpx.get(f"{url}/api/worker/notices", headers=t["staff"]).status_code == 403
    others = httpx.get(f"{url}/api/worker/notices", headers=t["b"]).json()["notices"]
    assert case not in {n["incident_id"] for n in others}


# ------------------------------------------------------------------ check-on during a hazard


@pytest.fixture(scope="module")
def typhoon(field: dict, engine: Engine) -> dict:
    """A typhoon over worker A's grid, drawn by the admin."""
    with engine.connect() as conn:
        w, s, e, n = conn.execute(
            text(
                "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM grid "
                "WHERE id = :g"
            ),
            {"g": field["a"].id},
        ).one()
    feature = {
        "type": "Feature",
        "properties": {"name": "台风测试"},
        "geometry": mapping(box(w - 0.0005, s - 0.0005, e + 0.0005, n + 0.0005)),
    }
    r = httpx.post(
        f"{field['url']}/api/hazards",
        params={"kind": "typhoon", "severity": 3},
        json=feature,
        headers=field["t"]["admin"],
        timeout=120,
    )
    assert r.status_code == 201, r.text
    return r.json()


def _sse_until(lines, event: str) -> dict:  # type: ignore[no-untyped-def]
    name = None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name == event:
            return json.loads(line[6:])
    raise AssertionError(f"no {event} event")


def test_the_check_on_list_names_people_for_the_grids_worker_and_marks_show_live(
    field: dict, typhoon: dict, engine: Engine
) -> None:
    url, t, code = field["url"], field["t"], field["a"].code
    hazard_id = typhoon["id"] if "id" in typhoon else typhoon["properties"]["id"]
    audit_sql = text(
        "SELECT count(*) FROM audit_log WHERE username = :u AND action = 'read_identity' "
        "AND object_type = 'grid' AND object_id = :g"
    )
    with engine.connect() as conn:
        audited = conn.execute(audit_sql, {"u": field["a"].username, "g": str(field["a"].id)})
        before = audited.scalar_one()
    r = httpx.get(f"{url}/api/worker/checkon", params={"grid": code}, headers=t["a"], timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["hazard"]["id"] == hazard_id and body["hazard"]["kind"] == "typhoon"
    people = body["people"]
    assert people, "a typhoon over a whole grid has people to check on"
    with engine.connect() as conn:
        real = dict(
            conn.execute(
                text("SELECT resident_id, name FROM resident_identity WHERE resident_id = ANY(:r)"),
                {"r": [p["resident_id"] for p in people]},
            ).all()
        )
        after = conn.execute(
            audit_sql, {"u": field["a"].username, "g": str(field["a"].id)}
        ).scalar_one()
    assert after == before + 1  # the read of names is audited
    named = [p for p in people if p["resident_id"] in real]
    assert named and all(p["name"] == real[p["resident_id"]] for p in named)
    for p in people:
        assert p["needs"] and p["age_group"] in ("child", "adult", "elderly", "very_elderly")
        if p["shelter"] is not None:
            assert p["route"]["type"] == "LineString" and p["walk_min"] is not None
    # another grid's worker is refused the list (no names, as if the grid did not exist)
    other = httpx.get(f"{url}/api/worker/checkon", params={"grid": code}, headers=t["b"])
    assert other.status_code == 404 and all(n not in other.text for n in real.values())
    assert (
        httpx.get(
            f"{url}/api/worker/checkon", params={"grid": code}, headers=t["staff"]
        ).status_code
        == 403
    )

    # marks: the command centre sees them in the stream and in the progress per grid
    first = people[0]
    with httpx.stream("GET", f"{url}/api/live/stream", headers=t["staff"], timeout=60) as stream:
        lines = stream.iter_lines()
        _sse_until(lines, "ready")
        mark = httpx.post(
            f"{url}/api/worker/checkon/marks",
            json={"hazard_id": hazard_id, "resident_id": first["resident_id"], "mark": "reached"},
            headers=t["a"],
            timeout=120,
        )
        assert mark.status_code == 201, mark.text
        event = _sse_until(lines, "checkon")
    assert event["resident_id"] == first["resident_id"] and event["mark"] == "reached"
    assert event["grid"] == code
    if len(people) > 1:
        earlier = (clock.now() - timedelta(minutes=5)).isoformat()
        for mark_name, at in (("needs_help", None), ("not_home", earlier)):
            body = {"hazard_id": hazard_id, "resident_id": people[1]["resident_id"]}
            body |= {"mark": mark_name} | ({"marked_at": at} if at else {})
            r = httpx.post(
                f"{url}/api/worker/checkon/marks", json=body, headers=t["a"], timeout=120
            )
            assert r.status_code == 201, r.text
    live = httpx.get(f"{url}/api/live", headers=t["staff"], timeout=120)
    assert live.status_code == 200, live.text
    progress = {g["grid"]: g for g in live.json()["checkon_progress"]}
    again = httpx.get(
        f"{url}/api/worker/checkon", params={"grid": code}, headers=t["a"], timeout=120
    ).json()["people"]
    marks = {p["resident_id"]: p["mark"] for p in again}
    assert marks[first["resident_id"]] == "reached"
    if len(people) > 1:  # the latest marked_at wins, not the latest sent
        assert marks[people[1]["resident_id"]] == "needs_help"
    # the command centre counts what the list says (another test may have marked others)
    assert progress[code]["total"] == len(people)
    for mark_name in ("reached", "not_home", "needs_help"):
        assert progress[code][mark_name] == sum(m == mark_name for m in marks.values())
    # nobody on my list: not found; another grid's worker may not mark my people
    r = httpx.post(
        f"{url}/api/worker/checkon/marks",
        json={"hazard_id": hazard_id, "resident_id": 10**12, "mark": "reached"},
        headers=t["a"],
        timeout=120,
    )
    assert r.status_code == 404
    r = httpx.post(
        f"{url}/api/worker/checkon/marks",
        json={"hazard_id": hazard_id, "resident_id": first["resident_id"], "mark": "reached"},
        headers=t["b"],
        timeout=120,
    )
    assert r.status_code == 404
    r = httpx.post(
        f"{url}/api/worker/checkon/marks",
        json={"hazard_id": hazard_id, "resident_id": first["resident_id"], "mark": "gone"},
        headers=t["a"],
    )
    assert r.status_code == 422
    notes = httpx.get(f"{url}/api/worker/notices", headers=t["a"]).json()["notices"]
    assert any(n["kind"] == "alert" and "台风测试" in n["text"] for n in notes)


# ------------------------------------------------------------------ the offline bundle


def test_the_offline_bundle_is_small_masked_and_expires(field: dict, engine: Engine) -> None:
    url, t = field["url"], field["t"]
    field["new_task"]()  # at least one task in it
    r = httpx.get(
        f"{url}/api/worker/bundle",
        headers={**t["a"], "Accept-Encoding": "gzip"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == "private, no-store"
    sent = int(r.headers["content-length"])  # the compressed size, as it travels
    assert sent < 2 * 1024 * 1024
    raw = r.content  # httpx decoded the gzip
    assert len(gzip.compress(raw)) == pytest.approx(sent, rel=0.2)
    bundle = json.loads(raw)
    assert bundle["worker"]["username"] == field["a"].username
    generated = datetime.fromisoformat(bundle["generated_at"])
    ttl = datetime.fromisoformat(bundle["expires_at"]) - generated
    assert ttl == timedelta(hours=72)
    with engine.connect() as conn:
        mine = [
            int(g)
            for g in conn.execute(
                text(
                    "SELECT ga.grid_id FROM grid_assignment ga JOIN grid g ON g.id = ga.grid_id "
                    "WHERE ga.worker_id = :w AND g.valid_to IS NULL"
                ),
                {"w": field["a"].worker},
            ).scalars()
        ]
        households = conn.execute(
            text("SELECT count(*) FROM household WHERE grid_id = ANY(:g)"), {"g": mine}
        ).scalar_one()
        secrets = conn.execute(
            text(
                "SELECT ri.id_number, ri.phone FROM resident_identity ri JOIN resident r "
                "ON r.id = ri.resident_id JOIN household h ON h.id = r.household_id "
                "WHERE h.grid_id = ANY(:g)"
            ),
            {"g": mine},
        ).all()
    assert len(bundle["households"]) == households
    assert {f["properties"]["code"] for f in bundle["grids"]["features"]} >= {field["a"].code}
    assert bundle["buildings"]["features"] and bundle["roads"]["features"]
    assert bundle["shelters"]["type"] == "FeatureCollection"
    assert bundle["tasks"] and bundle["proof_rules"]
    text_ = raw.decode()
    # sealed at rest: the clear values are what must not be in the package
    ids = [crypt.open_value("id_number", s.id_number) for s in secrets if s.id_number]
    phones = [crypt.open_value("phone", s.phone) for s in secrets if s.phone]
    assert ids and not any(i in text_ for i in ids)  # no unmasked ID number
    assert not any(p in text_ for p in phones)
    coords = bundle["roads"]["features"][0]["geometry"]["coordinates"]
    assert all(len(str(v).split(".")[-1]) <= 6 for xy in coords for v in xy)
    assert httpx.get(f"{url}/api/worker/bundle", headers=t["staff"]).status_code == 403


@pytest.mark.browser
def test_the_command_centre_page_shows_the_check_on_progress_as_marks_come(
    field: dict, typhoon: dict, engine: Engine
) -> None:
    url, t, code = field["url"], field["t"], field["a"].code
    give_password(engine, "staff_field_test")
    people = httpx.get(
        f"{url}/api/worker/checkon", params={"grid": code}, headers=t["a"], timeout=120
    ).json()["people"]
    assert people
    with open_page(screenshot="live_checkon_progress.png") as (page, log):
        sign_in_page(page, url, "staff_field_test", then="/live")
        page.wait_for_function("() => window.wanggeLive && window.wanggeLive.connected === true")
        r = httpx.post(
            f"{url}/api/worker/checkon/marks",
            json={
                "hazard_id": typhoon["id"],
                "resident_id": people[-1]["resident_id"],
                "mark": "needs_help",
            },
            headers=t["a"],
            timeout=120,
        )
        assert r.status_code == 201, r.text
        now = next(
            g
            for g in httpx.get(f"{url}/api/live", headers=t["staff"], timeout=120).json()[
                "checkon_progress"
            ]
            if g["grid"] == code
        )
        row = page.locator(f"#wangge-checkon-progress [data-grid='{code}']")
        expected = f"需帮助 {now['needs_help']}"
        row.filter(has_text=expected).wait_for(timeout=30_000)
        assert f"/ {now['total']}" in row.inner_text()
    assert not log.page_errors, log.page_errors
