"""Incidents over HTTP: the whole loop from a resident's report to their rating, the guards,
bad input, duplicates, photos, the hotline import and two writers racing for one case."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta

import httpx
import pytest
from PIL import Image
from sqlalchemy import Engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.settings import get_settings
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 21, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


@pytest.fixture(scope="module")
def people(engine: Engine, district: dict) -> dict:
    """Tokens of a resident, the worker of one grid, that grid's community staff, another
    community's staff, another grid's worker, and the admin."""
    with engine.connect() as conn:
        grid = conn.execute(
            text(
                "SELECT g.id, g.code, g.community_id, w.id AS worker, u.username "
                "FROM grid g JOIN grid_assignment a ON a.grid_id = g.id AND a.role = 'primary' "
                "JOIN grid_worker w ON w.id = a.worker_id JOIN app_user u ON u.id = w.user_id "
                "WHERE g.valid_to IS NULL ORDER BY g.code LIMIT 1"
            )
        ).one()
        other = conn.execute(
            text(
                "SELECT u.username, w.id FROM grid g JOIN grid_assignment a ON a.grid_id = g.id "
                "AND a.role = 'primary' JOIN grid_worker w ON w.id = a.worker_id "
                "JOIN app_user u ON u.id = w.user_id WHERE g.community_id <> :c "
                "ORDER BY g.code LIMIT 1"
            ),
            {"c": grid.community_id},
        ).one()
        codes = conn.execute(
            text("SELECT id, code FROM admin_area WHERE level = 'community' ORDER BY code")
        ).all()
        point = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Buffer(geom::geography,"
                " -60)::geometry) AS p FROM grid WHERE id = :g) s"
            ),
            {"g": grid.id},
        ).one()
    mine = next(c for i, c in codes if i == grid.community_id)
    theirs = next(c for i, c in codes if i != grid.community_id)

    def bearer(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    return {
        "grid_id": grid.id,
        "grid_code": grid.code,
        "worker_id": grid.worker,
        "other_worker_id": other.id,
        "point": (float(point[0]), float(point[1])),
        "resident": bearer(issue_token(engine, "resident00001", "resident")),
        "resident2": bearer(issue_token(engine, "resident00002", "resident")),
        "worker": bearer(issue_token(engine, grid.username, "grid_worker")),
        "other_worker": bearer(issue_token(engine, other.username, "grid_worker")),
        "staff": bearer(issue_token(engine, "staff_test_mine", "community_staff", mine)),
        "other_staff": bearer(issue_token(engine, "staff_test_theirs", "community_staff", theirs)),
        "admin": bearer(issue_token(engine, "admin", "admin")),
    }


def _report(server: LiveServer, headers: dict, lon: float, lat: float, **extra) -> httpx.Response:
    body = {
        "category_code": "10101",
        "description": "井盖缺失，有人险些踩空",
        "lon": lon,
        "lat": lat,
    }
    body.update(extra)
    return httpx.post(f"{server.url}/api/incidents", json=body, headers=headers)


def _act(server: LiveServer, headers: dict, incident: int, action: str, **extra) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/incidents/{incident}/actions",
        json={"action": action, **extra},
        headers=headers,
    )


def test_report_flows_through_the_whole_loop_to_a_rating(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    r = _report(live_server, people["resident"], lon, lat)
    assert r.status_code == 201, r.text
    filed = r.json()
    assert filed["grid_code"] == people["grid_code"] and filed["state"] == "reported"
    case = filed["id"]
    staff, worker, resident = people["staff"], people["worker"], people["resident"]
    steps = [
        (staff, "register", {}),
        (staff, "dispatch", {"assignee_id": people["worker_id"]}),
        (worker, "start", {}),
        (worker, "resolve", {"note": "已更换井盖"}),
        (staff, "verify", {}),
        (staff, "close", {}),
        (resident, "rate", {"rating": 5}),
    ]
    for headers, action, extra in steps:
        r = _act(live_server, headers, case, action, **extra)
        assert r.status_code == 200, (action, r.text)
    body = r.json()
    assert body["state"] == "rated" and body["rating"] == 5
    assert [h["action"] for h in body["history"]] == ["report"] + [s[1] for s in steps]
    assert body["deadline"] is not None and body["closed_at"] is not None
    with engine.connect() as conn:
        events = conn.execute(
            text("SELECT count(*) FROM incident_event WHERE incident_id = :i"), {"i": case}
        ).scalar()
    assert events == 8


def test_guards_answer_403_or_409_and_change_nothing(live_server: LiveServer, people: dict) -> None:
    lon, lat = people["point"]
    case = _report(live_server, people["resident"], lon, lat).json()["id"]
    # a resident may not register; a worker may not register
    assert _act(live_server, people["resident"], case, "register").status_code == 403
    assert _act(live_server, people["worker"], case, "register").status_code == 403
    # an illegal transition: close from reported
    r = _act(live_server, people["staff"], case, "close")
    assert r.status_code == 409 and "possible now" in r.json()["detail"]
    # an unknown action
    assert _act(live_server, people["staff"], case, "fly").status_code == 409
    # another community's staff cannot see it at all
    assert _act(live_server, people["other_staff"], case, "register").status_code == 404
    got = httpx.get(f"{live_server.url}/api/incidents/{case}", headers=people["staff"]).json()
    assert got["state"] == "reported" and len(got["history"]) == 1


def test_who_sees_which_incident(live_server: LiveServer, people: dict) -> None:
    lon, lat = people["point"]
    case = _report(live_server, people["resident"], lon, lat).json()["id"]
    url = f"{live_server.url}/api/incidents/{case}"
    assert httpx.get(url, headers=people["resident"]).status_code == 200
    assert httpx.get(url, headers=people["worker"]).status_code == 200
    assert httpx.get(url, headers=people["staff"]).status_code == 200
    assert httpx.get(url, headers=people["admin"]).status_code == 200
    for who in ("resident2", "other_worker", "other_staff"):
        r = httpx.get(url, headers=people[who])
        assert r.status_code == 404, who
        assert "井盖" not in r.text
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    listed = httpx.get(f"{live_server.url}/api/incidents", headers=people["resident2"]).json()
    assert case not in [i["id"] for i in listed]
    # the reporter's contact is for staff and the reporter, not the worker
    r = _report(live_server, people["resident"], lon, lat, contact_phone="13912345678")
    cid = r.json()["id"]
    seen = httpx.get(f"{live_server.url}/api/incidents/{cid}", headers=people["worker"]).json()
    assert "contact" not in seen and "13912345678" not in str(seen)
    staff = httpx.get(f"{live_server.url}/api/incidents/{cid}", headers=people["staff"]).json()
    assert staff["contact"]["phone"] == "13912345678"


def test_bad_reports_get_clear_4xx(live_server: LiveServer, people: dict) -> None:
    lon, lat = people["point"]
    r = _report(live_server, people["resident"], lon, lat, category_code="99999")
    assert r.status_code == 422 and "unknown category" in r.text
    r = _report(live_server, people["resident"], lat, lon)
    assert r.status_code == 422 and "swapped" in r.text
    r = _report(live_server, people["resident"], 116.39, 39.91)  # Beijing: in no grid here
    assert r.status_code == 422 and "in no grid" in r.text
    r = _report(live_server, people["resident"], lon, lat, coord_type="mars")
    assert r.status_code == 422
    r = _report(live_server, people["resident"], lon, lat, source="hotline_12345")
    assert r.status_code == 422 and "source" in r.text


def test_gcj02_report_lands_where_the_wgs84_one_does(live_server: LiveServer, people: dict) -> None:
    from gis.coords import wgs84_to_gcj02

    lon, lat = people["point"]
    glon, glat = wgs84_to_gcj02(lon, lat)
    r = _report(live_server, people["worker"], glon, glat, coord_type="gcj02")
    assert r.status_code == 201
    assert abs(r.json()["lon"] - lon) < 1e-6 and abs(r.json()["lat"] - lat) < 1e-6


def test_duplicates_are_flagged_and_merge_keeps_both_histories(
    live_server: LiveServer, people: dict
) -> None:
    lon, lat = people["point"]
    first = _report(live_server, people["resident"], lon, lat, category_code="20501").json()
    second = _report(
        live_server, people["resident2"], lon + 0.0002, lat, category_code="20501"
    ).json()
    assert second["duplicate_of"] == first["id"]
    assert any("重复" in c for c in second["checks"])
    far = _report(live_server, people["resident2"], lon, lat, category_code="20502").json()
    assert far["duplicate_of"] is None  # another category is not a duplicate
    r = httpx.post(
        f"{live_server.url}/api/incidents/{second['id']}/merge",
        json={"into": first["id"]},
        headers=people["resident"],
    )
    assert r.status_code == 403
    r = httpx.post(
        f"{live_server.url}/api/incidents/{second['id']}/merge",
        json={"into": first["id"]},
        headers=people["staff"],
    )
    assert r.status_code == 200, r.text
    assert second["id"] in r.json()["merged"]
    dup = httpx.get(
        f"{live_server.url}/api/incidents/{second['id']}", headers=people["resident2"]
    ).json()
    assert dup["merged_into"] == first["id"] and dup["state"] == "rejected"
    assert [h["action"] for h in dup["history"]] == ["report", "reject"]


def _png(size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_photos_images_only_with_checksum(live_server: LiveServer, people: dict) -> None:
    import hashlib

    lon, lat = people["point"]
    case = _report(live_server, people["resident"], lon, lat).json()["id"]
    url = f"{live_server.url}/api/incidents/{case}/photos"
    png = _png()
    r = httpx.post(url, files={"files": ("hole.png", png, "image/png")}, headers=people["resident"])
    assert r.status_code == 201, r.text
    assert r.json()[0]["sha256"] == hashlib.sha256(png).hexdigest()
    r = httpx.post(
        url,
        files={"files": ("x.jpg", b"%PDF-1.4 not an image", "image/jpeg")},
        headers=people["resident"],
    )
    assert r.status_code == 422 and "not an image" in r.text
    big = b"\xff\xd8" + b"0" * (6 * 1024 * 1024)
    r = httpx.post(url, files={"files": ("big.jpg", big, "image/jpeg")}, headers=people["resident"])
    assert r.status_code == 422 and "MB" in r.text
    detail = httpx.get(f"{live_server.url}/api/incidents/{case}", headers=people["staff"]).json()
    assert len(detail["photos"]) == 1
    got = httpx.get(live_server.url + detail["photos"][0]["url"], headers=people["staff"])
    assert got.content == png and got.headers["content-type"] == "image/png"
    other = httpx.get(live_server.url + detail["photos"][0]["url"], headers=people["resident2"])
    assert other.status_code == 404


def test_hotline_csv_all_or_nothing(live_server: LiveServer, people: dict, engine: Engine) -> None:
    lon, lat = people["point"]
    good = (
        "category_code,description,lon,lat,reported_at\n"
        f"10102,路灯不亮,{lon},{lat},2026-11-20T20:00:00+08:00\n"
    )
    bad = good + f"99999,未知,{lon},{lat},\n10102,坐标错,abc,{lat},\n"
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM incident")).scalar()
    r = httpx.post(
        f"{live_server.url}/api/incidents/hotline",
        files={"file": ("12345.csv", bad.encode(), "text/csv")},
        headers=people["staff"],
    )
    assert r.status_code == 422
    rows = {(p["row"], p["field"]) for p in r.json()["problems"]}
    assert (3, "lon") in rows
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident")).scalar() == before
    r = httpx.post(
        f"{live_server.url}/api/incidents/hotline",
        files={"file": ("12345.csv", good.encode("gb18030"), "text/csv")},
        headers=people["staff"],
    )
    assert r.status_code == 201, r.text
    assert r.json()["filed"] == 1
    assert r.json()["incidents"][0]["grid_code"] == people["grid_code"]
    r = httpx.post(
        f"{live_server.url}/api/incidents/hotline",
        files={"file": ("12345.csv", good.encode(), "text/csv")},
        headers=people["resident"],
    )
    assert r.status_code == 403


def _crowd(lon: float, lat: float, rows: int, at: datetime, words: str = "消防栓漏水") -> str:
    """A hotline CSV of ``rows`` calls about hydrants within 3 m of (lon, lat), 10 s apart."""
    lines = [
        f"10103,{words} 第{i}个电话,{lon + (i % 7) * 4e-6:.7f},{lat + (i % 5) * 4e-6:.7f},"
        f"{(at + timedelta(seconds=10 * i)).isoformat()}\n"
        for i in range(rows)
    ]
    return "category_code,description,lon,lat,reported_at\n" + "".join(lines)


def _upload(server: LiveServer, headers: dict, csv_text: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/incidents/hotline",
        files={"file": ("12345.csv", csv_text.encode(), "text/csv")},
        headers=headers,
        timeout=120,
    )


def _quiet(engine: Engine, days: int) -> datetime:
    """A time ``days`` before any stored report: no report of the district is near it."""
    with engine.connect() as conn:
        first = conn.execute(text("SELECT min(reported_at) FROM incident")).scalar()
    return (first or clock.now()) - timedelta(days=days)


def test_hotline_crowd_answer_is_bounded_and_each_row_is_filed_once(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    rows, listed = 300, get_settings().duplicate_max_listed
    crowd = _crowd(lon, lat, rows, _quiet(engine, 3))
    before = _incidents(engine)
    r = _upload(live_server, people["staff"], crowd)
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["rows"], first["filed"], first["already_filed"]) == (rows, rows, 0)
    assert first["likely_duplicates"] == rows - 1
    assert [i["row"] for i in first["incidents"]] == list(range(1, rows + 1))
    # every earlier call is counted, only the nearest few are listed
    assert [i["duplicate_count"] for i in first["incidents"]] == list(range(rows))
    assert max(len(i["possible_duplicates"]) for i in first["incidents"]) == listed
    last = first["incidents"][-1]["possible_duplicates"]
    assert [d["distance_m"] for d in last] == sorted(d["distance_m"] for d in last)
    # the whole answer grows with the rows, not with their square (was ~5 MB here)
    assert len(r.content) < 1500 * rows
    assert _incidents(engine) == before + rows

    again = _upload(live_server, people["staff"], crowd)
    assert again.status_code == 200, again.text
    second = again.json()
    assert (second["filed"], second["already_filed"], second["incidents"]) == (0, rows, [])
    assert [(a["row"], a["id"]) for a in second["already_filed_incidents"]] == [
        (i["row"], i["id"]) for i in first["incidents"]
    ]
    assert _incidents(engine) == before + rows

    # one call corrected in the export: only that row is new (and flagged a duplicate)
    changed = crowd.replace("第7个电话", "第7个电话，水已漫到路面")
    third = _upload(live_server, people["staff"], changed).json()
    assert (third["filed"], third["already_filed"]) == (1, rows - 1)
    (new,) = third["incidents"]
    assert new["row"] == 8 and new["duplicate_count"] == rows
    assert len(new["possible_duplicates"]) == listed
    assert _incidents(engine) == before + rows + 1


def test_one_report_at_a_busy_spot_lists_a_few_duplicates_and_counts_all(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    lon += 0.0003  # a spot of its own, about 30 m east
    at = _quiet(engine, 4)
    crowd = _upload(live_server, people["staff"], _crowd(lon, lat, 40, at, "井盖松动"))
    assert crowd.status_code == 201, crowd.text
    r = _report(
        live_server,
        people["resident"],
        lon,
        lat,
        category_code="10103",
        reported_at=(at + timedelta(minutes=10)).isoformat(),
    )
    assert r.status_code == 201, r.text
    one = r.json()
    assert one["duplicate_count"] == 40
    assert len(one["possible_duplicates"]) == get_settings().duplicate_max_listed
    assert one["duplicate_of"] == one["possible_duplicates"][0]["id"]
    assert any("40 likely duplicates nearby" in c for c in one["checks"])


@pytest.fixture(scope="module")
def tight_server(database_url: str, people: dict) -> Iterator[LiveServer]:
    """The app with small hotline limits: 50 rows, 20,000 bytes."""
    settings = get_settings().model_copy(
        update={"hotline_max_rows": 50, "hotline_max_bytes": 20_000, "escalation_interval_s": 0}
    )
    with LiveServer(database_url, settings) as server:
        yield server


def test_hotline_file_over_a_limit_is_refused_whole_with_how_to_split_it(
    tight_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    at = _quiet(engine, 5)
    before = _incidents(engine)
    r = _upload(tight_server, people["staff"], _crowd(lon, lat, 51, at))
    assert r.status_code == 413, r.text
    assert "more than 50 rows" in r.json()["detail"] and "Split" in r.json()["detail"]
    long_words = "消防栓漏水" * 80  # ~1.2 KB a row: 20 rows pass the row limit, not the bytes
    r = _upload(tight_server, people["staff"], _crowd(lon, lat, 20, at, long_words))
    assert r.status_code == 413, r.text
    assert "20,000 bytes" in r.json()["detail"]
    # no declared length (chunked): refused while it arrives
    body = _crowd(lon, lat, 100, at, long_words).encode()
    envelope = (
        b"--b0\r\nContent-Disposition: form-data; name=file; filename=a.csv\r\n\r\n",
        b"\r\n--b0--\r\n",
    )

    def chunks() -> Iterator[bytes]:
        yield envelope[0]
        for k in range(0, len(body), 8192):
            yield body[k : k + 8192]
        yield envelope[1]

    r = httpx.post(
        f"{tight_server.url}/api/incidents/hotline",
        content=chunks(),
        headers={**people["staff"], "Content-Type": "multipart/form-data; boundary=b0"},
    )
    assert r.status_code == 413, r.text
    assert _incidents(engine) == before
    r = _upload(tight_server, people["staff"], _crowd(lon, lat, 50, at))
    assert r.status_code == 201 and r.json()["filed"] == 50
    assert _incidents(engine) == before + 50


def _incidents(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM incident")).scalar_one()


@pytest.mark.parametrize("field", ["description", "address", "contact_name", "contact_phone"])
def test_a_nul_in_a_text_field_is_a_422_naming_it_and_nothing_is_stored(
    live_server: LiveServer, people: dict, engine: Engine, field: str
) -> None:
    lon, lat = people["point"]
    before = _incidents(engine)
    r = _report(live_server, people["resident"], lon, lat, **{field: "井盖\x00缺失"})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert [e["loc"] for e in problem["errors"]] == [["body", field]]
    assert f"body.{field}" in problem["detail"] and "NUL" in problem["detail"]
    assert _incidents(engine) == before


def test_a_lone_surrogate_or_a_body_of_any_bytes_is_a_422_never_a_500(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    url = f"{live_server.url}/api/incidents"
    before = _incidents(engine)
    fields = f'"category_code": "10101", "lon": {lon}, "lat": {lat}'
    surrogate = ("{" + fields + ', "description": "\\ud800 x"}').encode()  # JSON's own escape
    for content_type, body, field in [
        ("application/json", surrogate, ["body", "description"]),
        ("text/plain", surrogate, ["body"]),  # JSON sent as text: refused, not echoed
        ("application/json", b"\xff\xfe\x00 not json", ["body", 0]),
    ]:
        r = httpx.post(
            url, content=body, headers={**people["resident"], "content-type": content_type}
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()  # valid JSON, whatever came in
        assert field in [e["loc"] for e in problem["errors"]], problem
        assert "input" not in problem["errors"][0]  # what was sent is not echoed back
    assert _incidents(engine) == before


def test_photos_sent_as_plain_form_fields_are_a_422_naming_files(
    live_server: LiveServer, people: dict
) -> None:
    lon, lat = people["point"]
    case = _report(live_server, people["resident"], lon, lat).json()["id"]
    url = f"{live_server.url}/api/incidents/{case}/photos"
    for sent in (
        {"files": {"files": (None, "not a file")}},  # multipart, a part without a filename
        {"data": {"files": "not a file"}},  # form-urlencoded
    ):
        r = httpx.post(url, headers=people["resident"], **sent)
        assert r.status_code == 422, r.text
        assert any(e["loc"][:2] == ["body", "files"] for e in r.json()["errors"]), r.text
    detail = httpx.get(f"{live_server.url}/api/incidents/{case}", headers=people["resident"])
    assert detail.json()["photos"] == []


def test_a_nul_in_a_hotline_csv_names_its_row_and_column_and_files_nothing(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    csv = (
        "category_code,description,lon,lat,address,contact_phone\n"
        f"10102,路灯不亮,{lon},{lat},文一西路,13912345678\n"
        f"10102,路灯\x00不亮,{lon},{lat},,\n"
        f"10102,路灯不亮,{lon},{lat},文一西路,139\x0012345678\n"
    )
    before = _incidents(engine)
    r = httpx.post(
        f"{live_server.url}/api/incidents/hotline",
        files={"file": ("12345.csv", csv.encode(), "text/csv")},
        headers=people["staff"],
    )
    assert r.status_code == 422, r.text
    found = {(p["row"], p["field"]): p["message"] for p in r.json()["problems"]}
    assert set(found) == {(2, "description"), (3, "contact_phone")}
    assert all("NUL" in m for m in found.values())
    assert _incidents(engine) == before


def test_a_hotline_csv_with_old_mac_line_ends_is_read_row_by_row(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    csv = f"category_code,description,lon,lat\r10102,路灯不亮,{lon},{lat}\r10102,坐标错,abc,{lat}\r"
    r = httpx.post(
        f"{live_server.url}/api/incidents/hotline",
        files={"file": ("12345.csv", csv.encode(), "text/csv")},
        headers=people["staff"],
    )
    assert r.status_code == 422, r.text  # not a 500: each CR ends a row
    assert [(p["row"], p["field"]) for p in r.json()["problems"]] == [(2, "lon")]


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


def test_overdue_case_is_escalated_once_by_the_job(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    case = _report(live_server, people["resident"], lon, lat, category_code="20402").json()["id"]
    _act(live_server, people["staff"], case, "register")
    r = _act(live_server, people["staff"], case, "dispatch", assignee_id=people["worker_id"])
    assert r.json()["deadline"] is not None
    # the fire (火情, 1 hour) was dispatched two hours ago: move its clock back
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE incident_event SET at = at - interval '2 hours' WHERE incident_id = :i"),
            {"i": case},
        )
        conn.execute(
            text(
                "UPDATE incident SET reported_at = reported_at - interval '2 hours', "
                "deadline = deadline - interval '2 hours' WHERE id = :i"
            ),
            {"i": case},
        )
    url = f"{live_server.url}/api/incidents/escalations"
    assert httpx.post(url, headers=people["worker"]).status_code == 403
    assert httpx.post(url, headers=people["staff"]).status_code == 403
    run = httpx.post(url, headers=people["admin"]).json()
    assert case in [e["incident_id"] for e in run["escalated"]]
    again = httpx.post(url, headers=people["admin"]).json()
    # the street's turn comes half the time limit after the community's: not yet
    assert case not in [e["incident_id"] for e in again["escalated"]]
    detail = httpx.get(f"{live_server.url}/api/incidents/{case}", headers=people["staff"]).json()
    assert detail["state"] == "escalated" and detail["escalation_level"] == 1
    assert detail["history"][-1]["actor"] == "system" and "督办" in detail["history"][-1]["note"]
    # the assignee can still work it
    assert _act(live_server, people["worker"], case, "start").status_code == 200


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


def test_report_near_a_grid_edge_is_flagged_and_staff_confirm_the_grid(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    with engine.connect() as conn:
        a_code, b_code, lon, lat = conn.execute(
            text(
                """
                WITH pair AS (
                    SELECT a.code AS a_code, b.code AS b_code, a.geom AS ag, b.geom AS bg
                    FROM grid a JOIN grid b ON a.community_id = b.community_id
                         AND a.id <> b.id AND ST_Intersects(a.geom, b.geom)
                         AND ST_Length(ST_Intersection(ST_Boundary(a.geom),
                                                       ST_Boundary(b.geom))::geography) > 100
                    WHERE a.id = :g AND a.valid_to IS NULL AND b.valid_to IS NULL
                    ORDER BY b.code LIMIT 1
                ), edge AS (
                    SELECT a_code, b_code, ag, ST_LineInterpolatePoint(ST_GeometryN(ST_LineMerge(
                        ST_CollectionExtract(ST_Intersection(ST_Boundary(ag), ST_Boundary(bg)), 2)
                    ), 1), 0.5) AS p FROM pair
                )
                SELECT a_code, b_code, ST_X(q), ST_Y(q) FROM (
                    SELECT a_code, b_code, ST_LineInterpolatePoint(
                        ST_MakeLine(p, ST_ClosestPoint(ST_Buffer(ag::geography, -30)::geometry, p)),
                        0.3) AS q FROM edge) s
                """
            ),
            {"g": people["grid_id"]},
        ).one()
    r = _report(live_server, people["resident"], lon, lat, category_code="30401")
    assert r.status_code == 201, r.text
    filed = r.json()
    assert filed["grid_code"] == a_code
    assert filed["near_boundary"] and filed["edge_distance_m"] < 30
    assert any("确认所属网格" in c for c in filed["checks"])
    url = f"{live_server.url}/api/incidents/{filed['id']}/grid"
    assert httpx.post(url, json={"grid_code": b_code}, headers=people["worker"]).status_code == 403
    far = httpx.post(url, json={"grid_code": "330106999999999"}, headers=people["staff"])
    assert far.status_code == 422
    moved = httpx.post(url, json={"grid_code": b_code}, headers=people["staff"])
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["grid_code"] == b_code and body["near_boundary"] is False
    assert "确认所属网格" in body["history"][-1]["note"]


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
