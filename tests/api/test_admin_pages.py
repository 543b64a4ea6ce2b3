"""The administration pages driven as an admin would, and refused to everyone else.

An admin signs in through the form, creates a community staff member who then signs in;
disabling them ends their session and their token at the next request; revoking ends
both too.  The audit log shows each change, filters and exports it as CSV, and the
database refuses to change or delete a record.  An import file is dry-run (rows accepted
and refused, by row, column and reason) and imported only when confirmed; an upload over
the limit is refused with 413.  In Debian Chromium with no request outside 127.0.0.1, no
console error and no serious accessibility violation (axe-core).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from etl.load import load_layers
from etl.sample import generate_district
from gis.settings import get_settings
from tests.browser import accessibility_violations, artifact_path, is_local, open_page
from tests.conftest import LiveServer, run_wangge

ADMIN, ADMIN_PASSWORD = "desk_admin", "admin password for the desk"
STAFF, STAFF_PASSWORD = "admin_test_staff", "staff password for the desk"
NEWBIE, NEWBIE_PASSWORD = "new_staff_wang", "wang wu 2026 new staff"
HTML = {"Accept": "text/html"}
LIMIT = 200_000


def _add_user(database_url: str, name: str, password: str, *role: str) -> None:
    done = run_wangge(
        database_url, "users", "add", name, *role, "--password-stdin", input_text=password + "\n"
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def site(engine: Engine, database_url: str) -> Any:
    """A small sample district served with a small upload limit; an admin and a staff member."""
    layers = generate_district(1500, 31, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        community = conn.execute(
            text("SELECT code FROM admin_area WHERE level = 'community' ORDER BY code LIMIT 1")
        ).scalar_one()
        street = conn.execute(
            text("SELECT code FROM admin_area WHERE level = 'street' ORDER BY code LIMIT 1")
        ).scalar_one()
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid "
                "WHERE valid_to IS NULL ORDER BY id LIMIT 1) s"
            )
        ).one()
    _add_user(database_url, ADMIN, ADMIN_PASSWORD, "--role", "admin", "--name", "管理员")
    _add_user(database_url, STAFF, STAFF_PASSWORD, "--role", "community_staff", "--area", community)
    settings = get_settings().model_copy(
        update={
            "escalation_interval_s": 0,
            "import_max_bytes": LIMIT,
            "signin_failure_delay_s": 0.05,
            "signin_max_delay_s": 0.2,
        }
    )
    with LiveServer(database_url, settings) as server:
        yield {
            "url": server.url,
            "community": community,
            "street": street,
            "point": (float(lon), float(lat)),
        }


def _sign_in(client: httpx.Client, url: str, name: str, password: str) -> httpx.Response:
    page = client.get(f"{url}/login", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post(
        f"{url}/login",
        data={"username": name, "password": password, "csrf_token": token, "next": "/"},
        headers=HTML,
    )


def _csrf(client: httpx.Client, url: str, path: str = "/") -> str:
    page = client.get(f"{url}{path}", headers=HTML)
    assert page.status_code == 200, page.text[:300]
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


@contextmanager
def _signed_in(url: str, name: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        assert _sign_in(client, url, name, password).status_code == 303
        yield client


def _browser_sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(re.escape(url) + r"/(\?.*)?$|.*/admin/.*"))


@pytest.mark.browser
def test_an_admin_creates_a_user_who_signs_in_and_is_stopped_at_once(
    site: dict, engine: Engine
) -> None:
    url = site["url"]
    with open_page(f"{url}/admin/users", screenshot="admin_users.png") as (page, log):
        assert "/login?next=" in page.url
        _browser_sign_in(page, url, ADMIN, ADMIN_PASSWORD)
        page.wait_for_url(f"{url}/admin/users")
        nav = set(
            page.get_by_role("navigation", name="主导航").get_by_role("link").all_inner_texts()
        )
        assert {"用户管理", "审计日志", "数据导入"} <= nav
        assert page.locator(f'tr[data-user="{ADMIN}"]').count() == 1
        assert accessibility_violations(page) == []
        form = page.get_by_role("region", name="新建用户")
        form.get_by_label("用户名", exact=True).fill(NEWBIE)
        form.get_by_label("姓名（页面显示）").fill("王五")
        form.get_by_label("角色", exact=True).select_option("community_staff")
        form.get_by_label("区域代码").fill(site["community"])
        form.get_by_label("初始密码").fill(NEWBIE_PASSWORD)
        form.get_by_role("button", name="创建用户").click()
        page.wait_for_url(f"{url}/admin/users/{NEWBIE}")
        assert f"已创建用户 {NEWBIE}" in page.locator("#flash").inner_text()
        assert page.locator('[data-field="role"]').inner_text() == "社区工作人员"
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("admin_user_created.png")), full_page=True)

        # the new user signs in through the form, in a browser context of their own
        own_context = page.context.browser.new_context()
        outside: list[str] = []

        def local_only(route: Any, request: Any) -> None:
            if is_local(request.url):
                route.continue_()
            else:
                outside.append(request.url)
                route.abort("blockedbyclient")

        own_context.route("**/*", local_only)
        own = own_context.new_page()
        own_errors: list[str] = []
        own.on("console", lambda m: own_errors.append(m.text) if m.type == "error" else None)
        own.goto(f"{url}/login")
        _browser_sign_in(own, url, NEWBIE, NEWBIE_PASSWORD)
        assert "王五" in own.locator("header").inner_text()
        assert own.locator("#flash").inner_text().startswith("已登录")
        own.screenshot(path=str(artifact_path("admin_new_user_home.png")), full_page=True)
        own_cookie = next(c for c in own_context.cookies() if c["name"] == "wangge_session")
        own_context.close()
        assert own_errors == [] and outside == []

        # their session (cookie) and a token work now ...
        token = _token(engine, NEWBIE)
        bearer = {"Authorization": f"Bearer {token}"}
        session = {"wangge_session": own_cookie["value"]}
        assert httpx.get(f"{url}/", cookies=session, headers=HTML).status_code == 200
        assert httpx.get(f"{url}/api/me", headers=bearer).status_code == 200

        # ... and stop at once when the admin disables the account
        page.reload()
        assert page.locator('[data-field="sessions"]').inner_text() == "1"
        page.get_by_role("button", name="停用账号").click()
        page.wait_for_url(f"{url}/admin/users/{NEWBIE}")
        assert "已停用" in page.locator("#flash").inner_text()
        gone = httpx.get(f"{url}/", cookies=session, headers=HTML)
        assert gone.status_code == 303 and "ended=1" in gone.headers["location"]
        assert httpx.get(f"{url}/api/me", headers=bearer).status_code == 401
        with httpx.Client() as again:
            refused = _sign_in(again, url, NEWBIE, NEWBIE_PASSWORD)
            assert refused.status_code == 401 and "停用" in refused.text
        assert page.locator('[data-field="sessions"]').inner_text() == "0"
        page.get_by_role("button", name="启用账号").click()
        page.wait_for_url(f"{url}/admin/users/{NEWBIE}")
        assert page.locator('[data-field="status"]').inner_text().startswith("正常")
        # the old browser does not come back with the account, nor the old token
        assert httpx.get(f"{url}/", cookies=session, headers=HTML).status_code == 303
        assert httpx.get(f"{url}/api/me", headers=bearer).status_code == 401
        page.screenshot(path=str(artifact_path("admin_user_enabled.png")), full_page=True)
        # the audit log shows what the admin did, filtered through its form
        page.goto(f"{url}/admin/audit")
        filters = page.get_by_role("search", name="筛选审计记录")
        filters.get_by_label("用户名").fill(ADMIN)
        filters.get_by_label("操作").select_option("user_disable")
        filters.get_by_role("button", name="筛选").click()
        page.wait_for_url(re.compile(r".*/admin/audit\?user=.*action=user_disable.*"))
        shown = page.locator("table.audit tbody tr")
        assert shown.count() == 1 and NEWBIE in shown.first.inner_text()
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("admin_audit.png")), full_page=True)
    assert log.console_errors == [] and log.page_errors == [] and log.local_failures() == []
    with engine.connect() as conn:
        actions = conn.execute(
            text("SELECT action FROM audit_log WHERE username = :a AND object_id = :u ORDER BY id"),
            {"a": ADMIN, "u": NEWBIE},
        ).scalars()
        assert list(actions) == ["user_create", "user_disable", "user_enable"]


def test_revoke_ends_sessions_and_tokens_and_roles_change(
    site: dict, engine: Engine, database_url: str
) -> None:
    url = site["url"]
    name = "revoke_me"
    _add_user(database_url, name, "revoke me password 1", "--role", "resident")
    token = _token(engine, name)
    bearer = {"Authorization": f"Bearer {token}"}
    with (
        _signed_in(url, ADMIN, ADMIN_PASSWORD) as admin,
        _signed_in(url, name, "revoke me password 1") as victim,
    ):
        assert victim.get(f"{url}/", headers=HTML).status_code == 200
        assert httpx.get(f"{url}/api/me", headers=bearer).status_code == 200
        csrf = _csrf(admin, url, f"/admin/users/{name}")
        # a staff role needs an area of the right level, said plainly
        wrong = admin.post(
            f"{url}/admin/users/{name}/role",
            data={"csrf_token": csrf, "role": "community_staff", "area": site["street"]},
            headers=HTML,
        )
        assert wrong.status_code == 422 and "community" in wrong.text
        moved = admin.post(
            f"{url}/admin/users/{name}/role",
            data={"csrf_token": csrf, "role": "street_staff", "area": site["street"]},
            headers=HTML,
        )
        assert moved.status_code == 303
        me = httpx.get(f"{url}/api/me", headers=bearer).json()
        assert me["role"] == "street_staff"  # seen by the very next request
        revoked = admin.post(
            f"{url}/admin/users/{name}/revoke", data={"csrf_token": csrf}, headers=HTML
        )
        assert revoked.status_code == 303
        assert victim.get(f"{url}/", headers=HTML).status_code == 303
        assert httpx.get(f"{url}/api/me", headers=bearer).status_code == 401
        # a random password is shown once; the admin cannot disable themselves
        reset = admin.post(
            f"{url}/admin/users/{name}/password", data={"csrf_token": csrf}, headers=HTML
        )
        assert reset.status_code == 200 and "只显示这一次" in reset.text
        shown = re.search(r'data-field="password"><code>([^<]+)</code>', reset.text).group(1)
        with httpx.Client() as fresh:
            assert _sign_in(fresh, url, name, shown).status_code == 303
        own = admin.post(
            f"{url}/admin/users/{ADMIN}/disable", data={"csrf_token": csrf}, headers=HTML
        )
        assert own.status_code == 409 and "another admin" in own.text
        missing = admin.get(f"{url}/admin/users/nobody_here", headers=HTML)
        assert missing.status_code == 404
        dup = admin.post(
            f"{url}/admin/users",
            data={
                "csrf_token": csrf,
                "username": name,
                "role": "resident",
                "password": "a good long password 9",
            },
            headers=HTML,
        )
        assert dup.status_code == 409


def _token(engine: Engine, name: str) -> str:
    from api.services import accounts

    return accounts.token_for(engine, name, days=1)


def test_only_admins_reach_the_administration(site: dict, engine: Engine) -> None:
    url = site["url"]
    pages = ["/admin/users", f"/admin/users/{ADMIN}", "/admin/audit", "/admin/audit.csv"]
    pages.append("/admin/imports")
    posts = [
        "/admin/users",
        f"/admin/users/{ADMIN}/disable",
        f"/admin/users/{ADMIN}/enable",
        f"/admin/users/{ADMIN}/password",
        f"/admin/users/{ADMIN}/role",
        f"/admin/users/{ADMIN}/revoke",
        "/admin/imports/confirm",
    ]
    staff_token = {"Authorization": f"Bearer {_token(engine, STAFF)}"}
    with _signed_in(url, STAFF, STAFF_PASSWORD) as staff:
        csrf = _csrf(staff, url)
        home = staff.get(f"{url}/", headers=HTML).text
        assert "用户管理" not in home and "审计日志" not in home
        for path in pages:
            answer = staff.get(f"{url}{path}", headers=HTML)
            assert answer.status_code == 403, path
            assert "系统管理员" in answer.text or "admin" in answer.text
            assert httpx.get(f"{url}{path}", headers=staff_token).status_code == 403, path
        for path in posts:
            answer = staff.post(
                f"{url}{path}",
                data={"csrf_token": csrf, "username": "x", "role": "admin", "key": "k" * 20},
                headers=HTML,
            )
            assert answer.status_code == 403, path
        upload = staff.post(
            f"{url}/admin/imports",
            data={"csrf_token": csrf, "kind": "facilities"},
            files={"file": ("a.csv", b"a,b\n1,2\n", "text/csv")},
            headers=HTML,
        )
        assert upload.status_code == 403
    for path in pages:  # nobody signed in: to the sign-in page, or 401 for a client
        assert httpx.get(f"{url}{path}", headers=HTML).status_code == 303
        assert httpx.get(f"{url}{path}").status_code == 401
    with engine.connect() as conn:  # nothing changed
        disabled = conn.execute(
            text("SELECT disabled_at FROM app_user WHERE username = :u"), {"u": ADMIN}
        ).scalar()
    assert disabled is None


def test_the_audit_log_filters_exports_and_cannot_be_rewritten(site: dict, engine: Engine) -> None:
    url = site["url"]
    with _signed_in(url, ADMIN, ADMIN_PASSWORD) as admin:
        csrf = _csrf(admin, url, "/admin/users")
        made = admin.post(
            f"{url}/admin/users",
            data={
                "csrf_token": csrf,
                "username": "audited_one",
                "role": "resident",
                "password": "audited one password",
            },
            headers=HTML,
        )
        assert made.status_code == 303
        page = admin.get(
            f"{url}/admin/audit", params={"user": ADMIN, "action": "user_create"}, headers=HTML
        )
        assert page.status_code == 200
        actions = set(re.findall(r'<tr data-action="(\w+)">', page.text))
        assert actions == {"user_create"} and "audited_one" in page.text
        empty = admin.get(
            f"{url}/admin/audit", params={"since": "2000-01-01", "until": "2000-01-02"}
        )
        assert "没有符合条件的记录" in empty.text
        bad = admin.get(f"{url}/admin/audit", params={"since": "yesterday"}, headers=HTML)
        assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
        backwards = admin.get(
            f"{url}/admin/audit", params={"since": "2026-02-01", "until": "2026-01-01"}
        )
        assert backwards.status_code == 422
        exported = admin.get(f"{url}/admin/audit.csv", params={"user": ADMIN})
        assert exported.status_code == 200
        assert exported.headers["content-disposition"].startswith("attachment;")
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[0] == ["编号", "时间", "用户", "操作", "对象类型", "对象", "详情"]
        assert {r[3] for r in rows[1:]} >= {"user_create", "audit_export"}
        assert all(r[2] == ADMIN for r in rows[1:])
        with engine.connect() as conn:
            want = conn.execute(
                text("SELECT count(*) FROM audit_log WHERE username = :u"), {"u": ADMIN}
            ).scalar()
        assert len(rows) - 1 == want
    # the database refuses to change or delete an audit record, whoever asks
    for statement in (
        "UPDATE audit_log SET username = 'someone_else'",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(DBAPIError) as refused, engine.begin() as conn:
            conn.execute(text(statement))
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
        assert "append-only" in str(refused.value.orig)
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM audit_log WHERE username = 'someone_else'")
            ).scalar()
            == 0
        )


def _facilities_csv(point: tuple[float, float]) -> bytes:
    lon, lat = point
    rows = [
        "编号,名称,类型,经度,纬度,容量",
        f"ADM-1,测试卫生站,诊所,{lon:.6f},{lat:.6f},20",
        f"ADM-2,测试养老院,养老院,{lon + 0.0005:.6f},{lat:.6f},40",
        f"ADM-3,测试公园,公园,{lon:.6f},{lat + 0.0005:.6f},",
        f"ADM-4,没有类型的设施,赌场,{lon:.6f},{lat:.6f},",
    ]
    return ("\n".join(rows) + "\n").encode("utf-8")


def _facilities(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM facility WHERE ref LIKE 'ADM-%'")).scalar()
        )


@pytest.mark.browser
def test_an_import_is_dry_run_then_confirmed(site: dict, engine: Engine, tmp_path: Any) -> None:
    url = site["url"]
    path = tmp_path / "设施台账.csv"
    path.write_bytes(_facilities_csv(site["point"]))
    assert _facilities(engine) == 0
    with engine.connect() as conn:  # other tests of the module audit imports of their own
        audited_before = conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar()
    with open_page(f"{url}/admin/imports", screenshot="admin_import_done.png") as (page, log):
        _browser_sign_in(page, url, ADMIN, ADMIN_PASSWORD)
        page.wait_for_url(f"{url}/admin/imports")
        assert accessibility_violations(page) == []
        page.get_by_label("数据类型").select_option("facilities")
        page.get_by_label("文件").set_input_files(str(path))
        page.get_by_role("button", name="试导入（不写入）").click()
        page.wait_for_selector('[data-count="accepted"]')
        assert page.locator('[data-count="accepted"]').inner_text() == "3"
        assert page.locator('[data-count="rejected"]').inner_text() == "1"
        problem = page.locator("table.problems tbody tr").first.inner_text()
        assert "5" in problem and "类型" in problem and "赌场" in problem
        assert _facilities(engine) == 0  # a dry run stores nothing
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("admin_import_dry_run.png")), full_page=True)
        key = page.locator('input[name="key"]').get_attribute("value")
        csrf = page.locator('input[name="csrf_token"]').last.get_attribute("value")
        page.get_by_role("button", name="确认导入").click()
        page.wait_for_selector("h1:has-text('导入完成')")
        assert page.locator('[data-count="accepted"]').inner_text() == "3"
        assert "新增 3" in page.locator(".counts").inner_text()
        # the dry run cannot be confirmed twice
        again = page.request.post(
            f"{url}/admin/imports/confirm",
            form={"key": key, "csrf_token": csrf},
            headers={"Accept": "text/html"},
        )
        assert again.status == 404 and "no longer waiting" in again.text()
    assert log.console_errors == [] and log.page_errors == [] and log.local_failures() == []
    assert _facilities(engine) == 3
    with engine.connect() as conn:
        done = conn.execute(
            text(
                "SELECT action, detail->>'accepted' FROM audit_log "
                "WHERE username = :u AND action LIKE 'import%' AND id > :before ORDER BY id"
            ),
            {"u": ADMIN, "before": audited_before},
        ).all()
    assert [tuple(r) for r in done] == [("import_dry_run", "3"), ("import", "3")]


def test_an_upload_over_the_limit_is_refused_with_413(site: dict) -> None:
    url = site["url"]
    with _signed_in(url, ADMIN, ADMIN_PASSWORD) as admin:
        csrf = _csrf(admin, url, "/admin/imports")
        big = b"x" * (LIMIT + 100_000)
        declared = admin.post(
            f"{url}/admin/imports",
            data={"csrf_token": csrf, "kind": "facilities"},
            files={"file": ("big.csv", big, "text/csv")},
            headers=HTML,
        )
        assert declared.status_code == 413 and "WANGGE_IMPORT_MAX_BYTES" in declared.text

        def chunks() -> Any:  # no Content-Length: refused once the bytes pass the limit
            yield b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            yield csrf.encode() + b"\r\n--b\r\n"
            yield b'Content-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
            for _ in range(40):
                yield b"y" * 10_000

        streamed = admin.post(
            f"{url}/admin/imports",
            content=chunks(),
            headers={**HTML, "Content-Type": "multipart/form-data; boundary=b"},
        )
        assert streamed.status_code == 413
        wrong = admin.post(
            f"{url}/admin/imports",
            data={"csrf_token": csrf, "kind": "facilities"},
            files={"file": ("notes.txt", b"hello", "text/plain")},
            headers=HTML,
        )
        assert wrong.status_code == 422 and ".csv" in wrong.text
        refused = admin.post(
            f"{url}/admin/imports",
            data={"csrf_token": csrf, "kind": "facilities"},
            files={"file": ("x.csv", "完全不对,的表头\n1,2\n".encode(), "text/csv")},
            headers=HTML,
        )
        assert refused.status_code == 200 and "文件被整体拒绝" in refused.text
        assert "确认导入" not in refused.text


def test_the_command_line_changes_roles_and_revokes_too(
    site: dict, engine: Engine, database_url: str
) -> None:
    url, name = site["url"], "cli_changed"
    _add_user(database_url, name, "cli changed password 1", "--role", "resident")
    bearer = {"Authorization": f"Bearer {_token(engine, name)}"}
    done = run_wangge(
        database_url, "users", "role", name, "--role", "community_staff", "--area", site["street"]
    )
    assert done.returncode != 0 and "community" in done.stderr  # a street is not a community
    done = run_wangge(
        database_url,
        *("users", "role", name, "--role", "community_staff", "--area", site["community"]),
    )
    assert done.returncode == 0, done.stderr
    assert httpx.get(f"{url}/api/me", headers=bearer).json()["role"] == "community_staff"
    with _signed_in(url, name, "cli changed password 1") as browser:
        done = run_wangge(database_url, "users", "revoke", name)
        assert done.returncode == 0 and "1 session(s) and 1 token(s) ended" in done.stderr
        assert browser.get(f"{url}/", headers=HTML).status_code == 303
    assert httpx.get(f"{url}/api/me", headers=bearer).status_code == 401
    with engine.connect() as conn:
        audited = conn.execute(
            text("SELECT action FROM audit_log WHERE username = 'cli' AND object_id = :u"),
            {"u": name},
        ).scalars()
        assert sorted(audited) == ["user_revoke", "user_role"]
