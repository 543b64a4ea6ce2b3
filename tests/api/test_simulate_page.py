"""The re-division simulator at the staff desk: a street's staff simulate a layout in Chromium."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import Engine, text

from etl.load import load_layers
from etl.sample import generate_district
from tests.browser import accessibility_violations, open_page
from tests.conftest import LiveServer
from tests.signin import HTML, csrf_of, give_password, sign_in_page, signed_in


@pytest.fixture(scope="module")
def office(engine: Engine, live_server: LiveServer) -> dict:
    load_layers(engine, generate_district(3000, 43, progress=False), replace=True, progress=False)
    with engine.connect() as conn:
        street, staff = (
            conn.execute(
                text(f"SELECT username FROM app_user WHERE role = '{role}' ORDER BY id LIMIT 1")
            ).scalar_one()
            for role in ("street_staff", "community_staff")
        )
        community = conn.execute(
            text(
                "SELECT c.code FROM admin_area c JOIN grid g ON g.community_id = c.id "
                "WHERE g.valid_to IS NULL GROUP BY c.code HAVING count(*) >= 2 "
                "ORDER BY c.code LIMIT 1"
            )
        ).scalar_one()
        grids = (
            conn.execute(
                text(
                    "SELECT g.code FROM grid g JOIN admin_area c ON c.id = g.community_id "
                    "WHERE g.valid_to IS NULL AND c.code = :c ORDER BY g.code"
                ),
                {"c": community},
            )
            .scalars()
            .all()
        )
    give_password(engine, street)
    give_password(engine, staff)
    return {
        "url": live_server.url,
        "street": street,
        "staff": staff,
        "community": community,
        "grids": grids,
    }


def test_street_staff_simulate_the_designers_proposal_beside_today(office: dict) -> None:
    url = f"{office['url']}/grids/simulate?community={office['community']}&months=6"
    with open_page(None, screenshot="grids_simulate.png", viewport=(1400, 1000)) as (page, log):
        sign_in_page(page, office["url"], office["street"], then="/grids/simulate")
        page.goto(url, wait_until="load")
        page.wait_for_selector("#design-map[data-ready='1']", timeout=120_000)
        today = page.locator("#sim-grids tr.layout-today").count()
        proposed = page.locator("#sim-grids tr.layout-candidate").count()
        assert today == len(office["grids"]) and proposed >= 1
        assert page.locator("#sim-workers tbody tr").count() >= 1
        assert "伪 R²" in page.locator("#model").inner_text()
        # both layouts are drawn on the map
        assert page.locator("#design-map path.leaflet-interactive").count() >= today + proposed
        assert accessibility_violations(page) == []
    assert log.page_errors == [] and log.console_errors == [] and log.local_failures() == []


def test_an_uploaded_layout_is_simulated_and_a_bad_file_is_told_apart(
    office: dict, live_server: LiveServer
) -> None:
    layout = httpx.get(f"{office['url']}/api/grids", params={"community": office["community"]})
    with signed_in(office["url"], office["street"]) as client:
        csrf = csrf_of(client)
        done = client.post(
            "/grids/simulate",
            data={"csrf_token": csrf, "months": "6"},
            files={"layout": ("today.geojson", layout.content, "application/geo+json")},
            headers=HTML,
        )
        assert done.status_code == 200, done.text[:500]
        assert done.text.count('class="layout-candidate"') == len(office["grids"])
        bad = client.post(
            "/grids/simulate",
            data={"csrf_token": csrf, "months": "6"},
            files={"layout": ("x.geojson", b"{not json", "application/geo+json")},
            headers=HTML,
        )
        assert bad.status_code == 422 and "GeoJSON" in bad.text
        empty = json.dumps({"type": "FeatureCollection", "features": []}).encode()
        bad = client.post(
            "/grids/simulate",
            data={"csrf_token": csrf, "months": "6"},
            files={"layout": ("x.geojson", empty, "application/geo+json")},
            headers=HTML,
        )
        assert bad.status_code == 422


def test_community_staff_may_not_simulate(office: dict) -> None:
    with signed_in(office["url"], office["staff"]) as client:
        page = client.get(f"/grids/simulate?community={office['community']}", headers=HTML)
        assert (page.status_code == 403 and "街道" in page.text) or page.status_code == 403
