"""The worker's tablet page in real Chromium at 1280×800: my grid and my tasks in Chinese,
no horizontal scrolling, no request to another host, and its buttons work the real API."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from maps.assets import render_offline
from maps.worker import (
    BUILDING_CLASS,
    GRID_CLASS,
    PANEL_ID,
    TASK_CLASS,
    TOKEN_KEY,
    YOU_CLASS,
    worker_page,
)
from tests.browser import open_page, require_chromium
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def tablet(engine: Engine, live_server: LiveServer) -> dict:
    """The sample district, the worker of its first grid and a fresh task of theirs."""
    require_chromium()
    load_layers(engine, generate_district(3000, 23, progress=False), replace=True, progress=False)
    with engine.connect() as conn:
        a = conn.execute(
            text(
                "SELECT g.id, g.community_id, w.id AS worker, u.username FROM grid g "
                "JOIN grid_assignment ga ON ga.grid_id = g.id AND ga.role = 'primary' "
                "JOIN grid_worker w ON w.id = ga.worker_id JOIN app_user u ON u.id = w.user_id "
                "WHERE g.valid_to IS NULL ORDER BY g.code LIMIT 1"
            )
        ).one()
        grids = conn.execute(
            text(
                "SELECT count(*) FROM grid_assignment ga JOIN grid g ON g.id = ga.grid_id "
                "WHERE ga.worker_id = :w AND g.valid_to IS NULL"
            ),
            {"w": a.worker},
        ).scalar_one()
        point = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(b.geom) AS p "
                "FROM building b WHERE b.grid_id = :g ORDER BY b.id LIMIT 1) s"
            ),
            {"g": a.id},
        ).one()
    url = live_server.url
    worker = issue_token(engine, a.username, "grid_worker")
    admin = {"Authorization": f"Bearer {issue_token(engine, 'admin_page_test', 'admin')}"}
    r = httpx.post(
        f"{url}/api/incidents",
        json={
            "category_code": "10101",
            "description": "单元门口井盖缺失（页面测试）",
            "lon": float(point[0]),
            "lat": float(point[1]),
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    task = r.json()["id"]
    for body in ({"action": "register"}, {"action": "dispatch", "assignee_id": a.worker}):
        r = httpx.post(f"{url}/api/incidents/{task}/actions", json=body, headers=admin)
        assert r.status_code == 200, r.text
    return {
        "url": url,
        "token": worker,
        "grids": grids,
        "task": task,
        "point": (float(point[0]), float(point[1])),
    }


def test_page_holds_no_data_and_loads_nothing_from_other_hosts() -> None:
    html = render_offline(worker_page((120.1, 30.2, 120.2, 30.3)))
    assert "网格员工作台" in html and "sessionStorage" in html
    assert "cdn.jsdelivr" not in html and "code.jquery" not in html


def test_tablet_shows_my_grid_and_tasks_in_chinese_at_1280x800(tablet: dict) -> None:
    url = f"{tablet['url']}/worker?token={tablet['token']}"
    with open_page(url, screenshot="worker_tablet.png", viewport=(1280, 800)) as (page, log):
        page.wait_for_selector(f".{TASK_CLASS}[data-task='{tablet['task']}']")
        page.wait_for_function(
            f"() => document.querySelectorAll('path.{GRID_CLASS}').length >= {tablet['grids']}"
        )
        panel = page.inner_text(f"#{PANEL_ID}")
        assert "网格员工作台" in panel and "我的网格" in panel
        assert "待办工单" in panel and "按期限排序" in panel
        assert "井盖破损缺失" in panel and "单元门口井盖缺失（页面测试）" in panel
        card = page.locator(f".{TASK_CLASS}[data-task='{tablet['task']}']")
        for label in ("接单", "签到", "路线"):
            assert card.get_by_role("button", name=label).is_visible()
        assert "步行约" in card.inner_text()
        # the grid outline, its buildings and the task markers are drawn
        page.wait_for_selector(f"path.{BUILDING_CLASS}")
        assert page.locator(f"path.{GRID_CLASS}").count() == tablet["grids"]
        assert (
            page.locator(f"path.{TASK_CLASS}").count()
            == page.locator(f".{TASK_CLASS}[data-task]").count()
        )
        # fits the tablet: nothing wider than the window, the task column included
        widths = page.evaluate(
            """(id) => {
                const doc = document.documentElement;
                const panel = document.getElementById(id);
                return [doc.scrollWidth, doc.clientWidth, panel.scrollWidth, panel.clientWidth,
                        panel.getBoundingClientRect().right];
            }""",
            PANEL_ID,
        )
        assert widths[0] <= widths[1] == 1280
        assert widths[2] <= widths[3]
        assert widths[4] <= 1280
        # the token left the address bar and lives in this tab's sessionStorage only
        assert "token=" not in page.url
        assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") == tablet["token"]
    assert not log.page_errors, log.page_errors
    assert not log.local_failures(), log.local_failures()


def test_tablet_buttons_take_the_task_check_in_route_and_feed_back(tablet: dict) -> None:
    url = f"{tablet['url']}/worker?token={tablet['token']}"
    lon, lat = tablet["point"]
    with open_page(url, screenshot="worker_tablet_checkin.png") as (page, log):
        page.context.grant_permissions(["geolocation"])
        page.context.set_geolocation({"longitude": lon, "latitude": lat})
        page.reload()  # the token is now read from sessionStorage
        card = page.locator(f".{TASK_CLASS}[data-task='{tablet['task']}']")
        card.wait_for()
        card.get_by_role("button", name="接单").click()
        # after 接单 the list reloads: the task is being worked and can be fed back (反馈)
        page.locator(
            f".{TASK_CLASS}[data-task='{tablet['task']}'] button[data-do='resolve']"
        ).wait_for()
        card = page.locator(f".{TASK_CLASS}[data-task='{tablet['task']}']")
        assert "处置" in card.inner_text()
        card.get_by_role("button", name="签到").click()
        page.wait_for_function(
            """(id) => {
                const r = document.querySelector(`.wangge-task[data-task='${id}'] .result`);
                return r && r.dataset.accepted !== undefined;
            }""",
            arg=tablet["task"],
        )
        result = card.locator(".result").inner_text()
        assert "签到成功" in result
        card.get_by_role("button", name="路线").click()
        page.wait_for_selector("path.wangge-route")
        assert page.locator(f"path.{YOU_CLASS}").count() == 1
        assert "步行约" in card.locator(".result").inner_text()
        # 反馈 with a note: the case is resolved and leaves the list of open tasks
        card.locator("textarea").fill("已更换井盖，现场已清理")
        card.get_by_role("button", name="反馈").click()
        card.wait_for(state="detached")
        assert "已反馈" in page.inner_text("#wangge-status")
    assert not log.page_errors, log.page_errors
    case = httpx.get(
        f"{tablet['url']}/api/incidents/{tablet['task']}",
        headers={"Authorization": f"Bearer {tablet['token']}"},
    ).json()
    assert case["state"] == "resolved"
    assert [(h["action"], h["note"]) for h in case["history"]][-2:] == [
        ("start", None),
        ("resolve", "已更换井盖，现场已清理"),
    ]


def test_without_a_token_the_page_says_how_to_open_it(live_server: LiveServer) -> None:
    with open_page(f"{live_server.url}/worker") as (page, _):
        page.wait_for_function(
            "() => (document.getElementById('wangge-status').textContent.includes('令牌'))"
        )
        assert page.locator(f".{TASK_CLASS}").count() == 0
