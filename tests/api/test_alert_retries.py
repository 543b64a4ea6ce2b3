"""An alert retried with its Idempotency-Key is sent once: no second round of messages."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import Engine, text

from tests.api.awareness_shared import admin as admin
from tests.api.awareness_shared import district as district
from tests.api.awareness_shared import typhoon as typhoon
from tests.conftest import LiveServer


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        alerts = conn.execute(text("SELECT count(*) FROM alert")).scalar_one()
        messages = conn.execute(text("SELECT count(*) FROM alert_recipient")).scalar_one()
    return int(alerts), int(messages)


def test_an_alert_sent_twice_with_one_key_reaches_each_household_once(
    live_server: LiveServer, typhoon: dict, admin: dict, engine: Engine
) -> None:
    url = f"{live_server.url}/api/hazards/{typhoon['feature']['id']}/alerts"
    body = {"group": "elderly_alone", "message": "台风海葵今晚登陆，请勿外出。"}
    headers = {**admin, "Idempotency-Key": str(uuid.uuid4())}
    before = _counts(engine)
    first = httpx.post(url, json=body, headers=headers, timeout=120)
    assert first.status_code == 201, first.text
    after_first = _counts(engine)
    assert after_first[0] == before[0] + 1 and after_first[1] > before[1]
    retry = httpx.post(url, json=body, headers=headers, timeout=120)
    assert retry.status_code == 201 and retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert _counts(engine) == after_first
