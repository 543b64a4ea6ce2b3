"""The planners' before/after map draws every layer in Chromium with no internet, opened
by a planner signed in at /login (no token in any URL)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from maps.assets import assets_missing
from tests.browser import open_page
from tests.conftest import LiveServer, empty_database
from tests.signin import give_password, sign_in_page


@pytest.fixture(scope="module")
def plan(engine: Engine, live_server: LiveServer) -> Iterator[dict]:
    layers = generate_district(3000, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    street = layers["admin_area"].query("level == 'street'")["code"].iloc[0]
    key = issue_token(engine, "map_planner", "street_staff", street)
    give_password(engine, "map_planner")
    r = httpx.post(
        f"{live_server.url}/api/planning/solve",
        json={"kind": "elder_care", "model": "p_median", "p": 2, "save_as": "地图方案"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    cells = httpx.get(
        f"{live_server.url}/api/planning/access/cells",
        params={"kind": "elder_care"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    ).json()["features"]
    yield {"solve": r.json(), "cells": len(cells), "key": key}
    empty_database(engine)  # leave the session's database as other test files expect it


@pytest.mark.browser
def test_before_and_after_a_plan_draw_offline(plan: dict, live_server: LiveServer) -> None:
    if assets_missing():
        pytest.fail("local map assets missing: run `npm ci` in maps/")
    then = "/planning/compare/map?" + urlencode({"kind": "elder_care", "scenario": "地图方案"})
    with open_page(screenshot="coverage_compare_map.png") as (page, log):
        sign_in_page(page, live_server.url, "map_planner", then=then)
        page.wait_for_function("() => window.L !== undefined")
        n = plan["cells"]
        page.wait_for_function(
            f"() => document.querySelectorAll('path.wangge-access-after').length === {n}"
        )
        assert page.locator("path.wangge-access").count() == 0  # today: a hidden layer
        assert page.locator("path.wangge-recommended").count() == len(plan["solve"]["sites"])
        assert page.locator("path.wangge-facility").count() == 1  # today's elder-care centre
        table = page.locator("table.wangge-compare").inner_text()
        assert "现状" in table and "地图方案" in table
        assert "步行时间" in page.locator("div.wangge-legend").inner_text()
        assert "养老服务设施" in page.locator(".wangge-title").inner_text()
        names = [
            t.strip()
            for t in page.locator(".leaflet-control-layers-list label span").all_inner_texts()
        ]
        assert "现状：步行时间" in names and "地图方案：步行时间" in names
        # switch to today: its cells draw, coloured by walking time
        page.locator(".leaflet-control-layers-list label", has_text="现状：步行时间").click()
        page.wait_for_function(
            f"() => document.querySelectorAll('path.wangge-access').length === {n}"
        )
        fills = page.eval_on_selector_all(
            "path.wangge-access", "ps => new Set(ps.map(p => p.getAttribute('fill'))).size"
        )
        assert fills >= 2
        assert log.local_failures() == [] and log.page_errors == []
