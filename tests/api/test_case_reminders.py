"""Reminders when a resident's case moves (办理提醒), from the outside.

Staff move a case over HTTP; its reporter sees one plain-Chinese reminder per step on
``/api/resident/reminders``, ``/r/requests``, ``/r/notices`` (signed in) or the tracking
page (anonymous), with no staff name nor note; the outbox — the table the relay delivers,
like the hazard alerts — holds one message per step, even when the staff's request is
retried with the same Idempotency-Key.  A signed-in resident's stream
(``/api/resident/stream``) and page receive a new reminder without reload.
"""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from tests.browser import accessibility_violations, open_page
from tests.conftest import LiveServer
from tests.signin import give_password, sign_in_page

ADMIN = "remind_admin"
HTML = {"Accept": "text/html"}
INTERNAL = "内部备注：请李四核实"
PHONE = (390, 844)


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 17, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


@pytest.fixture(scope="module")
def staff(district: dict, engine: Engine) -> dict:
    return {"Authorization": f"Bearer {issue_token(engine, ADMIN, 'admin')}"}


def _form(district: dict, engine: Engine, description: str) -> dict:
    b = district["building"].geometry.iloc[11].representative_point()
    with engine.connect() as conn:
        code = conn.execute(text("SELECT code FROM incident_category ORDER BY code")).scalar()
    return {"category_code": code, "description": description, "lon": b.x, "lat": b.y}


def _act(url: str, staff: dict, incident_id: int, action: str, key: str | None = None) -> None:
    headers = staff | ({"Idempotency-Key": key} if key else {})
    for _ in range(20):
        r = httpx.post(
            f"{url}/api/incidents/{incident_id}/actions",
            json={"action": action, "note": f"{INTERNAL}（{action}）"},
            headers=headers,
            timeout=60,
        )
        if r.status_code != 409 or not r.headers.get("retry-after"):
            break
        time.sleep(float(r.headers["retry-after"]))  # the first still storing its answer
    assert r.status_code == 200, r.text


def _outbox(engine: Engine, incident_id: int) -> list:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT channel, recipient, body, status FROM outbox "
                "WHERE incident_id = :id ORDER BY id"
            ),
            {"id": incident_id},
        ).all()


def _file_signed_in(url: str, me: dict, form: dict) -> int:
    with httpx.Client(base_url=url, timeout=60) as client:
        filed = client.post("/r/report", data=form, headers=me | HTML)
        assert filed.status_code == 201, filed.text
        listed = client.get("/r/requests", headers=me | HTML)
    return max(int(i) for i in re.findall(r'href="/r/requests/(\d+)"', listed.text))


def test_each_step_reminds_the_reporter_once_in_plain_chinese(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict
) -> None:
    url = live_server.url
    me = {"Authorization": f"Bearer {issue_token(engine, 'remind_resident', 'resident')}"}
    other = {"Authorization": f"Bearer {issue_token(engine, 'remind_other', 'resident')}"}
    incident_id = _file_signed_in(url, me, _form(district, engine, "小区门口路面塌陷"))
    assert _outbox(engine, incident_id) == []  # filing is not a move

    _act(url, staff, incident_id, "register", key=f"register-{incident_id}")
    _act(url, staff, incident_id, "register", key=f"register-{incident_id}")  # a retry
    queued = _outbox(engine, incident_id)
    assert len(queued) == 1
    channel, recipient, body, status = queued[0]
    assert channel == "outbox" and status == "pending"
    with engine.connect() as conn:
        reporter = conn.execute(
            text("SELECT reporter_id FROM incident WHERE id = :id"), {"id": incident_id}
        ).scalar()
    assert recipient == f"user:{reporter}"
    assert "已受理" in body and f"编号 {incident_id}" in body

    _act(url, staff, incident_id, "dispatch")
    with engine.connect() as conn:
        worker = conn.execute(
            text(
                "SELECT u.username FROM incident i JOIN grid_worker w ON w.id = i.assignee_id "
                "JOIN app_user u ON u.id = w.user_id WHERE i.id = :id"
            ),
            {"id": incident_id},
        ).scalar_one()
    # the worker's own steps on the tablet remind the reporter too (row security lets a
    # worker write the reminder of a case they hold)
    tablet = {"Authorization": f"Bearer {issue_token(engine, worker, 'grid_worker')}"}
    for action in ("start", "resolve"):
        _act(url, tablet, incident_id, action)
    for action in ("verify", "close"):
        _act(url, staff, incident_id, action)
    bodies = [row.body for row in _outbox(engine, incident_id)]
    # verify is staff's own check: the reporter hears of the close that follows
    assert len(bodies) == 5, bodies
    steps = ("已受理", "已派给网格员", "正在处理", "已处理完毕", "已办结")
    for said, body in zip(steps, bodies, strict=True):
        assert said in body
    for body in bodies:
        assert ADMIN not in body and worker not in body
        assert "内部备注" not in body and "李四" not in body

    with httpx.Client(base_url=url, timeout=60) as client:
        api = client.get("/api/resident/reminders", headers=me)
        assert api.status_code == 200
        got = [r for r in api.json() if r["incident_id"] == incident_id]
        assert [r["text"] for r in got] == bodies[::-1]  # newest first
        assert client.get("/api/resident/reminders", headers=other).json() == []
        for page in ("/r/requests", f"/r/requests/{incident_id}"):
            html = client.get(page, headers=me | HTML)
            assert html.status_code == 200
            assert "办理提醒" in html.text and bodies[-1] in html.text
            assert ADMIN not in html.text and "内部备注" not in html.text
        assert bodies[-1] not in client.get("/r/requests", headers=other | HTML).text

        # rating is the reporter's own step: nobody reminds them of it
        rated = client.post(f"/r/requests/{incident_id}/rate", data={"rating": 5}, headers=me)
        assert rated.status_code == 303
    assert len(_outbox(engine, incident_id)) == 5


def test_an_anonymous_reporter_follows_the_reminders_by_tracking_code(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict
) -> None:
    url = live_server.url
    form = _form(district, engine, "垃圾桶满了没人清") | {"contact_phone": "13900139000"}
    with httpx.Client(base_url=url, timeout=60) as client:
        filed = client.post("/r/report", data=form, headers=HTML)
        assert filed.status_code == 201, filed.text
        track = re.search(r'href="(/r/track/[^"?]+)', filed.text).group(1)
        code = track.rsplit("/", 1)[1]
        with engine.connect() as conn:
            incident_id = conn.execute(
                text("SELECT id FROM incident WHERE description = '垃圾桶满了没人清'")
            ).scalar_one()
        _act(url, staff, incident_id, "register")
        _act(url, staff, incident_id, "dispatch")
        page = client.get(f"/r/track/{code}", headers=HTML)
    assert page.status_code == 200
    queued = _outbox(engine, incident_id)
    assert [r.recipient for r in queued] == [f"incident:{incident_id}"] * 2
    for row in queued:
        assert row.body in page.text
        assert "13900139000" not in row.body and "13900139000" not in row.recipient
    assert ADMIN not in page.text and "内部备注" not in page.text


def _first_reminder(url: str, headers: dict, got: list, ready: threading.Event) -> None:
    with httpx.stream("GET", f"{url}/api/resident/stream", headers=headers, timeout=30) as r:
        assert r.status_code == 200
        event = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "ready":
                ready.set()
            elif line.startswith("data: ") and event == "reminder":
                got.append(json.loads(line[6:]))
                return


def test_the_resident_stream_brings_a_new_reminder(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict
) -> None:
    url = live_server.url
    me = {"Authorization": f"Bearer {issue_token(engine, 'remind_live', 'resident')}"}
    incident_id = _file_signed_in(url, me, _form(district, engine, "电梯异响"))
    got: list = []
    ready = threading.Event()
    reader = threading.Thread(target=_first_reminder, args=(url, me, got, ready), daemon=True)
    reader.start()
    assert ready.wait(20), "the stream did not open"
    started = time.monotonic()
    _act(url, staff, incident_id, "register")
    reader.join(20)
    assert got, "no reminder arrived on the stream"
    assert got[0]["incident_id"] == incident_id and "已受理" in got[0]["text"]
    assert time.monotonic() - started < 10  # woken by the change, not the keep-alive


@pytest.mark.browser
def test_the_requests_page_shows_a_new_reminder_without_reload(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict
) -> None:
    url = live_server.url
    name = "remind_page"
    me = {"Authorization": f"Bearer {issue_token(engine, name, 'resident')}"}
    give_password(engine, name)
    incident_id = _file_signed_in(url, me, _form(district, engine, "楼顶漏水"))
    with open_page(screenshot="resident_reminder_live.png", viewport=PHONE) as (page, log):
        sign_in_page(page, url, name, then="/r/requests")
        page.wait_for_function("() => document.getElementById('r-reminders').dataset.listening")
        page.evaluate("window.__same_page = 1")
        _act(url, staff, incident_id, "register")
        page.wait_for_selector("#r-reminders li.r-new", timeout=15_000)
        text_shown = page.locator("#r-reminders li.r-new").first.inner_text()
        assert "已受理" in text_shown and f"编号 {incident_id}" in text_shown
        assert page.evaluate("window.__same_page") == 1  # not reloaded
        assert accessibility_violations(page) == []
        assert log.external == [] and log.console_errors == [] and log.page_errors == []
