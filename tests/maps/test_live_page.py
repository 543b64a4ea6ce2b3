"""The wall-screen page in a real headless Chromium: every layer drawn offline, and incident
changes made in the database reach the open page without a reload; signed in at /login (the
stream, the open list and the tiles are read with the session cookie; the page holds no
credential), staff only, and a community's staff see their own grids' incidents."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, text

import shapely
from shapely import box
from shapely.geometry import mapping

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis.store import awareness_store as store
from gis.store import grid_store
from maps.assets import external_references
from tests.browser import artifact_path, open_page
from tests.conftest import LiveServer
from tests.signin import HTML, bearer, give_password, sign_in_page, signed_in

NEW_ID = 990001


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    admin = issue_token(engine, "live_admin", "admin")
    community = layers["admin_area"].query("level == 'community'")["code"].iloc[0]
    staff = issue_token(engine, "live_staff", "community_staff", community)
    resident = issue_token(engine, "live_resident", "resident")
    for name in ("live_admin", "live_staff", "live_resident"):
        give_password(engine, name)
    w, s, e, n = grid_store.current_grids(engine).total_bounds
    cx = (w + e) / 2
    typhoon = box(cx - 0.003, s - 0.001, cx + 0.003, n + 0.001)
    r = httpx.post(
        f"{live_server.url}/api/hazards",
        params={"kind": "typhoon", "severity": 3, "name": "台风海葵"},
        headers=bearer(admin),
        json=mapping(typhoon),
        timeout=60,
    )
    assert r.status_code == 201, r.text
    hazard_id = r.json()["id"]
    # an open case in each of two communities, reported as a resident would: what the
    # sample leaves open depends on the clock's weekday and hour (seen: all 3 open cases
    # of a Sunday noon in one community)
    for code in layers["admin_area"].query("level == 'community'")["code"].iloc[:2]:
        grids = layers["grid"]
        spot = grids[grids["community_code"] == code].geometry.iloc[0]
        inside = spot.representative_point()
        r = httpx.post(
            f"{live_server.url}/api/incidents",
            json={
                "category_code": "10101",
                "description": "井盖缺失，有人险些踩空",
                "lon": inside.x,
                "lat": inside.y,
            },
            headers=bearer(admin),
            timeout=60,
        )
        assert r.status_code == 201, r.text
    lon, lat = layers["road_node"].geometry.iloc[5].coords[0]
    r = httpx.post(
        f"{live_server.url}/api/workers/2/position",
        json={"lon": lon, "lat": lat},
        headers=bearer(admin),
    )
    assert r.status_code == 201, r.text
    return {
        "layers": layers,
        "typhoon": typhoon,
        "hazard_id": hazard_id,
        "admin": admin,
        "staff": staff,
        "community": community,
        "resident": resident,
    }


def _open_count(engine: Engine) -> int:
    return len(store.open_incidents(engine))


def test_the_live_page_is_offline_and_in_chinese(district: dict, live_server: LiveServer) -> None:
    with signed_in(live_server.url, "live_admin") as browser:
        r = browser.get("/live", headers=HTML)
    assert r.status_code == 200
    assert external_references(r.text) == []
    for words in ("态势一张图", "未结事件", "灾害影响区 1 处", "EventSource"):
        assert words in r.text
    # the script reads the stream, the open list and the tiles with the session's cookie:
    # the page holds no credential (nor does it when a program opened it with a token)
    assert '"/api/live/stream"' in r.text and '"/api/live/incidents"' in r.text
    assert "api_key" not in r.text and "token=" not in r.text
    by_header = httpx.get(f"{live_server.url}/live", headers=bearer(district["admin"]), timeout=120)
    assert by_header.status_code == 200 and district["admin"] not in by_header.text


def test_the_live_page_is_for_staff_and_shows_their_own_grids(
    district: dict, engine: Engine, live_server: LiveServer
) -> None:
    url = f"{live_server.url}/live"
    assert httpx.get(url, timeout=60).status_code == 401
    with signed_in(live_server.url, "live_resident") as resident:
        refused = resident.get("/live", headers=HTML)
    assert refused.status_code == 403 and "态势一张图" not in refused.text
    with signed_in(live_server.url, "live_staff") as staff:
        r = staff.get("/live", headers=HTML)
    assert r.status_code == 200
    open_now = store.open_incidents(engine)
    theirs = int((open_now["community_code"] == district["community"]).sum())
    assert 0 < theirs < len(open_now)
    assert f"未结事件 {theirs} 件" in r.text


def test_incident_changes_reach_the_open_page_without_reload(
    district: dict, engine: Engine, live_server: LiveServer
) -> None:
    shelters = store.shelters_live(engine)
    unusable = int(shelters.intersects(district["typhoon"]).sum())
    with open_page(screenshot="live_map.png") as (page, log):
        sign_in_page(page, live_server.url, "live_admin", then="/live")
        page.wait_for_function("() => window.wanggeLive && window.wanggeLive.connected === true")
        page.evaluate("window.__loadedOnce = 'yes'")  # a reload would wipe this
        markers = page.evaluate("Object.keys(window.wanggeLive.markers).length")
        assert markers == _open_count(engine) > 0
        assert page.locator("path.wangge-incident").count() == markers
        assert page.locator("path.wangge-hazard").count() == 1
        assert page.locator("path.wangge-shelter").count() == len(shelters)
        assert page.locator("path.wangge-shelter-unusable").count() == unusable
        assert page.locator("path.wangge-worker").count() == 1
        # zoomed out (the whole district at city scale): heat per cell, counts per grid
        page.evaluate("wanggeMap.setZoom(14)")
        page.wait_for_function("() => (window.wanggeTiles['事件热力（H3）'].loaded)")
        assert page.locator("path.wangge-heat").count() > 0
        # the typhoon's affected grids; zoomed out, whom to check on is a count per grid
        impact = httpx.get(
            f"{live_server.url}/api/hazards/{district['hazard_id']}/impact",
            headers=bearer(district["admin"]),
            timeout=120,
        ).json()
        assert page.locator("path.wangge-affected-grid").count() == len(impact["grids"])
        shown = "es => es.filter(e => e.style.display !== 'none').map(e => e.innerText)"
        counts = page.eval_on_selector_all("div.wangge-checkon-count", shown)
        assert sum(int(t.split()[1]) for t in counts) == impact["check_on"] > 0
        assert page.locator("path.wangge-checkon").count() == 0  # no routes zoomed out
        page.screenshot(path=str(artifact_path("live_map_hazard_zoomed_out.png")))
        layers = page.inner_text(".leaflet-control-layers")
        for name in (
            "受影响网格",
            "重点人员走访",
            "未结事件（实时）",
            "事件热力",
            "热点",
            "灾害影响区",
            "避难场所",
            "网格员位置",
        ):
            assert name in layers
        reported = int(page.inner_text('#wangge-live-panel [data-state="reported"]'))

        # at street zoom each resident to check on and their route come as tiles
        rows = httpx.get(
            f"{live_server.url}/api/hazards/{district['hazard_id']}/check-on",
            headers=bearer(district["admin"]),
            timeout=120,
        ).json()["features"]
        lon, lat = rows[0]["properties"]["lon"], rows[0]["properties"]["lat"]
        page.evaluate(f"wanggeMap.setView([{lat}, {lon}], 17)")
        page.wait_for_function(
            "() => (window.wanggeTiles['重点人员走访（安全避难场所与路线）（街区级）'].loaded)"
        )
        page.wait_for_selector("path.wangge-checkon")
        assert page.locator("path.wangge-checkon-route").count() > 0
        assert page.eval_on_selector_all("div.wangge-checkon-count", shown) == []
        page.screenshot(path=str(artifact_path("live_map_hazard_street.png")))
        page.evaluate(f"wanggeMap.setView([{lat}, {lon}], 14)")

        # a new incident, written straight into the database (any path would do)
        lon, lat = shapely.get_coordinates(district["typhoon"].centroid)[0]
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO incident (id, category_code, source, description, state, "
                    "reported_at, geom) VALUES (:id, '20401', 'resident_app', '道路积水', "
                    "'reported', now(), ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
                ),
                {"id": NEW_ID, "x": lon, "y": lat},
            )
        marker = f'path.wangge-incident[data-incident-id="{NEW_ID}"]'
        page.wait_for_selector(marker)
        assert page.get_attribute(marker, "data-state") == "reported"
        page.wait_for_function(
            f"() => document.querySelector('#wangge-live-panel [data-state=\"reported\"]')"
            f".textContent === '{reported + 1}'"
        )

        # dispatched: the same marker changes colour and state
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE incident SET state = 'dispatched' WHERE id = :id"), {"id": NEW_ID}
            )
        page.wait_for_selector(f'{marker}[data-state="dispatched"]')
        assert page.locator(marker).count() == 1

        # closed: it leaves the map of open incidents
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE incident SET state = 'closed' WHERE id = :id"), {"id": NEW_ID}
            )
        page.wait_for_selector(marker, state="detached")
        assert page.evaluate("window.__loadedOnce") == "yes"
        assert page.evaluate("window.wanggeLive.received") >= 3
        assert page.locator("path.wangge-incident").count() == _open_count(engine)
        assert log.external == []
        assert log.local_failures() == []
        assert log.page_errors == []
        # nothing the page asked for carried a credential in its URL
        assert not [u for u in log.requests if "api_key" in u or "token=" in u]


def test_a_bulk_load_makes_the_page_fetch_the_open_list_again(
    district: dict, engine: Engine, live_server: LiveServer
) -> None:
    with open_page() as (page, log):
        sign_in_page(page, live_server.url, "live_admin", then="/live")
        page.wait_for_function("() => window.wanggeLive && window.wanggeLive.connected === true")
        before = page.evaluate("Object.keys(window.wanggeLive.markers).length")
        lon, lat = shapely.get_coordinates(district["typhoon"].centroid)[0]
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO incident (id, category_code, source, description, state, "
                    "reported_at, geom) SELECT 995000 + g, '20101', 'patrol', '垃圾', "
                    "'reported', now(), ST_SetSRID(ST_MakePoint(:x + g * 1e-6, :y), 4326) "
                    "FROM generate_series(1, 300) g"
                ),
                {"x": lon, "y": lat},
            )
        page.wait_for_function(
            f"() => Object.keys(window.wanggeLive.markers).length === {before + 300}"
        )
        assert log.page_errors == []
