"""Abuse is bounded: one caller's burst is refused with 429 and Retry-After, nothing done.

A server with small limits (5 changing requests a minute per credential, 3 requests a
minute per address without one) on the sample district; the bucket arithmetic itself is
checked with a clock the test turns.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, text

from api.limits import TokenBuckets
from gis.settings import get_settings
from tests.api.incidents_shared import _report
from tests.api.incidents_shared import district as district
from tests.api.incidents_shared import people as people
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def strict(database_url: str, district: dict) -> Iterator[LiveServer]:
    settings = get_settings().model_copy(
        update={"rate_writes_per_min": 5, "rate_public_per_min": 3}
    )
    with LiveServer(database_url, settings) as server:
        yield server


def _incidents(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM incident")).scalar_one())


def test_a_resident_filing_in_a_burst_is_stopped_and_the_excess_is_not_filed(
    strict: LiveServer, people: dict, engine: Engine
) -> None:
    lon, lat = people["point"]
    before = _incidents(engine)
    codes = [_report(strict, people["resident"], lon, lat).status_code for _ in range(5)]
    assert codes == [201] * 5
    refused = _report(strict, people["resident"], lon, lat)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 13  # a token comes back every 12 s
    assert "too many requests" in refused.json()["detail"] and "请求过于频繁" in refused.text
    assert _incidents(engine) == before + 5
    # another resident has a bucket of their own; reads of the first are not limited
    assert _report(strict, people["resident2"], lon, lat).status_code == 201
    mine = httpx.get(f"{strict.url}/api/incidents", headers=people["resident"])
    assert mine.status_code == 200


def test_anonymous_callers_are_bounded_per_address_and_a_browser_is_told_in_chinese(
    strict: LiveServer, people: dict
) -> None:
    lon, lat = people["point"]
    url = f"{strict.url}/api/resident/nearest-shelter?lon={lon}&lat={lat}"
    answers = [httpx.get(url) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200], answers[0].text
    assert answers[3].status_code == 429 and int(answers[3].headers["Retry-After"]) >= 1
    page = httpx.get(
        f"{strict.url}/resident/shelter?lon={lon}&lat={lat}", headers={"Accept": "text/html"}
    )
    assert page.status_code == 429 and "请求过于频繁" in page.text
    assert "Retry-After" in page.headers


def test_buckets_refill_with_time_and_forget_the_oldest_keys() -> None:
    now = [0.0]
    buckets = TokenBuckets(60, max_keys=2, clock=lambda: now[0])  # one a second, bursts of 60
    assert all(buckets.take("a") is None for _ in range(60))
    wait = buckets.take("a")
    assert wait is not None and 0.99 <= wait <= 1.0
    now[0] += 1.0
    assert buckets.take("a") is None and buckets.take("a") is not None
    buckets.take("b")
    buckets.take("c")  # three keys, room for two: "a", the least recently seen, is forgotten
    assert buckets.take("a") is None
    assert TokenBuckets(0).take("anyone") is None  # 0: no limit
