"""The worker's tablet page in real Chromium at 1280×800: the worker signs in at /login with
the password ``wangge users passwd`` set, then sees my grid and my tasks in Chinese, with no
horizontal scrolling, no request to another host and no credential in any URL, and its
buttons work the real API over the session cookie."""

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
    YOU_CLASS,
    worker_page,
)
from tests.browser import open_page, require_chromium
from tests.conftest import LiveServer, run_wangge
from tests.signin import HTML, PASSWORD, bearer, sign_in_page, signed_in


@pytest.fixture(scope="module")
def tablet(engine: Engine, live_server: LiveServer, database_url: str) -> dict:
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
    done = run_wangge(database_url, "users", "passwd", a.username, input_text=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    admin = {"Authorization": f"Bearer {issue_token(engine, 'admin_page_test', 'admin')}"}

    def dispatched(description: str) -> int:
        r = httpx.post(
            f"{url}/api/incidents",
            json={
                "category_code": "10101",
                "description": description,
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
        return task

    return {
        "url": url,
        "token": worker,
        "username": a.username,
        "grids": grids,
        # one task to look at, one the buttons' test takes and resolves (in any order)
        "task": dispatched("单元门口井盖缺失（页面测试）"),
        "worked": dispatched("楼道井盖松动（页面测试）"),
        "point": (float(point[0]), float(point[1])),
    }


def test_page_holds_no_data_and_loads_nothing_from_other_hosts() -> None:
    html = render_offline(worker_page((120.1, 30.2, 120.2, 30.3), csrf_token="c" * 64))
    assert "网格员工作台" in html and "X-CSRF-Token" in html and "c" * 64 in html
    assert "sessionStorage" not in html and "Bearer" not in html and "token=" not in html
    assert "cdn.jsdelivr" not in html and "code.jquery" not in html


def test_tablet_shows_my_grid_and_tasks_in_chinese_at_1280x800(tablet: dict) -> None:
    with open_page(screenshot="worker_tablet.png", viewport=(1280, 800)) as (page, log):
        page.goto(f"{tablet['url']}/worker")  # not signed in: to the sign-in page and back
        assert page.url.startswith(f"{tablet['url']}/login?next=")
        sign_in_page(page, tablet["url"], tablet["username"], then="/worker")
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
        # no credential anywhere the page can reach: the session cookie is HttpOnly
        assert page.evaluate("document.cookie").find("wangge_session") < 0
        stored = page.evaluate(
            "JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])"
        )
        assert "token" not in stored.lower() and tablet["token"] not in stored
        assert not [u for u in log.requests if "token=" in u or "api_key" in u]
    assert not log.page_errors, log.page_errors
    assert not log.local_failures(), log.local_failures()


def test_tablet_buttons_take_the_task_check_in_route_and_feed_back(tablet: dict) -> None:
    lon, lat = tablet["point"]
    with open_page(screenshot="worker_tablet_checkin.png") as (page, log):
        page.context.grant_permissions(["geolocation"])
        page.context.set_geolocation({"longitude": lon, "latitude": lat})
        sign_in_page(page, tablet["url"], tablet["username"], then="/worker")
        card = page.locator(f".{TASK_CLASS}[data-task='{tablet['worked']}']")
        card.wait_for()
        card.get_by_role("button", name="接单").click()
        # after 接单 the list reloads: the task is being worked and can be fed back (反馈)
        page.locator(
            f".{TASK_CLASS}[data-task='{tablet['worked']}'] button[data-do='resolve']"
        ).wait_for()
        card = page.locator(f".{TASK_CLASS}[data-task='{tablet['worked']}']")
        assert "处置" in card.inner_text()
        card.get_by_role("button", name="签到").click()
        page.wait_for_function(
            """(id) => {
                const r = document.querySelector(`.wangge-task[data-task='${id}'] .result`);
                return r && r.dataset.accepted !== undefined;
            }""",
            arg=tablet["worked"],
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
        f"{tablet['url']}/api/incidents/{tablet['worked']}", headers=bearer(tablet["token"])
    ).json()
    assert case["state"] == "resolved"
    assert [(h["action"], h["note"]) for h in case["history"]][-2:] == [
        ("start", None),
        ("resolve", "已更换井盖，现场已清理"),
    ]


def test_the_old_token_link_is_refused_and_only_workers_open_the_page(
    tablet: dict, engine: Engine
) -> None:
    url = tablet["url"]
    old = httpx.get(f"{url}/worker", params={"token": tablet["token"]}, headers=HTML)
    assert old.status_code == 400 and "/login" in old.text and PANEL_ID not in old.text
    assert tablet["token"] not in old.text
    away = httpx.get(f"{url}/worker", headers=HTML)
    assert away.status_code == 303 and away.headers["location"] == "/login?next=%2Fworker"
    with signed_in(url, tablet["username"]) as worker:
        assert worker.get("/worker", headers=HTML).status_code == 200
    resident = issue_token(engine, "tablet_resident", "resident")
    refused = httpx.get(f"{url}/worker", headers={**HTML, **bearer(resident)})
    assert refused.status_code == 403 and PANEL_ID not in refused.text
