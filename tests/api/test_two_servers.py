"""Two app servers on one database, as behind one address (issue 20): each ``wangge serve``
in its own process.  A reminder that falls due while both run their timers is sent once, not
once per server; a case filed through one server reaches the command centre's live stream
on the other; and the claim that decides which server runs a periodic job follows its rules
(one run per interval, a stopped server's run taken over, a clock set back)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.store import job_store
from tests.served import wangge_servers

INTERVAL_S = 1.0


@pytest.fixture(scope="module")
def town(engine: Engine) -> dict:
    layers = generate_district(3000, 29, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    b = layers["building"].geometry.iloc[7].representative_point()
    with engine.connect() as conn:
        category = conn.execute(text("SELECT code FROM incident_category ORDER BY code")).scalar()
    return {
        "point": (b.x, b.y),
        "category": category,
        "admin": issue_token(engine, "two_servers_admin", "admin"),
        "resident": issue_token(engine, "two_servers_resident", "resident"),
    }


@pytest.fixture(scope="module")
def servers(town: dict, database_url: str, tmp_path_factory: pytest.TempPathFactory):
    """Two servers running the reminder / 督办 job every second."""
    logs = tmp_path_factory.mktemp("two_servers")
    settings = {"WANGGE_ESCALATION_INTERVAL_S": str(INTERVAL_S)}
    with wangge_servers(database_url, [logs / "a.log", logs / "b.log"], **settings) as (a, b):
        yield a, b


def _reminders(engine: Engine, incident_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'remind' "
                "AND object_type = 'incident' AND object_id = :id"
            ),
            {"id": str(incident_id)},
        ).scalar_one()


def _file(url: str, town: dict, description: str) -> int:
    lon, lat = town["point"]
    r = httpx.post(
        f"{url}/api/incidents",
        json={
            "category_code": town["category"],
            "description": description,
            "lon": lon,
            "lat": lat,
        },
        headers={"Authorization": f"Bearer {town['resident']}"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_a_reminder_falling_due_while_two_servers_run_is_sent_once(
    servers: tuple[str, str], town: dict, engine: Engine
) -> None:
    a, _ = servers
    incident_id = _file(a, town, "两台服务器：楼道灯不亮")
    for action in ("register", "dispatch"):
        r = httpx.post(
            f"{a}/api/incidents/{incident_id}/actions",
            json={"action": action},
            headers={"Authorization": f"Bearer {town['admin']}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
    # 5 s to go from the dispatch: the reminder (at 80 % of the time) falls due 4 s after
    # it, while both servers' timers run every second
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE incident SET deadline = (SELECT max(at) FROM incident_event "
                "WHERE incident_id = :id AND to_state = 'dispatched') + interval '5 seconds' "
                "WHERE id = :id"
            ),
            {"id": incident_id},
        )
    deadline = time.monotonic() + 40
    while _reminders(engine, incident_id) == 0 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert _reminders(engine, incident_id) == 1, "no reminder within 40 s"
    time.sleep(3 * INTERVAL_S)  # both servers ran their timers several times since
    assert _reminders(engine, incident_id) == 1
    with engine.connect() as conn:
        runs = conn.execute(
            text("SELECT runs, holder FROM job_run WHERE name = 'escalation'")
        ).one()
    assert runs.runs >= 3 and runs.holder


def test_a_case_filed_through_one_server_reaches_the_live_stream_of_the_other(
    servers: tuple[str, str], town: dict, engine: Engine
) -> None:
    a, b = servers
    events: list[dict] = []
    ready = threading.Event()
    # other cases may change meanwhile (this module's servers run their reminder timers):
    # the first event of a case newer than every stored one is the one to check
    with engine.connect() as conn:
        newest = conn.execute(text("SELECT coalesce(max(id), 0) FROM incident")).scalar_one()

    def listen() -> None:
        headers = {"Authorization": f"Bearer {town['admin']}"}
        with httpx.stream("GET", f"{b}/api/live/stream", headers=headers, timeout=30) as r:
            kind = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    if kind == "ready":
                        ready.set()
                    elif kind == "incident" and json.loads(line[6:])["id"] > newest:
                        events.append(json.loads(line[6:]))
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(30), "server B's stream did not open"
    incident_id = _file(a, town, "两台服务器：井盖缺失")
    thread.join(30)
    assert [e["id"] for e in events] == [incident_id]


def test_one_claim_per_interval_and_a_stopped_servers_run_taken_over(engine: Engine) -> None:
    name = "test-claims"
    interval, stale = timedelta(minutes=5), timedelta(minutes=20)
    t0 = clock.now()
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM job_run WHERE name = :n"), {"n": name})
        first = job_store.claim(conn, name, t0, interval, stale, "a")
        assert first is not None and first.covered_until is None
        # another server, a moment later: running already; nor one whose reading of the
        # clock is a moment older (it waited for the first one's claim to commit)
        assert job_store.claim(conn, name, t0 + timedelta(seconds=1), interval, stale, "b") is None
        assert (
            job_store.claim(conn, name, t0 - timedelta(milliseconds=3), interval, stale, "b")
            is None
        )
        job_store.finish(conn, first, t0 + timedelta(seconds=2), t0)
        # finished, but the interval has not passed
        assert job_store.claim(conn, name, t0 + timedelta(minutes=2), interval, stale, "b") is None
        second = job_store.claim(conn, name, t0 + interval, interval, stale, "b")
        assert second is not None and second.covered_until == t0
        # server b stops mid-run: nobody runs the job until its claim is stale
        assert job_store.claim(conn, name, t0 + 2 * interval, interval, stale, "a") is None
        third = job_store.claim(conn, name, t0 + interval + stale, interval, stale, "a")
        assert third is not None and third.covered_until == t0  # b's window is run again
        job_store.finish(conn, third, t0 + interval + stale, None)  # failed: window kept
        # the clock set back a day (a test or a wrong clock had run ahead): claimable
        back = job_store.claim(conn, name, t0 - timedelta(days=1), interval, stale, "a")
        assert back is not None and back.covered_until == t0
        assert job_store.runs(conn, name) == 2
        conn.execute(text("DELETE FROM job_run WHERE name = :n"), {"n": name})
