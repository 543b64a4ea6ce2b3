"""A create retried with the same Idempotency-Key is done once (reports here; alerts in
test_alert_retries.py): the retry gets the first answer, nothing is filed twice."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import Engine, text

from tests.api.incidents_shared import _report
from tests.api.incidents_shared import district as district
from tests.api.incidents_shared import people as people
from tests.conftest import LiveServer


def _incidents(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM incident")).scalar_one())


def _keyed(people: dict, who: str, key: str) -> dict:
    return {**people[who], "Idempotency-Key": key}


def test_a_report_sent_three_times_with_one_key_is_filed_once(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    key, before = str(uuid.uuid4()), _incidents(engine)
    first = _report(live_server, _keyed(people, "resident", key), lon, lat)
    assert first.status_code == 201, first.text
    again = [_report(live_server, _keyed(people, "resident", key), lon, lat) for _ in range(2)]
    assert [r.status_code for r in again] == [201, 201]
    assert {r.json()["id"] for r in again} == {first.json()["id"]}
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in again)
    assert {r.headers["content-type"] for r in again} == {first.headers["content-type"]}
    assert "Idempotent-Replayed" not in first.headers
    assert _incidents(engine) == before + 1
    # the key is the caller's own: another resident's same key files their own report
    theirs = _report(live_server, _keyed(people, "resident2", key), lon, lat)
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert _incidents(engine) == before + 2


def test_the_same_key_with_another_report_is_refused_and_files_nothing(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    key = str(uuid.uuid4())
    assert _report(live_server, _keyed(people, "resident", key), lon, lat).status_code == 201
    before = _incidents(engine)
    other = _report(
        live_server, _keyed(people, "resident", key), lon, lat, description="另一处路灯不亮"
    )
    assert other.status_code == 422 and "use a new key" in other.json()["detail"]
    assert _incidents(engine) == before


def test_a_refused_request_leaves_the_key_free_for_the_corrected_retry(
    live_server: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    key, before = str(uuid.uuid4()), _incidents(engine)
    wrong = _report(live_server, _keyed(people, "resident", key), lat, lon)  # swapped
    assert wrong.status_code == 422
    # the same request again is run again (and refused again), not replayed from memory
    assert _report(live_server, _keyed(people, "resident", key), lat, lon).status_code == 422
    assert _incidents(engine) == before


def test_a_malformed_key_is_a_clear_422(live_server: LiveServer, people: dict) -> None:
    lon, lat = people["point"]
    for bad in ("has space", "x" * 256):
        r = _report(live_server, _keyed(people, "resident", bad), lon, lat)
        assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]
    r = httpx.post(
        f"{live_server.url}/api/incidents",
        content=b"{}",
        headers={**people["resident"], "Idempotency-Key": "ok-key", "Content-Type": "text/plain"},
    )
    assert r.status_code == 422  # the route's own refusal, through the middleware
