"""Incidents over HTTP: the whole loop from a resident's report to their rating, the guards,
bad input, duplicates, photos, the hotline import, escalation and the grid of a report
near a grid edge.  Dispatching is test_incidents_dispatch.py."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import httpx
import pytest
from PIL import Image
from sqlalchemy import Engine, text

from gis import clock
from gis.settings import get_settings
from gis.store import grid_store, incident_ids
from tests.api.incidents_shared import _act, _report

# module-scoped fixtures shared with test_incidents_dispatch.py: each module loads its own district
from tests.api.incidents_shared import district as district
from tests.api.incidents_shared import people as people
from tests.conftest import LiveServer


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


def test_who_sees_which_incident(live_server: LiveServer, people: dict, engine: Engine) -> None:
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
    own = httpx.get(f"{live_server.url}/api/incidents/{cid}", headers=people["resident"]).json()
    assert own["contact"]["phone"] == "13912345678"
    audited = text(
        "SELECT username FROM audit_log WHERE action = 'read_contact' AND object_id = :i"
    )
    with engine.connect() as conn:  # the reporter reading their own: not an access to audit
        assert conn.execute(audited, {"i": str(cid)}).scalars().all() == []
    staff = httpx.get(f"{live_server.url}/api/incidents/{cid}", headers=people["staff"]).json()
    assert staff["contact"]["phone"] == "13912345678"
    with engine.connect() as conn:  # staff reading a resident's phone: audited, by name
        readers = conn.execute(audited, {"i": str(cid)}).scalars().all()
    assert readers == ["staff_test_mine"]


def test_bad_reports_get_clear_4xx(live_server: LiveServer, people: dict, engine: Engine) -> None:
    lon, lat = people["point"]
    r = _report(live_server, people["resident"], lon, lat, category_code="99999")
    assert r.status_code == 422 and "unknown category" in r.text
    r = _report(live_server, people["resident"], lat, lon)
    assert r.status_code == 422 and "swapped" in r.text
    r = _report(live_server, people["resident"], 116.39, 39.91)  # Beijing: not this district
    assert r.status_code == 422 and "outside the service area" in r.text
    _w, s, e, n = grid_store.current_grids(engine).total_bounds
    r = _report(live_server, people["resident"], e + 0.01, (s + n) / 2)  # 1 km east: no grid
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
    # resident2 may not see resident's report: told it is being handled, and nothing more
    assert second["duplicate_of"] is None and second["possible_duplicates"] == []
    assert second["duplicate_count"] == 0 and second["similar_report_nearby"] is True
    assert any("正在处理" in c for c in second["checks"])
    assert str(first["id"]) not in str(second["checks"])
    own = httpx.get(f"{live_server.url}/api/incidents/{second['id']}", headers=people["resident2"])
    assert own.status_code == 200 and own.json()["duplicate_of"] is None
    staff_view = httpx.get(
        f"{live_server.url}/api/incidents/{second['id']}", headers=people["staff"]
    ).json()
    assert staff_view["duplicate_of"] == first["id"]  # staff see the link
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
    # resident2 learns their report was folded into another, not which (not theirs to open)
    assert dup["merged_into"] is None and dup["state"] == "rejected"
    assert [h["action"] for h in dup["history"]] == ["report", "reject"]
    assert str(first["id"]) not in str(dup["history"])
    staff_view = httpx.get(
        f"{live_server.url}/api/incidents/{second['id']}", headers=people["staff"]
    ).json()
    assert staff_view["merged_into"] == first["id"]


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
    stored_sha256 = r.json()[0]["sha256"]
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
    assert got.headers["content-type"] == "image/png"  # the picture, re-encoded bare
    assert hashlib.sha256(got.content).hexdigest() == stored_sha256
    assert Image.open(io.BytesIO(got.content)).getpixel((5, 5)) == (200, 30, 30)
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
    # its number carries the month of the call, whichever months were made before:
    # the server's role made it (wangge_make_incident_months, migration 0042) — for a
    # call of years ago too
    assert incident_ids.month_of_id(r.json()["incidents"][0]["id"]) == date(2026, 11, 1)
    old = good.replace("2026-11-20T20:00:00", "2021-06-15T10:00:00")
    r = httpx.post(
        f"{live_server.url}/api/incidents/hotline",
        files={"file": ("12345.csv", old.encode(), "text/csv")},
        headers=people["staff"],
    )
    assert r.status_code == 201, r.text
    assert incident_ids.month_of_id(r.json()["incidents"][0]["id"]) == date(2021, 6, 1)
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
    one = r.json()  # the resident sees none of the 40 hotline calls, only that they exist
    assert (one["duplicate_count"], one["possible_duplicates"]) == (0, [])
    assert one["similar_report_nearby"] is True and one["duplicate_of"] is None
    r = _report(
        live_server,
        people["staff"],
        lon,
        lat,
        category_code="10103",
        reported_at=(at + timedelta(minutes=20)).isoformat(),
    )
    assert r.status_code == 201, r.text
    seen = r.json()  # staff of the area see the 40 calls and the resident's report
    assert seen["duplicate_count"] == 41 and seen["similar_report_nearby"] is False
    assert len(seen["possible_duplicates"]) == get_settings().duplicate_max_listed
    assert seen["duplicate_of"] == seen["possible_duplicates"][0]["id"]
    assert any("41 likely duplicates nearby" in c for c in seen["checks"])


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
        # (its report stays: within a day of its steps, and in its number's month)
        conn.execute(
            text("UPDATE incident SET deadline = deadline - interval '2 hours' WHERE id = :i"),
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


def test_the_list_takes_a_time_range_of_reports(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    """``since``/``until`` bound the report time (with an offset; a naive time is a 422)."""
    lon, lat = people["point"]
    case = _report(live_server, people["resident"], lon, lat).json()["id"]
    with engine.connect() as conn:
        at = conn.execute(
            text("SELECT reported_at FROM incident WHERE id = :i"), {"i": case}
        ).scalar_one()
    url = f"{live_server.url}/api/incidents"

    def ids(**params: str) -> list[int]:
        r = httpx.get(url, params={"limit": 1000, **params}, headers=people["admin"])
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()]

    around = {
        "since": (at - timedelta(seconds=1)).isoformat(),
        "until": (at + timedelta(seconds=1)).isoformat(),
    }
    assert case in ids(**around)
    assert case not in ids(since=(at + timedelta(seconds=1)).isoformat())
    assert case not in ids(until=at.isoformat())  # before it, not at it
    listed = ids(**around)
    with engine.connect() as conn:
        times = dict(
            conn.execute(
                text("SELECT id, reported_at FROM incident WHERE id = ANY(:i)"), {"i": listed}
            ).all()
        )
    assert all(at - timedelta(seconds=1) <= t < at + timedelta(seconds=1) for t in times.values())
    naive = httpx.get(url, params={"since": "2026-12-01T00:00:00"}, headers=people["admin"])
    assert naive.status_code == 422 and "since" in naive.text
