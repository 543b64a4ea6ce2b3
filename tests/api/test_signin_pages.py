"""The staff desk's front door, driven as its users would: sign in with the password the CLI
set, the home page's to-do counts and navigation, sign-out, lockout, CSRF, a disabled
account, the offline API docs and the security headers, in Debian Chromium with every
request outside 127.0.0.1 blocked, no console error and no serious accessibility
violation (axe-core)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services import accounts
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.settings import get_settings
from grids.incidents import SHANGHAI
from tests.browser import accessibility_violations, artifact_path, grid_codes_drawn, open_page
from tests.conftest import LiveServer, run_wangge

STAFF, PASSWORD = "desk_staff", "zhang san 2024 desk"
OTHER, OTHER_PASSWORD = "desk_other", "li si 2024 desk"
OPEN = ("dispatched", "in_progress", "returned", "escalated")
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def desk(engine: Engine, database_url: str) -> Any:
    """The sample district served by a server of its own (no 督办 timer, short delays); two
    community staff members created with the CLI; cases of their community put in every
    to-do state, relative to now."""
    layers = generate_district(3000, 23, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        community = conn.execute(
            text(
                "SELECT a.id, a.code FROM admin_area a JOIN grid g ON g.community_id = a.id "
                "JOIN incident i ON i.grid_id = g.id WHERE a.level = 'community' "
                "GROUP BY a.id ORDER BY count(*) DESC LIMIT 1"
            )
        ).one()
    for name, password in ((STAFF, PASSWORD), (OTHER, OTHER_PASSWORD)):
        done = run_wangge(
            database_url,
            *("users", "add", name, "--role", "community_staff", "--area", community.code),
            *("--name", f"社区{name[-5:]}", "--password-stdin"),
            input_text=password + "\n",
        )
        assert done.returncode == 0, done.stderr
    now = clock.now()
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    due_today = now + min(timedelta(hours=1), (tomorrow - now) / 2)
    states = [
        ("reported", None),
        ("registered", None),
        ("resolved", now - timedelta(hours=3)),
        ("escalated", now - timedelta(hours=5)),
        ("dispatched", now - timedelta(hours=2)),
        ("in_progress", due_today),
        ("dispatched", now + timedelta(days=3)),
    ]
    with engine.begin() as conn:
        ids = conn.execute(
            text(
                "SELECT i.id FROM incident i JOIN grid g ON g.id = i.grid_id "
                "WHERE g.community_id = :c AND i.merged_into IS NULL ORDER BY i.id LIMIT :n"
            ),
            {"c": community.id, "n": len(states)},
        ).scalars()
        for incident_id, (state, deadline) in zip(ids, states, strict=True):
            conn.execute(
                text("UPDATE incident SET state = :s, deadline = :d WHERE id = :i"),
                {"s": state, "d": deadline, "i": incident_id},
            )
    settings = get_settings().model_copy(
        update={
            "escalation_interval_s": 0,
            "signin_failure_delay_s": 0.05,
            "signin_max_delay_s": 0.2,
        }
    )
    with LiveServer(database_url, settings) as server:
        yield {"url": server.url, "community_id": community.id, "now": now, "settings": settings}


def _expected_counts(engine: Engine, community_id: int, now: datetime) -> dict[str, int]:
    """The to-do counts of a community's staff, straight from the tables."""
    tomorrow = datetime.combine(
        now.astimezone(SHANGHAI).date() + timedelta(days=1), time(0), tzinfo=SHANGHAI
    )
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT "
                "count(*) FILTER (WHERE state = ANY(:open) AND deadline < :now), "
                "count(*) FILTER (WHERE state = 'escalated'), "
                "count(*) FILTER (WHERE state = ANY(:open) AND deadline >= :now "
                "  AND deadline < :tomorrow), "
                "count(*) FILTER (WHERE state = 'reported'), "
                "count(*) FILTER (WHERE state = 'registered'), "
                "count(*) FILTER (WHERE state = 'resolved') "
                "FROM incident WHERE merged_into IS NULL AND grid_id IN "
                "(SELECT id FROM grid WHERE community_id = :c)"
            ),
            {"open": list(OPEN), "now": now, "tomorrow": tomorrow, "c": community_id},
        ).one()
    keys = ("overdue", "escalated", "due_today", "reported", "registered", "resolved")
    return dict(zip(keys, (int(v) for v in row), strict=True))


def _signin_form(client: httpx.Client, url: str) -> str:
    """Open the sign-in page; the CSRF token of its form."""
    page = client.get(f"{url}/login", headers=HTML)
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _sign_in(client: httpx.Client, url: str, name: str, password: str) -> httpx.Response:
    token = _signin_form(client, url)
    return client.post(
        f"{url}/login",
        data={"username": name, "password": password, "csrf_token": token, "next": "/"},
        headers=HTML,
    )


def _page_csrf(client: httpx.Client, url: str) -> str:
    home = client.get(f"{url}/", headers=HTML)
    assert home.status_code == 200, home.text[:300]
    return re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)


@pytest.mark.browser
def test_staff_sign_in_see_their_to_do_and_sign_out(desk: dict, engine: Engine) -> None:
    url = desk["url"]
    with clock.frozen(desk["now"]):
        expected = _expected_counts(engine, desk["community_id"], desk["now"])
        assert all(expected.values()), expected  # every kind of to-do is there to count
        with open_page(f"{url}/", screenshot="signin_login.png") as (page, log):
            assert page.url.startswith(f"{url}/login?next=")  # not signed in: sent to sign in
            assert accessibility_violations(page) == []
            page.get_by_label("用户名").fill(STAFF)
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.wait_for_url(f"{url}/")
            assert "已登录" in page.locator("#flash").inner_text()
            assert "社区staff" in page.locator("header").inner_text()  # the name given
            counts = {
                item.get_attribute("data-key"): int(item.locator(".count").inner_text())
                for item in page.locator(".todo-item").all()
            }
            nav = page.get_by_role("navigation", name="主导航").get_by_role("link")
            labels = set(nav.all_inner_texts())
            assert accessibility_violations(page) == []
            page.screenshot(path=str(artifact_path("signin_home.png")), full_page=True)
            cookie = next(c for c in page.context.cookies() if c["name"] == "wangge_session")
            page.get_by_role("button", name="退出登录").click()
            page.wait_for_url(f"{url}/login?bye=1")
            assert "您已安全退出" in page.content()
        assert log.console_errors == [] and log.page_errors == []
        assert log.local_failures() == []
    assert counts == expected
    assert {"首页", "考核", "实时态势", "辖区地图", "设施规划", "接口文档"} <= labels
    assert not labels & {"用户管理", "审计日志", "数据导入"}  # admin's only
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    # the signed-out cookie no longer works, for the pages or the API
    old = {"wangge_session": cookie["value"]}
    home = httpx.get(f"{url}/", cookies=old, headers=HTML)
    assert home.status_code == 303 and home.headers["location"].startswith("/login?")
    assert httpx.get(f"{url}/api/me", cookies=old).status_code == 401


def test_five_wrong_passwords_lock_the_account_for_a_while(desk: dict, engine: Engine) -> None:
    url, settings = desk["url"], desk["settings"]
    with httpx.Client() as client:
        for _ in range(settings.signin_max_failures):
            wrong = _sign_in(client, url, OTHER, "not the password")
            assert wrong.status_code == 401 and accounts.WRONG_PASSWORD in wrong.text
        locked = _sign_in(client, url, OTHER, OTHER_PASSWORD)
        assert locked.status_code == 429 and "锁定" in locked.text
        assert int(locked.headers["Retry-After"]) > 60
        # a name nobody has is answered the same way, word for word
        for _ in range(settings.signin_max_failures):
            unknown = _sign_in(client, url, "nobody_at_all", "not the password")
            assert unknown.status_code == 401 and accounts.WRONG_PASSWORD in unknown.text
        assert _sign_in(client, url, "nobody_at_all", "x" * 12).status_code == 429
    # once the failures are older than the window, the right password works again
    later = clock.now() + timedelta(minutes=settings.signin_lockout_minutes, seconds=5)
    with clock.frozen(later), httpx.Client() as client:
        assert _sign_in(client, url, OTHER, OTHER_PASSWORD).status_code == 303
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM sign_in_failure"))


def test_a_form_without_its_csrf_token_is_refused(desk: dict) -> None:
    url = desk["url"]
    with httpx.Client() as client:
        no_token = client.post(
            f"{url}/login", data={"username": STAFF, "password": PASSWORD}, headers=HTML
        )
        assert no_token.status_code == 403 and "wangge_session" not in client.cookies
        assert _sign_in(client, url, STAFF, PASSWORD).status_code == 303
        token = _page_csrf(client, url)
        assert client.post(f"{url}/logout", headers=HTML).status_code == 403
        forged = client.post(f"{url}/logout", data={"csrf_token": "0" * 64}, headers=HTML)
        assert forged.status_code == 403 and "安全令牌" in forged.text
        assert client.get(f"{url}/", headers=HTML).status_code == 200  # still signed in
        # the JSON API takes the token as a header (as htmx sends it) when the cookie signs in
        assert client.post(f"{url}/api/incidents", json={}).status_code == 403
        out = client.post(f"{url}/logout", data={"csrf_token": token}, headers=HTML)
        assert out.status_code == 303 and out.headers["location"] == "/login?bye=1"


def test_a_disabled_users_session_and_token_stop_at_once(
    desk: dict, database_url: str, engine: Engine
) -> None:
    url = desk["url"]
    token = accounts.token_for(engine, OTHER)
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client() as client:
        assert _sign_in(client, url, OTHER, OTHER_PASSWORD).status_code == 303
        assert client.get(f"{url}/", headers=HTML).status_code == 200
        assert httpx.get(f"{url}/api/me", headers=bearer).status_code == 200
        done = run_wangge(database_url, "users", "disable", OTHER)
        assert done.returncode == 0, done.stderr
        try:
            gone = client.get(f"{url}/", headers=HTML)
            assert gone.status_code == 303 and "ended=1" in gone.headers["location"]
            assert httpx.get(f"{url}/api/me", headers=bearer).status_code == 401
            again = _sign_in(client, url, OTHER, OTHER_PASSWORD)
            assert again.status_code == 401 and "停用" in again.text
        finally:
            assert run_wangge(database_url, "users", "enable", OTHER).returncode == 0


def test_errors_are_chinese_pages_for_browsers_and_problems_for_clients(desk: dict) -> None:
    url = desk["url"]
    with httpx.Client() as client:
        assert _sign_in(client, url, STAFF, PASSWORD).status_code == 303
        missing = client.get(f"{url}/no/such/page", headers=HTML)
        assert missing.status_code == 404 and "没有这个页面：/no/such/page" in missing.text
        elsewhere = client.get(f"{url}/reports/daily", params={"community": "1"}, headers=HTML)
        assert elsewhere.status_code == 404 and "未找到" in elsewhere.text
        assert "退出登录" in elsewhere.text  # the layout with the signed-in user
        bad = client.get(f"{url}/planning/access", params={"kind": "casino"}, headers=HTML)
        assert bad.status_code == 422 and "输入有误" in bad.text and "kind" in bad.text
        fragment = client.post(
            f"{url}/logout", headers={**HTML, "HX-Request": "true"}, data={"csrf_token": "x"}
        )
        assert fragment.status_code == 403 and fragment.headers["HX-Retarget"] == "#flash"
        assert 'class="flash flash-error"' in fragment.text and "<html" not in fragment.text
        problem = client.get(f"{url}/api/incidents/999999999")
        assert problem.status_code == 404
        assert problem.headers["content-type"].startswith("application/problem+json")
    away = httpx.get(f"{url}/kpi", headers={**HTML, "HX-Request": "true"})
    assert away.status_code == 401 and away.headers["HX-Redirect"].startswith("/login?next=")


@pytest.mark.browser
def test_the_api_docs_work_offline(desk: dict) -> None:
    with open_page(f"{desk['url']}/docs", screenshot="api_docs_offline.png") as (page, log):
        page.wait_for_selector(".swagger-ui .info .title")
        assert "Wangge" in page.locator(".swagger-ui .info .title").inner_text()
        # the API's families come first (the pages last), and the first one lists its
        # operations (Swagger UI draws the rest as the reader scrolls)
        page.wait_for_selector(".opblock")
        assert page.locator(".opblock-tag").first.inner_text().startswith("incidents")
        assert page.locator(".opblock").count() >= 10
        assert page.locator(".opblock-summary-path", has_text="/api/incidents").count() >= 5
    assert log.external == []  # every script and style came from 127.0.0.1
    assert log.console_errors == [] and log.page_errors == [] and log.local_failures() == []


@pytest.mark.browser
def test_pages_carry_the_security_headers_and_the_map_still_draws(
    desk: dict, engine: Engine
) -> None:
    url = desk["url"]
    login = httpx.get(f"{url}/login", headers=HTML)
    csp = login.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert login.headers["x-frame-options"] == "DENY"
    assert login.headers["x-content-type-options"] == "nosniff"
    assert login.headers["referrer-policy"] == "same-origin"
    health = httpx.get(f"{url}/health")
    assert health.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in health.headers
    # folium's map page runs inline scripts: its policy allows them, and it still draws
    csp = httpx.get(f"{url}/map").headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in csp and "unsafe-eval" not in csp
    with engine.connect() as conn:
        grids = conn.execute(text("SELECT count(*) FROM grid WHERE valid_to IS NULL")).scalar()
    with open_page(f"{url}/map", screenshot="map_under_csp.png") as (page, log):
        assert grid_codes_drawn(page) == grids
    assert log.console_errors == [] and log.page_errors == []
    assert log.external == [] and log.tiles == []  # the offline basemap: no tile left


def test_a_grid_workers_home_counts_their_own_cases(desk: dict, engine: Engine) -> None:
    url = desk["url"]
    with engine.connect() as conn:
        worker = conn.execute(
            text(
                "SELECT u.username, w.id FROM grid_worker w JOIN app_user u ON u.id = w.user_id "
                "JOIN incident i ON i.assignee_id = w.id WHERE i.state = ANY(:open) "
                "GROUP BY u.username, w.id ORDER BY count(*) DESC LIMIT 1"
            ),
            {"open": list(OPEN)},
        ).one()
    accounts.set_password(engine, desk["settings"], worker.username, "worker password 1")
    with clock.frozen(desk["now"]), httpx.Client() as client:
        assert _sign_in(client, url, worker.username, "worker password 1").status_code == 303
        home = client.get(f"{url}/", headers=HTML).text
        with engine.connect() as conn:
            want = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE deadline < :now), count(*) "
                    "FROM incident WHERE assignee_id = :w AND state = ANY(:open) "
                    "AND merged_into IS NULL"
                ),
                {"w": worker.id, "open": list(OPEN), "now": desk["now"]},
            ).one()
    shown = dict(
        re.findall(r'data-key="(\w+)">\s*(?:<a href="/worker">)?<span class="count">(\d+)', home)
    )
    assert shown["overdue"] == str(want[0]) and shown["open"] == str(want[1]) != "0"
    assert "待立案" not in home and "案件办理" not in home  # staff's, not a worker's


def test_a_grid_worker_signed_in_reaches_their_tasks_from_home(
    desk: dict, engine: Engine, database_url: str
) -> None:
    """Home's counts and menu lead to the tablet's task list (/worker), which takes the
    sign-in session: it had to be typed in."""
    with engine.connect() as conn:
        worker = conn.execute(
            text("SELECT w.id FROM grid_worker w WHERE w.user_id IS NULL ORDER BY w.id LIMIT 1")
        ).scalar()
        if worker is None:  # every worker signs in already: a new one, as an office adds
            worker = conn.execute(
                text("INSERT INTO grid_worker (name) VALUES ('网格员新') RETURNING id")
            ).scalar_one()
            conn.commit()
    password = "wang wu 2024 tablet"
    done = run_wangge(
        database_url,
        *("users", "add", "desk_worker", "--role", "grid_worker", "--worker", str(worker)),
        "--password-stdin",
        input_text=password + "\n",
    )
    assert done.returncode == 0, done.stderr
    url = desk["url"]
    with httpx.Client() as client:
        assert _sign_in(client, url, "desk_worker", password).status_code == 303
        home = client.get(f"{url}/", headers=HTML)
        assert home.status_code == 200
        assert re.search(r'<a href="/worker"><span class="count">\d+</span>', home.text)
        assert '<a href="/worker">我的任务</a>' in home.text
        tasks = client.get(f"{url}/worker", headers=HTML)
        assert tasks.status_code == 200 and "网格员" in tasks.text


@pytest.mark.browser
def test_the_staff_pages_fit_a_phone(desk: dict) -> None:
    """On a 390 px phone a wide table scrolls by itself; the page never scrolls sideways."""
    from tests.signin import sign_in_page

    url, phone = desk["url"], (390, 844)
    widths: dict[str, int] = {}
    with open_page(viewport=phone, screenshot="signin_phone_kpi.png") as (page, log):
        sign_in_page(page, url, STAFF, PASSWORD, then="/desk")
        for path in ("/desk", "/kpi", "/grids", "/registry", "/kpi/print"):
            page.goto(f"{url}{path}", wait_until="load")
            widths[path] = page.evaluate("() => document.documentElement.scrollWidth")
            if path == "/kpi":
                assert page.locator(".table-scroll table").count() >= 1
                assert accessibility_violations(page) == []
    assert log.console_errors == [] and log.page_errors == []
    assert {p: w for p, w in widths.items() if w > phone[0]} == {}
