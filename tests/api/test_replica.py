"""Reads that tolerate lag go to a streaming replica (``WANGGE_DATABASE_REPLICA_URL``), tried
with a real hot standby (``pg_basebackup``) of a database of its own and two ``wangge serve``
processes.  Map tiles are built on the replica once it holds their data; a case filed while
the replica's replay is paused is in the tiles at once all the same (built on the database,
never stale), while tiles of layers that did not change still come from the replica; a
replica that stops sends the tiles back to the database without an error."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis.db import cluster
from maps.live import FINISHED_STATES
from tests.mvt import read_tile, tile_of
from tests.replica import primary_and_replica, superuser
from tests.served import wangge_serve, wangge_servers

pytestmark = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL (ogrinfo) missing")

Z = 16


@pytest.fixture(scope="module")
def pair() -> Iterator[dict]:
    with primary_and_replica() as (primary, replica, folder):
        engine = create_engine(primary)
        layers = generate_district(1500, 31, progress=False)
        load_layers(engine, layers, replace=True, progress=False)
        b = layers["building"].geometry.iloc[5].representative_point()
        with engine.connect() as conn:
            category = conn.execute(
                text("SELECT code FROM incident_category ORDER BY code")
            ).scalar()
        people = {
            "admin": issue_token(engine, "replica_admin", "admin"),
            "resident": issue_token(engine, "replica_resident", "resident"),
        }
        engine.dispose()
        yield {
            "primary": primary,
            "replica": replica,
            "folder": folder,
            "point": (b.x, b.y),
            "category": category,
            **people,
        }


@pytest.fixture(scope="module")
def servers(pair: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    logs = tmp_path_factory.mktemp("replica")
    env = {"WANGGE_DATABASE_REPLICA_URL": pair["replica"], "WANGGE_ESCALATION_INTERVAL_S": "0"}
    with wangge_servers(pair["primary"], [logs / "a.log", logs / "b.log"], **env) as (a, b):
        yield a, b


def _incident_points(url: str, pair: dict, folder: Path, z: int = Z) -> int:
    x, y = tile_of(*pair["point"], z)
    r = httpx.get(
        f"{url}/tiles/incidents/{z}/{x}/{y}.pbf",
        headers={"Authorization": f"Bearer {pair['admin']}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return len(read_tile(r.content, folder, z, x, y).get("incidents", []))


def _grid_tile(url: str, pair: dict, z: int) -> None:
    x, y = tile_of(*pair["point"], z)
    assert httpx.get(f"{url}/tiles/grids/{z}/{x}/{y}.pbf", timeout=30).status_code == 200


def _replica(url: str) -> dict:
    r = httpx.get(f"{url}/health", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["replica"]


def _wait_for(check, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def test_tiles_come_from_the_replica_and_are_never_stale(
    pair: dict, servers: tuple[str, str], tmp_path: Path
) -> None:
    a, b = servers
    assert _wait_for(lambda: _replica(a)["lag_bytes"] == 0), "the replica did not catch up"
    before = _incident_points(a, pair, tmp_path)
    _grid_tile(a, pair, 14)
    assert _replica(a)["replica_reads"] >= 2  # both tiles built on the replica
    replica = superuser(pair["replica"])
    replica.execute("SELECT pg_wal_replay_pause()")
    try:
        lon, lat = pair["point"]
        r = httpx.post(
            f"{a}/api/incidents",
            json={
                "category_code": pair["category"],
                "description": "备库：路灯不亮",
                "lon": lon,
                "lat": lat,
            },
            headers={"Authorization": f"Bearer {pair['resident']}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        assert _replica(a)["lag_bytes"] > 0
        # the new case is in the tiles of both servers at once: the replica lags, so the
        # database builds them
        for server in (a, b):
            on_database = _replica(server)["database_reads"]
            assert _wait_for(lambda s=server: _incident_points(s, pair, tmp_path) == before + 1)
            assert _replica(server)["database_reads"] > on_database
        # the grids did not change: their tiles still come from the replica
        on_replica = _replica(a)["replica_reads"]
        _grid_tile(a, pair, 15)
        assert _replica(a)["replica_reads"] == on_replica + 1
    finally:
        replica.execute("SELECT pg_wal_replay_resume()")
        replica.close()
    assert _wait_for(lambda: _replica(b)["lag_bytes"] == 0)
    on_replica = _replica(b)["replica_reads"]
    assert _incident_points(b, pair, tmp_path, z=Z + 1) == before + 1
    assert _replica(b)["replica_reads"] == on_replica + 1


def test_a_replica_that_stops_sends_the_tiles_to_the_database(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with primary_and_replica() as (primary, replica, folder):
        engine = create_engine(primary)
        load_layers(
            engine, generate_district(800, 37, progress=False), replace=True, progress=False
        )
        with engine.connect() as conn:
            lon, lat = conn.execute(
                text(
                    "SELECT ST_X(geom), ST_Y(geom) FROM incident WHERE NOT state = ANY(:done) "
                    "ORDER BY id LIMIT 1"
                ),
                {"done": list(FINISHED_STATES)},
            ).one()
        pair = {"point": (lon, lat), "admin": issue_token(engine, "replica_admin", "admin")}
        engine.dispose()
        log = tmp_path_factory.mktemp("replica_down") / "server.log"
        with wangge_serve(
            primary, log, WANGGE_DATABASE_REPLICA_URL=replica, WANGGE_ESCALATION_INTERVAL_S="0"
        ) as url:
            assert _wait_for(lambda: _replica(url)["lag_bytes"] == 0)
            assert _incident_points(url, pair, tmp_path) >= 1
            assert _replica(url)["replica_reads"] == 1
            cluster.stop_cluster(folder)
            assert _replica(url)["lag_bytes"] is None  # /health answers all the same
            # a tile not built yet: the replica fails, the database builds it
            assert _incident_points(url, pair, tmp_path, z=Z + 1) >= 1
            assert _replica(url)["failures"] == 1
        assert "the replica failed" in log.read_text(encoding="utf-8")
