"""The case desk driven as community staff would: sign in, find the overdue case from the home
page, hand it to the recommended worker, verify and close it once the worker reports back,
dispatch a new case with the recommendation, see a 409 as a message; and, outside in, staff of
one community see nothing of another's cases.  Debian Chromium with every request outside
127.0.0.1 blocked, no console error, axe-core with no serious violation."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape as html_unescape
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services import accounts, casework, desk
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.settings import get_settings
from tests.browser import accessibility_violations, artifact_path, open_page
from tests.cases import redate_case
from tests.conftest import LiveServer, run_wangge

STAFF, PASSWORD = "desk_a", "wang wu 2024 desk"
OUTSIDER, OUTSIDER_PASSWORD = "desk_b", "zhao liu 2024 desk"
HTML = {"Accept": "text/html"}


def _reported_cases(conn: Any, community_id: int, n: int) -> list[Any]:
    """``n`` closed cases of a community turned back into fresh reports (their history cut
    to the report), each with a worker of the community other than its grid's primary
    (someone the case can sit with while the primary is recommended)."""
    ids = (
        conn.execute(
            text(
                # categories whose 反馈 needs no photo or check-in: the worker resolves
                # from the tablet's use case with a note only
                "SELECT i.id FROM incident i JOIN grid g ON g.id = i.grid_id "
                "JOIN incident_category c ON c.code = i.category_code "
                "WHERE g.community_id = :c AND i.state IN ('closed', 'rated') "
                "AND NOT c.proof_photo AND NOT c.proof_checkin "
                "AND i.merged_into IS NULL AND i.duplicate_of IS NULL ORDER BY i.id LIMIT :n"
            ),
            {"c": community_id, "n": n},
        )
        .scalars()
        .all()
    )
    conn.execute(
        text(
            "UPDATE incident SET state = 'reported', deadline = NULL, closed_at = NULL, "
            "rating = NULL, assignee_id = NULL WHERE id = ANY(:i)"
        ),
        {"i": list(ids)},
    )
    conn.execute(
        text("DELETE FROM incident_event WHERE incident_id = ANY(:i) AND from_state IS NOT NULL"),
        {"i": list(ids)},
    )
    return conn.execute(
        text(
            "SELECT i.id, i.grid_id, p.worker_id AS primary_id, "
            "(SELECT a.worker_id FROM grid_assignment a JOIN grid g2 ON g2.id = a.grid_id "
            " WHERE g2.community_id = :c AND a.worker_id <> p.worker_id AND a.role = 'primary' "
            " ORDER BY a.worker_id LIMIT 1) AS other_id "
            "FROM incident i JOIN grid g ON g.id = i.grid_id "
            "JOIN grid_assignment p ON p.grid_id = g.id AND p.role = 'primary' "
            "WHERE g.community_id = :c "
            "AND i.id = ANY(:i) ORDER BY i.id"
        ),
        {"c": community_id, "i": list(ids)},
    ).all()


@pytest.fixture(scope="module")
def site(engine: Engine, database_url: str) -> Any:
    """The sample district on a server of its own; staff of two communities made with the
    CLI; in the first, an overdue case (newest of all) with a worker other than its grid's
    primary, and two registered cases."""
    layers = generate_district(3000, 23, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        communities = conn.execute(
            text(
                "SELECT a.id, a.code FROM admin_area a JOIN grid g ON g.community_id = a.id "
                "JOIN incident i ON i.grid_id = g.id WHERE a.level = 'community' "
                "GROUP BY a.id ORDER BY count(*) DESC LIMIT 2"
            )
        ).all()
    (mine, theirs) = communities
    for name, password, community in (
        (STAFF, PASSWORD, mine),
        (OUTSIDER, OUTSIDER_PASSWORD, theirs),
    ):
        done = run_wangge(
            database_url,
            *("users", "add", name, "--role", "community_staff", "--area", community.code),
            *("--name", f"社区{name[-1]}", "--password-stdin"),
            input_text=password + "\n",
        )
        assert done.returncode == 0, done.stderr
    now = clock.now()
    with engine.begin() as conn:
        late, fresh, spare = _reported_cases(conn, mine.id, 3)
        # reported a minute ago: filed again under that month's number, its one step left
        # (the report) with it — a case's steps never precede its report
        late = SimpleNamespace(
            **{**late._asdict(), "id": redate_case(conn, late.id, now - timedelta(minutes=1))}
        )
        conn.execute(
            text(
                "UPDATE incident SET state = 'dispatched', deadline = :d, assignee_id = :w "
                "WHERE id = :i"
            ),
            {"d": now - timedelta(hours=2), "w": late.other_id, "i": late.id},
        )
        conn.execute(
            text("UPDATE incident SET state = 'registered' WHERE id = ANY(:i)"),
            {"i": [fresh.id, spare.id]},
        )
        conn.execute(text("UPDATE grid_worker SET on_duty = true, max_open_tasks = 100"))
    settings = get_settings().model_copy(update={"escalation_interval_s": 0})
    with LiveServer(database_url, settings) as server:
        yield {
            "url": server.url,
            "now": now,
            "late": late,
            "fresh": fresh.id,
            "spare": spare.id,
            "spare_primary": spare.primary_id,
            "mine": mine,
            "theirs": theirs,
        }


def _sign_in(client: httpx.Client, url: str, name: str, password: str) -> None:
    page = client.get(f"{url}/login", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = client.post(
        f"{url}/login",
        data={"username": name, "password": password, "csrf_token": token, "next": "/"},
        headers=HTML,
    )
    assert done.status_code == 303, done.text[:300]


def _listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', html)]


def _wait_map(page: Any, markers: int | None = None) -> None:
    page.wait_for_function("() => window.wanggeMap !== undefined")
    if markers is not None:
        page.wait_for_function(
            "(n) => document.getElementById('desk-map').dataset.markers === String(n)", arg=markers
        )


@pytest.mark.browser
def test_staff_work_the_overdue_case_from_list_to_close(site: dict, engine: Engine) -> None:
    url, late = site["url"], site["late"]
    with clock.frozen(site["now"]), open_page(f"{url}/", screenshot="desk_last.png") as (page, log):
        page.get_by_label("用户名").fill(STAFF)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{url}/")
        # the home page's count leads to the list of overdue cases, ours first
        page.locator('.todo-item[data-key="overdue"] a').click()
        page.wait_for_url(f"{url}/desk?overdue=1")
        rows = page.locator("#case-list tr[data-id]")
        assert rows.first.get_attribute("data-id") == str(late.id)
        assert all(r.get_attribute("data-overdue") == "1" for r in rows.all())
        _wait_map(page, rows.count())
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("desk_overdue_list.png")), full_page=True)
        # a filter swaps the list in place (htmx) and the map follows
        page.get_by_label("状态").select_option("dispatched")
        page.get_by_role("button", name="筛选").click()
        page.wait_for_url(re.compile(r".*state=dispatched.*"))
        assert page.locator("#case-list tr[data-id]").first.get_attribute("data-state") == (
            "dispatched"
        )
        page.locator(f'#case-list a[href="/desk/cases/{late.id}"]').click()
        page.wait_for_url(f"{url}/desk/cases/{late.id}")
        _wait_map(page)
        reassign = page.locator("form.action-reassign")
        assert (
            "推荐派遣给" in reassign.inner_text()
            and "派遣规则：主责网格员" in reassign.inner_text()
        )
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("desk_case_overdue.png")), full_page=True)
        reassign.get_by_role("button", name="改派").click()
        page.wait_for_selector(".flash-success")
        assert f"事件 {late.id} 已改派" in page.locator("#flash").inner_text()
        # the worker reports back from the tablet (the same use cases, as that worker)
        with engine.connect() as conn:
            worker = conn.execute(
                text(
                    "SELECT u.username FROM incident i JOIN grid_worker w ON w.id = i.assignee_id "
                    "JOIN app_user u ON u.id = w.user_id WHERE i.id = :i"
                ),
                {"i": late.id},
            ).scalar_one()
        tablet = accounts.principal_named(engine, worker)
        for action in ("start", "resolve"):
            casework.act(engine, tablet, late.id, casework.Step(action, "已处理"))
        page.reload()
        page.locator("form.action-verify").get_by_role("button", name="核查通过").click()
        page.wait_for_selector("form.action-close")
        assert "已核查通过" in page.locator("#flash").inner_text()
        page.locator("form.action-close").get_by_role("button", name="结案").click()
        page.wait_for_selector(".state-closed")
        history = page.locator("ol.history").inner_text()
        page.screenshot(path=str(artifact_path("desk_case_closed.png")), full_page=True)
        assert page.locator("form.action").count() == 0  # nothing left for staff to do

        # a registered case goes to the recommended worker; a stale page's click is a 409
        page.goto(f"{url}/desk/cases/{site['fresh']}")
        dispatch = page.locator("form.action-dispatch")
        assert "推荐派遣给" in dispatch.inner_text()
        dispatch.get_by_role("button", name="派遣").click()
        page.wait_for_selector(".flash-success")
        assert "已派遣" in page.locator("#flash").inner_text()
        assert "推荐派遣" in page.locator("ol.history").inner_text()
        page.goto(f"{url}/desk/cases/{site['spare']}")
        staff = accounts.principal_named(engine, STAFF)
        meanwhile = casework.Step("dispatch", "meanwhile", site["spare_primary"])
        casework.act(engine, staff, site["spare"], meanwhile)  # a colleague was quicker
        page.locator("form.action-dispatch").get_by_role("button", name="派遣").click()
        page.wait_for_selector(".flash-error")
        conflict = page.locator("#flash").inner_text()
        page.screenshot(path=str(artifact_path("desk_conflict.png")), full_page=True)
    assert "操作冲突" in conflict and str(site["spare"]) in conflict
    for step in ("上报", "改派", "接单处置", "反馈", "核查通过", "结案"):
        assert step in history, history
    assert "推荐改派" in history
    # the browser reports only the refused click (the 409 shown above) as a failed load
    assert [e for e in log.console_errors if "409" not in e] == [] and log.page_errors == []
    # basemap tiles still loading when the page moves on are cancelled by the page itself
    cancelled = [f for f in log.local_failures() if "/tiles/" in f and "ERR_ABORTED" in f]
    assert log.external == [] and len(log.local_failures()) == len(cancelled)
    # basemap tiles still loading when the page moves on are cancelled by the page itself
    cancelled = [f for f in log.local_failures() if "/tiles/" in f and "ERR_ABORTED" in f]
    assert log.external == [] and len(log.local_failures()) == len(cancelled)


def test_staff_of_another_community_see_nothing_of_ours(site: dict, engine: Engine) -> None:
    url, late = site["url"], site["late"]
    with engine.connect() as conn:
        ours = set(
            conn.execute(
                text(
                    "SELECT i.id FROM incident i JOIN grid g ON g.id = i.grid_id "
                    "WHERE g.community_id = :c"
                ),
                {"c": site["mine"].id},
            ).scalars()
        )
        our_grid = conn.execute(
            text("SELECT code FROM grid WHERE community_id = :c AND valid_to IS NULL LIMIT 1"),
            {"c": site["mine"].id},
        ).scalar_one()
    with clock.frozen(site["now"]), httpx.Client() as client:
        _sign_in(client, url, OUTSIDER, OUTSIDER_PASSWORD)
        seen: set[int] = set()
        for query in ("", "?overdue=1", "?state=registered", f"?q={late.id}"):
            listing = client.get(f"{url}/desk{query}", headers=HTML)
            assert listing.status_code == 200
            seen |= set(_listed(listing.text))
        page = client.get(f"{url}/desk", headers=HTML)
        assert _listed(page.text)  # they see their own cases
        assert not seen & ours
        case = client.get(f"{url}/desk/cases/{late.id}", headers=HTML)
        assert case.status_code == 404 and "未找到" in case.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        moved = client.post(
            f"{url}/desk/cases/{site['spare']}/actions",
            data={"action": "escalate", "csrf_token": token},
            headers=HTML,
        )
        assert moved.status_code == 404
        grid = client.get(f"{url}/desk", params={"grid": our_grid}, headers=HTML)
        assert grid.status_code == 404 and our_grid in grid.text
        bad = client.get(f"{url}/desk", params={"state": "lost", "after": "x"}, headers=HTML)
        assert bad.status_code == 422 and "lost" in bad.text
    # a grid worker or a resident has no desk
    with httpx.Client() as client:
        accounts_settings = get_settings()
        with engine.connect() as conn:
            worker = conn.execute(
                text("SELECT u.username FROM app_user u WHERE u.role = 'grid_worker' LIMIT 1")
            ).scalar_one()
        accounts.set_password(engine, accounts_settings, worker, "worker password 2")
        _sign_in(client, url, worker, "worker password 2")
        assert client.get(f"{url}/desk", headers=HTML).status_code == 403


def test_the_list_pages_by_keyset_and_the_partial_is_a_fragment(site: dict, engine: Engine) -> None:
    url = site["url"]
    with clock.frozen(site["now"]), httpx.Client() as client:
        _sign_in(client, url, STAFF, PASSWORD)
        first = client.get(f"{url}/desk", headers=HTML)
        after = re.search(r'href="/desk\?after=([0-9-]+)"', first.text).group(1)
        fragment = client.get(f"{url}/desk", params={"after": after}, headers={"HX-Request": "1"})
        assert "<html" not in fragment.text and "回到第一页" in fragment.text
        one, two = _listed(first.text), _listed(fragment.text)
        # every count of the home page opens the list of exactly those cases
        home = client.get(f"{url}/", headers=HTML).text
        counts = re.findall(
            r'data-key="(\w+)">\s*<a href="(/desk[^"]*)"><span class="count">(\d+)</span>', home
        )
        assert len(counts) == 6
        for _key, link, count in counts:
            listed = _listed(client.get(f"{url}{html_unescape(link)}", headers=HTML).text)
            assert len(listed) == min(int(count), desk.PAGE_SIZE), link
    assert len(one) == desk.PAGE_SIZE and two and not set(one) & set(two)
    with engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT i.id FROM incident i JOIN grid g ON g.id = i.grid_id "
                "WHERE g.community_id = :c AND i.merged_into IS NULL "
                "ORDER BY i.reported_at DESC, i.id DESC LIMIT :n"
            ),
            {"c": site["mine"].id, "n": 2 * desk.PAGE_SIZE},
        ).scalars()
        assert one + two == list(expected)[: len(one) + len(two)]


def _reopen(engine: Engine, community_id: int, n: int, state: str, skip: int = 10) -> list[int]:
    """``n`` closed cases of a community put back into ``state`` (history cut to the report);
    ``skip`` leaves the first ones to the fixture's cases."""
    with engine.begin() as conn:
        ids = list(
            conn.execute(
                text(
                    "SELECT i.id FROM incident i JOIN grid g ON g.id = i.grid_id "
                    "WHERE g.community_id = :c AND i.state IN ('closed', 'rated') "
                    "AND i.merged_into IS NULL ORDER BY i.id DESC LIMIT :n OFFSET :skip"
                ),
                {"c": community_id, "n": n, "skip": skip},
            ).scalars()
        )
        conn.execute(
            text(
                "UPDATE incident SET state = :s, deadline = NULL, closed_at = NULL, "
                "rating = NULL, assignee_id = NULL WHERE id = ANY(:i)"
            ),
            {"s": state, "i": ids},
        )
        conn.execute(
            text(
                "DELETE FROM incident_event WHERE incident_id = ANY(:i) AND from_state IS NOT NULL"
            ),
            {"i": ids},
        )
    return ids


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_a_duplicate_is_merged_and_a_boundary_case_confirmed(site: dict, engine: Engine) -> None:
    url = site["url"]
    dup, into, edge = _reopen(engine, site["mine"].id, 3, "reported", skip=20)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE incident SET duplicate_of = :into, category_code = "
                "(SELECT category_code FROM incident WHERE id = :into) WHERE id = :dup"
            ),
            {"dup": dup, "into": into},
        )
        conn.execute(text("UPDATE incident SET near_boundary = true WHERE id = :i"), {"i": edge})
        code = conn.execute(
            text("SELECT g.code FROM incident i JOIN grid g ON g.id = i.grid_id WHERE i.id = :i"),
            {"i": edge},
        ).scalar_one()
    with clock.frozen(site["now"]), httpx.Client() as client:
        _sign_in(client, url, STAFF, PASSWORD)
        page = client.get(f"{url}/desk/cases/{dup}", headers=HTML).text
        assert "疑似重复上报" in page and f"合并至事件 #{into}" in page
        merged = client.post(
            f"{url}/desk/cases/{dup}/merge", data={"into": into, "csrf_token": _csrf(page)}
        )
        assert merged.status_code == 303 and merged.headers["location"] == f"/desk/cases/{into}"
        shown = client.get(f"{url}/desk/cases/{into}", headers=HTML).text
        assert f"已作为重复上报合并至事件 {into}" in shown and f'href="/desk/cases/{dup}"' in shown
        page = client.get(f"{url}/desk/cases/{edge}", headers=HTML).text
        assert "网格边界确认" in page
        confirmed = client.post(
            f"{url}/desk/cases/{edge}/grid",
            data={"grid_code": code, "csrf_token": _csrf(page)},
            headers={"HX-Request": "true"},
        )
        assert confirmed.status_code == 204
        assert confirmed.headers["HX-Redirect"] == f"/desk/cases/{edge}"
        after = client.get(f"{url}/desk/cases/{edge}", headers=HTML).text
        assert "网格边界确认" not in after and "确认所属网格" in after  # noted in the history
        # a form without its CSRF token changes nothing
        refused = client.post(f"{url}/desk/cases/{edge}/actions", data={"action": "register"})
        assert refused.status_code == 403
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                text("SELECT id, state FROM incident WHERE id = ANY(:i)"), {"i": [dup, edge]}
            ).all()
        )
    assert rows == {dup: "rejected", edge: "reported"}


def test_batch_redispatch_applies_only_the_confirmed_preview(site: dict, engine: Engine) -> None:
    url = site["url"]
    backlog = _reopen(engine, site["theirs"].id, 3, "registered")
    with clock.frozen(site["now"]), httpx.Client() as client:
        _sign_in(client, url, OUTSIDER, OUTSIDER_PASSWORD)
        preview = client.get(f"{url}/desk/redispatch", params={"widen": "community"}, headers=HTML)
        assert preview.status_code == 200 and "尚未生效" in preview.text
        with engine.connect() as conn:
            unchanged = conn.execute(
                text("SELECT count(*) FROM incident WHERE id = ANY(:i) AND state = 'registered'"),
                {"i": backlog},
            ).scalar_one()
        assert unchanged == len(backlog)  # the preview moved nothing
        form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', preview.text))
        moves = html_unescape(form["moves"])
        done = client.post(
            f"{url}/desk/redispatch",
            data={**form, "moves": moves},
            headers=HTML,
        )
        assert done.status_code == 200 and "批量重新派遣：已执行" in done.text
        again = client.post(f"{url}/desk/redispatch", data={**form, "moves": "[]"}, headers=HTML)
        assert again.status_code == 404  # not the preview that was shown
    with engine.connect() as conn:
        dispatched = conn.execute(
            text("SELECT count(*) FROM incident WHERE id = ANY(:i) AND state = 'dispatched'"),
            {"i": backlog},
        ).scalar_one()
    assert dispatched == len(backlog)
