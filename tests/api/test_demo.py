"""`wangge demo` end to end: load the sample district, write or serve the map, draw it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services import accounts
from gis.settings import get_settings
from maps.assets import external_references
from tests.browser import grid_codes_drawn, open_page

WANGGE = [sys.executable, "-m", "api.cli"]
REPO = Path(__file__).resolve().parents[2]


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=database_url, **extra)
    env.pop("WANGGE_DATABASE_URL", None)
    return env


def _grid_codes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT code FROM grid WHERE valid_to IS NULL ORDER BY code")
            ).scalars()
        )


@pytest.mark.browser
def test_demo_no_serve_loads_and_writes_the_map(
    database_url: str, engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    out = tmp_path / "demo.html"
    run = subprocess.run(
        [
            *WANGGE,
            "demo",
            "--households",
            "2000",
            "--seed",
            "3",
            "--no-serve",
            "--map-out",
            str(out),
        ],
        env=_env(database_url),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # a user name and a fresh password per role, in full, that sign in
    printed = re.findall(r"^\s+(\w+)\s+user: (\S+)\s+password: (\S+)$", run.stdout, re.M)
    assert {role for role, _, _ in printed} == {
        "admin",
        "street_staff",
        "community_staff",
        "grid_worker",
        "resident",
    }
    assert "token=" not in run.stdout and "api_key=" not in run.stdout  # no token in a link
    settings = get_settings()
    for _, username, password in printed:
        signed = accounts.sign_in(engine, settings, username, password, "127.0.0.1")
        assert isinstance(signed, accounts.SignedIn), (username, signed)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM household")).scalar_one() == 2000
        in_no_grid = conn.execute(
            text("SELECT count(*) FROM building WHERE grid_id IS NULL")
        ).scalar_one()
    assert in_no_grid == 0
    html = out.read_text(encoding="utf-8")
    codes = _grid_codes(engine)
    assert codes and all(code in html for code in codes)
    assert external_references(html) == []
    # the file works opened straight from disk, with every grid drawn
    with open_page(out.as_uri(), screenshot=artifacts / "demo_map_file.png") as (page, _):
        page.wait_for_selector("path.wangge-grid")
        assert page.locator("path.wangge-grid").count() == len(codes)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.browser
def test_demo_serves_a_map_that_draws_every_grid_in_chromium(
    database_url: str, engine: Engine, artifacts: Path
) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [*WANGGE, "demo", "--households", "3000", "--seed", "5"],
        env=_env(database_url, WANGGE_PORT=str(port)),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                pytest.fail(f"wangge demo exited: {server.stderr.read()[-3000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo server did not come up"
            time.sleep(0.5)
        grids = _grid_codes(engine)
        with open_page(f"{base}/map", screenshot=artifacts / "demo_map.png") as (page, log):
            drawn = grid_codes_drawn(page)
            layers = page.locator(".leaflet-control-layers").inner_text()
        assert drawn == len(grids) > 0
        assert "网格" in layers and "避难场所" in layers and "底图" in layers
        # the offline basemap, drawn from the district's own data: no tile left the machine
        assert log.tiles == [] and log.external == []
        assert any("/tiles/basemap/" in r for r in log.requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
