"""Several servers share each caller's bound when the rate limits live in Redis
(``WANGGE_REDIS_URL``): a resident's burst spread over two servers is stopped at the one
limit, not at the limit times the servers; a Redis that does not answer leaves each server
to limit on its own, never to fail."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis

from gis.settings import get_settings
from tests.api.incidents_shared import _report
from tests.api.incidents_shared import district as district
from tests.api.incidents_shared import people as people
from tests.conftest import LiveServer

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _strict(database_url: str, redis_url: str) -> LiveServer:
    settings = get_settings().model_copy(
        update={"rate_writes_per_min": 5, "rate_public_per_min": 3, "redis_url": redis_url}
    )
    return LiveServer(database_url, settings)


@pytest.fixture(scope="module")
def two(database_url: str, district: dict) -> Iterator[tuple[LiveServer, LiveServer]]:
    if not _redis_answers():
        pytest.skip(f"Redis does not answer at {REDIS_URL} (scripts/setup.sh starts one)")
    with _strict(database_url, REDIS_URL) as a, _strict(database_url, REDIS_URL) as b:
        yield a, b


def test_a_burst_spread_over_two_servers_is_stopped_at_one_limit(
    two: tuple[LiveServer, LiveServer], people: dict
) -> None:
    a, b = two
    lon, lat = people["point"]
    codes = [_report(s, people["resident"], lon, lat).status_code for s in (a, b, a, b, a)]
    assert codes == [201] * 5
    refused = _report(b, people["resident"], lon, lat)  # b itself saw two
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 13
    # another resident's bucket is their own, on either server
    assert _report(b, people["resident2"], lon, lat).status_code == 201


def test_without_redis_each_server_limits_on_its_own(
    database_url: str, people: dict, district: dict, server_log
) -> None:
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with _strict(database_url, f"redis://127.0.0.1:{closed}/0") as server:
        lon, lat = people["point"]
        codes = [_report(server, people["admin"], lon, lat).status_code for _ in range(6)]
    assert codes == [201] * 5 + [429]
    assert "Redis does not answer" in server_log.read_text(encoding="utf-8")
