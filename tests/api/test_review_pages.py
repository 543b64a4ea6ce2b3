"""Reviews and plans in the browser: the KPI page's filter form and its two SVG charts, and the
planning comparison of every scenario asked, side by side; signed in through the form, in
Debian Chromium with no request outside 127.0.0.1 and no serious accessibility violation."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from api.services import accounts
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.settings import get_settings
from tests.browser import accessibility_violations, artifact_path, open_page
from tests.conftest import LiveServer, empty_database

STAFF, PASSWORD = "review_street_staff", "street staff reviews 2026"
PLANS = ("养老两处", "养老三处")


@pytest.fixture(scope="module")
def town(engine: Engine, database_url: str) -> Any:
    """The sample district, a street staff member with a password and a token, two plans."""
    layers = generate_district(3000, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    street = layers["admin_area"].query("level == 'street'")["code"].iloc[0]
    settings = get_settings().model_copy(update={"escalation_interval_s": 0})
    accounts.add_user(engine, settings, STAFF, "street_staff", PASSWORD, street)
    token = accounts.token_for(engine, STAFF, days=1)
    with LiveServer(database_url, settings) as server:
        bearer = {"Authorization": f"Bearer {token}"}
        sites = []
        for name, p in zip(PLANS, (2, 3), strict=True):
            saved = httpx.post(
                f"{server.url}/api/planning/solve",
                json={"kind": "elder_care", "model": "mclp", "p": p, "save_as": name},
                headers=bearer,
                timeout=120,
            )
            assert saved.status_code == 200, saved.text
            sites.append(len(saved.json()["sites"]))
        yield {"url": server.url, "bearer": bearer, "sites": sites}
    empty_database(engine)


def _sign_in(page: Any, url: str) -> None:
    page.get_by_label("用户名").fill(STAFF)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


@pytest.mark.browser
def test_the_kpi_page_filters_by_form_and_draws_the_trend_and_satisfaction(town: dict) -> None:
    url = town["url"]
    today = clock.now().date()
    start, end = (today - timedelta(days=120)).isoformat(), today.isoformat()
    expected = httpx.get(
        f"{url}/api/kpi",
        params={"by": "period", "period": "month", "start": start, "end": end},
        headers=town["bearer"],
    ).json()
    closed = [r for r in expected["rows"] if r["close_rate"] is not None]
    rated = [r for r in expected["rows"] if r["satisfied_share"] is not None]
    assert closed and rated  # the sample district has cases closed and rated
    with open_page(f"{url}/kpi", screenshot="kpi_trend_page.png", viewport=(1280, 1000)) as (
        page,
        log,
    ):
        _sign_in(page, url)
        page.wait_for_url(re.compile(r".*/kpi(\?.*)?$"))
        form = page.get_by_role("form", name="考核筛选")
        form.get_by_label("分组").select_option("category")
        form.get_by_label("时段").select_option("month")
        form.get_by_label("自").fill(start)
        form.get_by_label("至").fill(end)
        form.get_by_role("button", name="查询").click()
        page.wait_for_url(re.compile(r".*by=category.*period=month.*"))
        assert f"{start} 至 {end}" in page.locator('[data-field="window"]').inner_text()
        # one point per month with cases due, one bar per month with ratings
        points = page.locator('#trend-chart circle[data-series="结案率"]')
        assert points.count() == len(closed)
        first = closed[0]["close_rate"]
        assert f"{first * 100:.1f}%" in points.first.locator("title").text_content()
        bars = page.locator("#satisfaction-chart rect[data-value]")
        assert bars.count() == len(rated)
        shares = sorted(float(b.get_attribute("data-value")) for b in bars.all())
        assert shares == pytest.approx(sorted(r["satisfied_share"] for r in rated), abs=1e-4)
        assert page.locator("table.kpi tbody tr").count() >= 2
        assert page.locator("table.kpi tfoot").inner_text().startswith("合计")
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("kpi_trend_full.png")), full_page=True)
    assert log.console_errors == [] and log.page_errors == [] and log.local_failures() == []


@pytest.mark.browser
def test_the_compare_page_shows_every_scenario_side_by_side(town: dict) -> None:
    url = town["url"]
    query = "kind=elder_care&" + "&".join(f"scenario={p}" for p in PLANS)
    target = f"{url}/planning/compare?{query}"
    with open_page(target, screenshot="planning_compare_side_by_side.png") as (page, log):
        _sign_in(page, url)
        page.wait_for_url(re.compile(r".*/planning/compare\?.*"))
        rows = page.locator("table.wangge-compare tbody tr")
        assert [r.get_attribute("data-plan") for r in rows.all()] == ["现状", *PLANS]
        panels = page.locator("figure.plan-panel")
        assert [p.get_attribute("data-plan") for p in panels.all()] == ["现状", *PLANS]
        for i, sites in enumerate(town["sites"], start=1):  # each plan's new sites
            assert page.locator(f"#plan-{i} circle.added").count() == sites
        assert page.locator("#plan-0 circle.added").count() == 0
        assert page.locator("#plan-0 polygon").count() > 10
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("planning_compare_full.png")), full_page=True)
        page.locator("figure.plan-panel").nth(2).get_by_role("link", name="交互地图").click()
        page.wait_for_url(re.compile(r".*/planning/compare/map\?.*"))
        page.wait_for_load_state("load")
        page.wait_for_function("() => window.L !== undefined")
    assert log.console_errors == [] and log.page_errors == [] and log.local_failures() == []
    for bad in ("", "&".join(f"scenario=s{i}" for i in range(7))):
        answer = httpx.get(f"{url}/planning/compare?kind=elder_care&{bad}", headers=town["bearer"])
        assert answer.status_code == 422, answer.text
