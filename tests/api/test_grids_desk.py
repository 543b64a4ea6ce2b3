"""The grids desk (网格与人员), driven from outside: community staff hand a grid to another
worker in Chromium; the old worker's token loses the grid and its open task at once, the
task follows to the new worker with a note in its history; staff of another community
cannot hand it over; the topology check and the designer's proposal show on a map and are
stored only when a street's staff confirm the very proposal they saw."""

from __future__ import annotations

import re
from contextlib import closing
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services import accounts
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.settings import get_settings
from tests.browser import accessibility_violations, artifact_path, open_page
from tests.conftest import LiveServer, run_wangge

STAFF, PASSWORD = "grids_staff", "grids desk staff 2026"
OTHER, OTHER_PASSWORD = "grids_other", "grids desk other 2026"
STREET, STREET_PASSWORD = "grids_street", "grids desk street 2026"
HTML = {"Accept": "text/html"}


def _add_user(database_url: str, name: str, password: str, role: str, area: str) -> None:
    done = run_wangge(
        database_url,
        *("users", "add", name, "--role", role, "--area", area, "--password-stdin"),
        input_text=password + "\n",
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def desk(engine: Engine, database_url: str) -> Any:
    """The sample district on a server of its own; staff of two communities and of the street;
    one open task of a grid's primary worker in that grid."""
    layers = generate_district(3000, 31, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.begin() as conn:
        a, b = conn.execute(
            text(
                "SELECT c.id, c.code, c.parent_id FROM admin_area c JOIN grid g "
                "ON g.community_id = c.id WHERE g.valid_to IS NULL GROUP BY c.id "
                "HAVING count(*) >= 2 ORDER BY count(*) DESC, c.id LIMIT 2"
            )
        ).all()
        grid = conn.execute(
            text(
                "SELECT g.id, g.code, g.name, a.worker_id, u.username FROM grid g "
                "JOIN grid_assignment a ON a.grid_id = g.id AND a.role = 'primary' "
                "JOIN grid_worker w ON w.id = a.worker_id JOIN app_user u ON u.id = w.user_id "
                "WHERE g.community_id = :c AND g.valid_to IS NULL ORDER BY g.code LIMIT 1"
            ),
            {"c": a.id},
        ).one()
        # the new worker: the primary of another grid of the same community
        new = conn.execute(
            text(
                "SELECT w.id, w.name, u.username FROM grid_assignment a "
                "JOIN grid g ON g.id = a.grid_id JOIN grid_worker w ON w.id = a.worker_id "
                "JOIN app_user u ON u.id = w.user_id WHERE g.community_id = :c "
                "AND g.valid_to IS NULL AND a.role = 'primary' AND a.worker_id <> :old "
                "ORDER BY g.code LIMIT 1"
            ),
            {"c": a.id, "old": grid.worker_id},
        ).one()
        task = conn.execute(
            text(
                "UPDATE incident SET state = 'dispatched', assignee_id = :w, deadline = :d "
                "WHERE id = (SELECT id FROM incident WHERE grid_id = :g "
                "AND merged_into IS NULL ORDER BY id LIMIT 1) RETURNING id"
            ),
            {"w": grid.worker_id, "g": grid.id, "d": clock.now() + timedelta(days=2)},
        ).scalar_one()
        street = conn.execute(
            text("SELECT code FROM admin_area WHERE id = :p"), {"p": b.parent_id}
        ).scalar_one()
    _add_user(database_url, STAFF, PASSWORD, "community_staff", a.code)
    _add_user(database_url, OTHER, OTHER_PASSWORD, "community_staff", b.code)
    _add_user(database_url, STREET, STREET_PASSWORD, "street_staff", street)
    with LiveServer(database_url, get_settings()) as server:
        yield {
            "url": server.url,
            "grid": grid,
            "new": new,
            "task": task,
            "design_community": b.code,
        }


def _bearer(engine: Engine, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {accounts.token_for(engine, username)}"}


def _signed_in(url: str, name: str, password: str) -> tuple[httpx.Client, str]:
    client = httpx.Client()
    form = client.get(f"{url}/login", headers=HTML).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed = client.post(
        f"{url}/login",
        data={"username": name, "password": password, "csrf_token": csrf, "next": "/"},
        headers=HTML,
    )
    assert signed.status_code == 303, signed.text[:300]
    home = client.get(f"{url}/", headers=HTML).text
    return client, re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)


def _my_grid_codes(url: str, bearer: dict[str, str]) -> set[str]:
    answer = httpx.get(f"{url}/api/worker/grids", headers=bearer)
    assert answer.status_code == 200, answer.text
    return {f["properties"]["code"] for f in answer.json()["features"]}


@pytest.mark.browser
def test_staff_hand_a_grid_over_and_the_old_worker_loses_it_at_once(
    desk: dict, engine: Engine
) -> None:
    url, grid, new, task = desk["url"], desk["grid"], desk["new"], desk["task"]
    old_token, new_token = _bearer(engine, grid.username), _bearer(engine, new.username)
    assert grid.code in _my_grid_codes(url, old_token)
    assert httpx.get(f"{url}/api/incidents/{task}", headers=old_token).status_code == 200
    # staff of another community cannot hand it over (not found: not theirs)
    client, csrf = _signed_in(url, OTHER, OTHER_PASSWORD)
    with closing(client):
        refused = client.post(
            f"{url}/grids/{grid.id}/handover",
            data={"worker_id": new.id, "csrf_token": csrf},
            headers=HTML,
        )
        assert refused.status_code == 404
        assert grid.code not in client.get(f"{url}/grids", headers=HTML).text
    with open_page(f"{url}/grids", screenshot="grids_handed_over.png") as (page, log):
        page.get_by_label("用户名").fill(STAFF)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{url}/grids")
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("grids_list.png")), full_page=True)
        row = page.locator(f"tr[data-grid='{grid.code}']")
        row.get_by_label(f"{grid.name} 移交给").select_option(str(new.id))
        row.get_by_label(f"{grid.name} 移交原因").fill("原网格员调岗")
        row.get_by_role("button", name="移交").click()
        page.wait_for_url(f"{url}/grids")
        assert f"移交给 {new.name}" in page.locator("#flash").inner_text()
        assert new.name in row.locator(".primary-worker").inner_text()
        assert "原网格员调岗" in page.locator("#handovers").inner_text()
        assert accessibility_violations(page) == []
    assert log.console_errors == [] and log.page_errors == []
    assert log.local_failures() == []
    # from outside, with the old worker's token: the grid and its open task are gone at once
    assert grid.code not in _my_grid_codes(url, old_token)
    assert httpx.get(f"{url}/api/incidents/{task}", headers=old_token).status_code == 404
    assert grid.code in _my_grid_codes(url, new_token)
    case = httpx.get(f"{url}/api/incidents/{task}", headers=new_token)
    assert case.status_code == 200 and case.json()["assignee_id"] == new.id
    assert case.json()["state"] == "dispatched"
    assert "网格交接" in case.json()["history"][-1]["note"]
    with engine.connect() as conn:
        audit = conn.execute(
            text(
                "SELECT username, detail FROM audit_log WHERE action = 'grid_handover' "
                "AND object_id = :g ORDER BY id DESC LIMIT 1"
            ),
            {"g": str(grid.id)},
        ).one()
    assert audit.username == STAFF and audit.detail["tasks"] == [task]
    assert audit.detail["from_worker_id"] == grid.worker_id


@pytest.mark.browser
def test_the_design_shows_on_a_map_and_is_stored_only_when_confirmed(
    desk: dict, engine: Engine
) -> None:
    url, community = desk["url"], desk["design_community"]
    with engine.connect() as conn:
        before = conn.execute(
            text(
                "SELECT array_agg(g.id ORDER BY g.id) FROM grid g JOIN admin_area c "
                "ON c.id = g.community_id WHERE c.code = :c AND g.valid_to IS NULL"
            ),
            {"c": community},
        ).scalar_one()
    design = f"{url}/grids/design?community={community}"
    with open_page(design, screenshot="grids_design.png") as (page, log):
        page.get_by_label("用户名").fill(STREET)
        page.get_by_label("密码").fill(STREET_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(design)
        page.wait_for_function("() => document.getElementById('design-map').dataset.ready === '1'")
        assert page.locator("#design-map path.leaflet-interactive").count() >= len(before)
        assert accessibility_violations(page) == []
        fingerprint = page.locator("input[name=fingerprint]").get_attribute("value")
    assert log.console_errors == [] and log.page_errors == []
    assert log.local_failures() == []
    client, csrf = _signed_in(url, STREET, STREET_PASSWORD)
    with closing(client):
        form = {
            "community": community,
            "min_households": get_settings().grid_households_min,
            "max_households": get_settings().grid_households_max,
            "csrf_token": csrf,
        }
        stale = client.post(
            f"{url}/grids/design", data={**form, "fingerprint": "0" * 32}, headers=HTML
        )
        assert stale.status_code == 409 and "no longer the one you confirmed" in stale.text
        # nothing was stored by looking at it, nor by a stale confirmation
        with engine.connect() as conn:
            still = conn.execute(
                text(
                    "SELECT array_agg(g.id ORDER BY g.id) FROM grid g JOIN admin_area c "
                    "ON c.id = g.community_id WHERE c.code = :c AND g.valid_to IS NULL"
                ),
                {"c": community},
            ).scalar_one()
        assert still == before
        # community staff may look but not store
        other, other_csrf = _signed_in(url, OTHER, OTHER_PASSWORD)
        with closing(other):
            assert other.get(design, headers=HTML).status_code == 200
            refused = other.post(
                f"{url}/grids/design",
                data={**form, "csrf_token": other_csrf, "fingerprint": fingerprint},
                headers=HTML,
            )
            assert refused.status_code == 403
        saved = client.post(
            f"{url}/grids/design", data={**form, "fingerprint": fingerprint}, headers=HTML
        )
        assert saved.status_code == 303, saved.text[:500]
    with engine.connect() as conn:
        after = conn.execute(
            text(
                "SELECT array_agg(g.id ORDER BY g.id) FROM grid g JOIN admin_area c "
                "ON c.id = g.community_id WHERE c.code = :c AND g.valid_to IS NULL"
            ),
            {"c": community},
        ).scalar_one()
    assert not set(after) & set(before)  # the old grids were retired


def test_the_design_offers_the_simulation_only_to_who_may_run_it(desk: dict) -> None:
    """Community staff see the design; its simulation is the street office's (403 else)."""
    url, community = desk["url"], desk["design_community"]
    design = f"/grids/design?community={community}"
    for name, password, offered in (
        (OTHER, OTHER_PASSWORD, False),
        (STREET, STREET_PASSWORD, True),
    ):
        client, _ = _signed_in(url, name, password)
        with closing(client):
            page = client.get(f"{url}{design}", headers=HTML)
            assert page.status_code == 200 and 'id="design-map"' in page.text
            assert "几何无效" in page.text and "unknown_community" not in page.text
            assert '<th scope="row">方案</th>' in page.text and "naive square" not in page.text
            link = f'href="/grids/simulate?community={community}"'
            assert (link in page.text) is offered, name
            simulate = client.get(f"{url}/grids/simulate?community={community}", headers=HTML)
            assert (simulate.status_code == 200) is offered, (name, simulate.status_code)


def test_who_may_not_use_the_grids_desk_is_told_so_before_their_input(
    desk: dict, engine: Engine
) -> None:
    """A resident opening the design page without its community: 403, not 输入有误 (422)."""
    resident = {
        "Authorization": f"Bearer {accounts.issue_token(engine, 'gd_resident', 'resident')}"
    }
    for path in ("/grids/design", "/grids/simulate", "/grids/design?community=x"):
        answer = httpx.get(f"{desk['url']}{path}", headers=resident | HTML)
        assert answer.status_code == 403 and "无权操作" in answer.text, path
