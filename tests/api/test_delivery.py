"""How answers travel (api/delivery.py): gzip for JSON, scripts and stylesheets; never for
pages (BREACH) nor event streams (each event must arrive at once); static files with
cache headers that make a browser ask again before using its copy of the app's files."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from api.services.accounts import issue_token
from maps.assets import PAGE_ASSETS
from tests.conftest import LiveServer
from tests.signin import HTML

GZIP = {"Accept-Encoding": "gzip"}


def test_json_and_scripts_travel_compressed_pages_do_not(live_server: LiveServer) -> None:
    url = live_server.url
    spec = httpx.get(f"{url}/openapi.json", headers=GZIP)
    assert spec.status_code == 200 and spec.headers["content-encoding"] == "gzip"
    assert "paths" in spec.json()  # httpx took the gzip off
    assert int(spec.headers["content-length"]) < len(spec.content) / 3
    script = httpx.get(f"{url}/static/app/desk.js", headers=GZIP)
    assert script.status_code == 200 and script.headers["content-encoding"] == "gzip"
    page = httpx.get(f"{url}/login", headers={**HTML, **GZIP})
    assert page.status_code == 200 and len(page.content) > 1024
    assert "content-encoding" not in page.headers


def test_the_apps_files_are_asked_again_before_use_the_vendored_kept_a_day(
    live_server: LiveServer,
) -> None:
    url = live_server.url
    first = httpx.get(f"{url}/static/app/worker.css")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-cache"
    again = httpx.get(
        f"{url}/static/app/worker.css", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"
    if not PAGE_ASSETS["leaflet_js"].file.exists():
        pytest.skip("the vendored libraries are not installed (npm ci)")
    vendored = httpx.get(url + PAGE_ASSETS["leaflet_js"].url(), headers=GZIP)
    assert vendored.status_code == 200 and vendored.headers["content-encoding"] == "gzip"
    assert vendored.headers["cache-control"] == "public, max-age=86400"


def test_an_event_stream_is_not_held_back_by_compression(
    live_server: LiveServer, engine: Engine
) -> None:
    admin = {"Authorization": f"Bearer {issue_token(engine, 'delivery_admin', 'admin')}"}
    with httpx.stream(
        "GET", f"{live_server.url}/api/live/stream", headers={**admin, **GZIP}, timeout=30
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in stream.headers
        # the first event arrives while the stream stays open (gzip would buffer it)
        for line in stream.iter_lines():
            if line == "event: ready":
                break
