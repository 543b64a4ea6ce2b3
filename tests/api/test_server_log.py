"""The server's log, read from the outside: ``wangge serve`` in its own process, a database
error on a report that carries a reporter's name and phone, requests that still put a token in
the URL (``?api_key=``, ``/worker?token=``, ``?access_token=``: refused with 400) and Open311's
``api_key`` (taken, as its standard says); nothing personal and no token ends up in the log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from tests.served import wangge_serve

NAME = "测试张三丰"
PHONE = "13912345678"
#: Refuses the one name above, so that storing the report fails in the database itself
#: (as any constraint violation would) with the name and phone (sealed) in the failing row.
REFUSE = (
    f"ALTER TABLE incident_contact ADD CONSTRAINT test_refuse_phone "
    f"CHECK (name IS DISTINCT FROM '{NAME}') NOT VALID"
)


@pytest.fixture(scope="module")
def town(engine: Engine) -> dict:
    layers = generate_district(3000, 23, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Buffer(geom::geography,"
                " -60)::geometry) AS p FROM grid WHERE valid_to IS NULL ORDER BY code LIMIT 1) s"
            )
        ).one()
        worker = conn.execute(
            text("SELECT u.username FROM grid_worker w JOIN app_user u ON u.id = w.user_id LIMIT 1")
        ).scalar_one()
    return {
        "point": (float(lon), float(lat)),
        "resident": issue_token(engine, "resident00001", "resident"),
        "admin": issue_token(engine, "admin", "admin"),
        "worker": issue_token(engine, worker, "grid_worker"),
    }


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``wangge serve`` on a free port, its output (both streams) in a log file."""
    log = tmp_path / "server.log"
    with wangge_serve(database_url, log, WANGGE_ESCALATION_INTERVAL_S="0") as url:
        yield url, log


def test_the_log_holds_no_name_phone_or_token(
    town: dict, engine: Engine, served: tuple[str, Path]
) -> None:
    url, log = served
    lon, lat = town["point"]
    with engine.begin() as conn:
        conn.execute(text(REFUSE))
    try:
        refused = httpx.post(
            f"{url}/api/incidents",
            json={
                "category_code": "10101",
                "description": "井盖缺失",
                "lon": lon,
                "lat": lat,
                "contact_name": NAME,
                "contact_phone": PHONE,
            },
            headers={"Authorization": f"Bearer {town['resident']}"},
        )
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE incident_contact DROP CONSTRAINT test_refuse_phone"))
    assert refused.status_code == 500
    assert NAME not in refused.text and PHONE not in refused.text
    with engine.connect() as conn:  # the report went with its contact: nothing half-stored
        kept = conn.execute(
            text("SELECT count(*) FROM incident WHERE description = '井盖缺失'")
        ).scalar()
    assert kept == 0
    bearer = {"Authorization": f"Bearer {town['admin']}"}
    assert httpx.get(f"{url}/api/kpi", headers=bearer).status_code == 200
    # a token in the URL is refused, never used, and not written back
    for path, params in (
        ("/api/kpi", {"api_key": town["admin"]}),
        ("/kpi", {"by": "grid", "api_key": town["admin"]}),
        ("/worker", {"token": town["worker"]}),
        ("/api/me", {"ACCESS_TOKEN": town["resident"]}),
    ):
        refused = httpx.get(f"{url}{path}", params=params)
        assert refused.status_code == 400 and "Authorization" in refused.text, path
        assert not set(params.values()) & set(refused.text.split()), path
    # Open311 alone takes api_key in the URL, as its standard says
    services = httpx.get(f"{url}/open311/v2/requests.json", params={"api_key": town["admin"]})
    assert services.status_code == 200, services.text
    time.sleep(0.5)  # let the server write its last lines
    written = log.read_text(encoding="utf-8")
    # the log is written, names the requests and the error …
    assert 'GET /api/kpi?api_key=*** HTTP/1.1" 400' in written
    assert 'GET /kpi?by=grid&api_key=*** HTTP/1.1" 400' in written
    assert 'GET /worker?token=*** HTTP/1.1" 400' in written
    assert 'GET /api/me?ACCESS_TOKEN=*** HTTP/1.1" 400' in written
    assert 'GET /open311/v2/requests.json?api_key=*** HTTP/1.1" 200' in written
    assert "CheckViolation" in written and "test_refuse_phone" in written
    # … and holds nothing personal, no token
    for secret in (NAME, PHONE, town["admin"], town["worker"], town["resident"]):
        assert secret not in written, secret
