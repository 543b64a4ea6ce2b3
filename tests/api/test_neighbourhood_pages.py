"""The residents' side on a phone (390 × 844): 你说我做 from a wish to its adoption, a notice
to a group that only that group's resident sees (with an unread count), and the services
nearby sorted by walking time (checked against walks computed on the network directly).
Outside in: another community's staff neither see nor adopt the estate's wishes.  Debian
Chromium with every request outside 127.0.0.1 blocked, no console error, axe-core with
no serious violation, screenshots in test-artifacts/."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, text

from analysis.service_area import node_walk_seconds
from api.services.walking import load_walking
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.settings import get_settings
from tests.browser import accessibility_violations, artifact_path, open_page
from tests.conftest import LiveServer, run_wangge

PHONE = (390, 844)
HTML = {"Accept": "text/html"}
STAFF, OUTSIDER = "svc_staff_a", "svc_staff_b"
ELDER, NEIGHBOUR = "svc_res_elder", "svc_res_nb"
PASSWORD = "long enough pass 2024"


@pytest.fixture(scope="module")
def site(engine: Engine, database_url: str) -> Any:
    """The sample district on its own server; staff of two communities; two residents of
    one estate of the first (one an elderly person living alone), linked to the register."""
    layers = generate_district(3000, 23, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.begin() as conn:
        estate = conn.execute(
            text(
                "SELECT e.id, e.name, e.parent_id FROM admin_area e JOIN building b "
                "ON b.estate_id = e.id JOIN household h ON h.building_id = b.id "
                "JOIN resident r ON r.household_id = h.id WHERE e.level = 'estate' "
                "GROUP BY e.id HAVING count(DISTINCT h.id) >= 2 ORDER BY e.id LIMIT 1"
            )
        ).one()
        mine = conn.execute(
            text("SELECT id, code FROM admin_area WHERE id = :c"), {"c": estate.parent_id}
        ).one()
        theirs = conn.execute(
            text(
                "SELECT a.id, a.code FROM admin_area a WHERE a.level = 'community' AND a.id <> :c "
                "AND EXISTS (SELECT 1 FROM grid g WHERE g.community_id = a.id) ORDER BY a.id "
                "LIMIT 1"
            ),
            {"c": mine.id},
        ).one()
        people = conn.execute(
            text(
                "SELECT DISTINCT ON (h.id) r.id, h.id AS household_id FROM resident r "
                "JOIN household h ON h.id = r.household_id JOIN building b ON b.id = h.building_id "
                "WHERE b.estate_id = :e ORDER BY h.id, r.id LIMIT 2"
            ),
            {"e": estate.id},
        ).all()
        elder, neighbour = people
        conn.execute(
            text(
                "UPDATE resident SET living_alone_elderly = (id = :a), disabled = false, "
                "mobility_impaired = false, low_income = false, birth_year = 1950 "
                "WHERE id IN (:a, :b)"
            ),
            {"a": elder.id, "b": neighbour.id},
        )
    for name, role, area in (
        (STAFF, "community_staff", mine.code),
        (OUTSIDER, "community_staff", theirs.code),
        (ELDER, "resident", None),
        (NEIGHBOUR, "resident", None),
    ):
        done = run_wangge(
            database_url,
            *("users", "add", name, "--role", role, "--name", f"用户{name[-2:]}"),
            *(("--area", area) if area else ()),
            "--password-stdin",
            input_text=PASSWORD + "\n",
        )
        assert done.returncode == 0, done.stderr
    for name, person in ((ELDER, elder), (NEIGHBOUR, neighbour)):
        done = run_wangge(database_url, "users", "link", name, "--resident", str(person.id))
        assert done.returncode == 0, done.stderr
    refused = run_wangge(database_url, "users", "link", STAFF, "--resident", str(elder.id))
    assert refused.returncode != 0 and "only a resident's account" in refused.stderr
    with LiveServer(database_url, get_settings()) as server:
        yield {"url": server.url, "estate": estate, "mine": mine, "theirs": theirs}


def _sign_in(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{url}/")


def _sign_out(page: Any) -> None:
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile(r".*/login.*"))


def _client(url: str, name: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=60)
    page = client.get("/login", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": token, "next": "/"},
        headers=HTML,
    )
    assert done.status_code == 303, done.text[:300]
    home = client.get("/", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
    return client, token


def _unread(url: str, name: str) -> int:
    client, _ = _client(url, name)
    try:
        page = client.get("/r/notices", headers=HTML)
        return int(re.search(r'id="unread"[^>]*data-unread="(\d+)"', page.text).group(1))
    finally:
        client.close()


def _clean(log: Any) -> None:
    assert log.external == []
    assert log.console_errors == [] and log.page_errors == []


@pytest.mark.browser
def test_a_wish_is_posted_supported_and_adopted(site: dict) -> None:
    url = site["url"]
    with open_page(viewport=PHONE, screenshot="r_wishes_last.png") as (page, log):
        _sign_in(page, url, ELDER)
        page.goto(f"{url}/r/wishes")
        page.get_by_label("我的心愿").fill("3号楼门口加一条无障碍坡道")
        page.get_by_label("说明（可选）").fill("轮椅和婴儿车进出不便")
        page.get_by_role("button", name="提交心愿").click()
        page.wait_for_selector(".flash-success")
        wish = page.locator("#wishes li").first
        wish_id = wish.get_attribute("data-id")
        assert wish.get_attribute("data-state") == "open"
        assert "我发起的" in wish.inner_text()
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("r_wishes_posted.png")), full_page=True)
        _sign_out(page)

        _sign_in(page, url, NEIGHBOUR)
        page.goto(f"{url}/r/wishes")
        page.get_by_role("button", name="支持：3号楼门口加一条无障碍坡道").click()
        page.wait_for_selector(".flash-success")
        wish = page.locator(f"#wish-{wish_id}")
        assert wish.get_attribute("data-supports") == "1"
        assert "已支持" in wish.inner_text()
        _sign_out(page)

        _sign_in(page, url, STAFF)
        page.goto(f"{url}/desk/wishes")
        page.get_by_role("button", name="采纳：3号楼门口加一条无障碍坡道").click()
        page.wait_for_selector(".flash-success")
        assert page.locator(f"#wish-{wish_id}").get_attribute("data-state") == "adopted"
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("desk_wishes_adopted.png")), full_page=True)
        _sign_out(page)

        _sign_in(page, url, NEIGHBOUR)
        page.goto(f"{url}/r/wishes")
        wish = page.locator(f"#wish-{wish_id}")
        assert wish.get_attribute("data-state") == "adopted"
        assert "已采纳" in wish.inner_text()
        page.screenshot(path=str(artifact_path("r_wishes_adopted.png")), full_page=True)
        _clean(log)

    # outside in: another community's staff neither see nor decide on this estate's wishes
    client, token = _client(url, OUTSIDER)
    try:
        listed = client.get("/desk/wishes", headers=HTML)
        assert listed.status_code == 200 and f'id="wish-{wish_id}"' not in listed.text
        refused = client.post(
            f"/desk/wishes/{wish_id}/decide",
            data={"action": "decline", "reason": "不在本社区", "csrf_token": token},
            headers=HTML,
        )
        assert refused.status_code == 403, refused.text[:300]
        assert "outside your area" in refused.text
    finally:
        client.close()
    # and a resident may not support twice (409 with a message)
    client, token = _client(url, NEIGHBOUR)
    try:
        again = client.post(
            f"/r/wishes/{wish_id}/support", data={"csrf_token": token}, headers=HTML
        )
        assert again.status_code == 409 and "one support per resident" in again.text
    finally:
        client.close()


@pytest.mark.browser
def test_a_notice_to_a_group_reaches_only_that_group(site: dict) -> None:
    url = site["url"]
    title = "独居老人冬季安全走访安排"
    before = {name: _unread(url, name) for name in (ELDER, NEIGHBOUR)}  # other tests post too
    with open_page(viewport=PHONE, screenshot="r_notices_last.png") as (page, log):
        _sign_in(page, url, STAFF)
        page.goto(f"{url}/desk/notices")
        page.get_by_label("社区").select_option(str(site["mine"].id))
        page.get_by_label("发送范围").select_option("group")
        page.get_by_label("人群（范围为特定人群时）").select_option("elderly_alone")
        page.get_by_label("标题").fill(title)
        page.get_by_label("内容").fill("社区将于本周逐户上门，请保持电话畅通。")
        page.get_by_role("button", name="发布通知").click()
        page.wait_for_selector(".flash-success")
        assert title in page.locator("#posted").inner_text()
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("desk_notices_posted.png")), full_page=True)
        _sign_out(page)

        _sign_in(page, url, ELDER)
        page.goto(f"{url}/r/notices")
        assert page.locator("#unread").get_attribute("data-unread") == str(before[ELDER] + 1)
        assert title in page.locator("#notices").inner_text()
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("r_notices_unread.png")), full_page=True)
        page.get_by_role("link", name=title).click()
        page.wait_for_selector("article h1")
        page.goto(f"{url}/r/notices")
        assert page.locator("#unread").get_attribute("data-unread") == str(before[ELDER])
        _sign_out(page)

        _sign_in(page, url, NEIGHBOUR)
        page.goto(f"{url}/r/notices")
        assert title not in page.locator("main").inner_text()
        assert page.locator("#unread").get_attribute("data-unread") == str(before[NEIGHBOUR])
        _clean(log)


def test_bad_posts_are_told_what_to_fix(site: dict) -> None:
    url, mine, theirs = site["url"], site["mine"], site["theirs"]
    client, token = _client(url, STAFF)
    try:
        base = {"csrf_token": token, "title": "停水通知", "body": "明日停水"}
        wrong_estate = client.post(
            "/desk/notices",
            data=base | {"community_id": mine.id, "scope": "estate", "estate_id": "999999"},
            headers=HTML,
        )
        assert wrong_estate.status_code == 422 and "is not an estate of" in wrong_estate.text
        outside = client.post(
            "/desk/notices",
            data=base | {"community_id": theirs.id, "scope": "community"},
            headers=HTML,
        )
        assert outside.status_code == 403 and "outside your area" in outside.text
        group = client.post(
            "/desk/notices",
            data=base | {"community_id": mine.id, "scope": "group", "target_group": "cats"},
            headers=HTML,
        )
        assert group.status_code == 422 and "is not a group of residents" in group.text
    finally:
        client.close()
    client, token = _client(url, ELDER)
    try:
        posted = client.post(
            "/r/wishes", data={"csrf_token": token, "title": "楼道装声控灯"}, headers=HTML
        )
        assert posted.status_code == 303
        wish_id = re.search(r"wish-(\d+)", posted.headers["location"]).group(1)
        staff_only = client.post(
            f"/desk/wishes/{wish_id}/decide",
            data={"csrf_token": token, "action": "adopt"},
            headers=HTML,
        )
        assert staff_only.status_code == 403
    finally:
        client.close()
    client, token = _client(url, STAFF)
    try:
        for data, message in (
            ({"action": "decline"}, "needs a reason"),
            ({"action": "task", "owner": "物业"}, "needs an owner"),
            ({"action": "task", "owner": "物业", "due_date": "明天"}, "is not a date"),
            ({"action": "fly"}, "is unknown"),
        ):
            refused = client.post(
                f"/desk/wishes/{wish_id}/decide", data=data | {"csrf_token": token}, headers=HTML
            )
            assert refused.status_code == 422 and message in refused.text, data
        done = client.post(
            f"/desk/wishes/{wish_id}/decide",
            data={
                "csrf_token": token,
                "action": "task",
                "owner": "物业服务中心",
                "due_date": "2199-01-31",
            },
            headers=HTML,
        )
        assert done.status_code == 303
        twice = client.post(
            f"/desk/wishes/{wish_id}/decide",
            data={"csrf_token": token, "action": "adopt"},
            headers=HTML,
        )
        assert twice.status_code == 409 and "reload the page" in twice.text
    finally:
        client.close()
    unknown = httpx.get(
        f"{url}/api/resident/nearby", params={"lon": 0, "lat": 0, "kind": "bar"}, timeout=60
    )
    assert unknown.status_code == 422 and "is not a service kind" in unknown.text


def test_an_account_not_linked_reads_the_notices_of_its_area(
    site: dict, engine: Engine, database_url: str
) -> None:
    url, estate = site["url"], site["estate"]
    with engine.connect() as conn:
        code = conn.execute(
            text("SELECT code FROM admin_area WHERE id = :e"), {"e": estate.id}
        ).scalar_one()
    done = run_wangge(
        database_url,
        *("users", "add", "svc_res_area", "--role", "resident", "--area", code),
        "--password-stdin",
        input_text=PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr
    client, token = _client(url, STAFF)
    try:
        posted = client.post(
            "/desk/notices",
            data={
                "csrf_token": token,
                "community_id": site["mine"].id,
                "scope": "estate",
                "estate_id": str(estate.id),
                "title": "小区电梯年检通知",
                "body": "周六上午电梯暂停使用。",
            },
            headers=HTML,
        )
        assert posted.status_code == 303, posted.text[:300]
    finally:
        client.close()
    for name in ("svc_res_area", NEIGHBOUR):
        client, _ = _client(url, name)
        try:
            page = client.get("/r/notices", headers=HTML)
            assert page.status_code == 200 and "小区电梯年检通知" in page.text, name
        finally:
            client.close()


def _typhoon_alert(engine: Engine, name: str) -> tuple[int, int]:
    """A typhoon in force over the home of resident ``name`` and an alert sent to that
    household only, stored as the alerts service stores them: (hazard id, alert id)."""
    with engine.begin() as conn:
        household = conn.execute(
            text(
                "SELECT r.household_id FROM resident_account ra JOIN app_user u "
                "ON u.id = ra.user_id JOIN resident r ON r.id = ra.resident_id "
                "WHERE u.username = :u"
            ),
            {"u": name},
        ).scalar_one()
        hazard = conn.execute(
            text(
                "INSERT INTO hazard_area (kind, name, severity, valid_from, geom) SELECT "
                "'typhoon', '台风海燕（测试）', 3, :t, ST_Multi(ST_Buffer(ST_Centroid(b.geom), "
                "0.002)) FROM building b JOIN household h ON h.building_id = b.id "
                "WHERE h.id = :h RETURNING id"
            ),
            {"t": clock.now() - timedelta(hours=1), "h": household},
        ).scalar_one()
        alert = conn.execute(
            text(
                "INSERT INTO alert (hazard_id, message, target_group) VALUES (:h, "
                "'台风预警：请留在室内，必要时前往最近的避难场所。', 'all') RETURNING id"
            ),
            {"h": hazard},
        ).scalar_one()
        conn.execute(
            text("INSERT INTO alert_recipient (alert_id, household_id) VALUES (:a, :h)"),
            {"a": alert, "h": household},
        )
    return int(hazard), int(alert)


def _drop_hazard(engine: Engine, hazard: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM hazard_area WHERE id = :h"), {"h": hazard})


def test_hazard_alerts_come_first(site: dict, engine: Engine) -> None:
    url = site["url"]
    hazard, _ = _typhoon_alert(engine, ELDER)
    try:
        mine = _notices_text(url, ELDER)
        assert "台风预警：台风海燕（测试）" in mine
        assert 'id="alerts"' in mine and "请留在室内" in mine
        if 'id="notices"' in mine:  # the alerts above the notices
            assert mine.index('id="alerts"') < mine.index('id="notices"')
        assert "台风海燕" not in _notices_text(url, NEIGHBOUR)  # sent to the elder's home only
    finally:
        _drop_hazard(engine, hazard)


def test_a_hazard_alert_counts_as_unread_until_seen(site: dict, engine: Engine) -> None:
    url = site["url"]
    before = {name: _unread(url, name) for name in (ELDER, NEIGHBOUR)}  # other tests post too
    hazard, alert = _typhoon_alert(engine, ELDER)
    item = re.compile(rf'<li class="item alert( unread)?" data-id="{alert}" data-unread="(\d)"')
    try:
        assert _unread(url, ELDER) == before[ELDER] + 1
        assert item.search(_notices_text(url, ELDER)).groups() == (" unread", "1")
        assert _unread(url, ELDER) == before[ELDER] + 1  # shown twice, still not seen
        # the neighbour was not sent it: not counted, and they cannot mark it seen
        assert _unread(url, NEIGHBOUR) == before[NEIGHBOUR]
        client, token = _client(url, NEIGHBOUR)
        try:
            refused = client.post(
                f"/r/alerts/{alert}/seen", data={"csrf_token": token}, headers=HTML
            )
            assert refused.status_code == 404, refused.text[:300]
        finally:
            client.close()
        # 知道了: seen, so no longer counted, and the alert stays on the page
        client, token = _client(url, ELDER)
        try:
            seen = client.post(f"/r/alerts/{alert}/seen", data={"csrf_token": token}, headers=HTML)
            assert seen.status_code == 303 and seen.headers["location"] == "/r/notices"
        finally:
            client.close()
        assert _unread(url, ELDER) == before[ELDER]
        page = _notices_text(url, ELDER)
        assert item.search(page).groups() == (None, "0") and f"/r/alerts/{alert}/seen" not in page
    finally:
        _drop_hazard(engine, hazard)


@pytest.mark.browser
def test_a_resident_presses_got_it_under_a_hazard_alert(site: dict, engine: Engine) -> None:
    url = site["url"]
    hazard, alert = _typhoon_alert(engine, ELDER)
    try:
        with open_page(viewport=PHONE, screenshot="r_notices_alert_seen.png") as (page, log):
            _sign_in(page, url, ELDER)
            page.goto(f"{url}/r/notices")
            before = int(page.locator("#unread").get_attribute("data-unread"))
            item = page.locator(f'#alerts li[data-id="{alert}"]')
            assert item.get_attribute("data-unread") == "1" and "（未读）" in item.inner_text()
            assert accessibility_violations(page) == []
            page.screenshot(path=str(artifact_path("r_notices_alert_unread.png")), full_page=True)
            item.get_by_role("button", name="知道了").click()
            page.wait_for_selector(".flash-success")
            assert page.locator("#unread").get_attribute("data-unread") == str(before - 1)
            item = page.locator(f'#alerts li[data-id="{alert}"]')
            assert item.get_attribute("data-unread") == "0" and "台风海燕" in item.inner_text()
            assert item.get_by_role("button", name="知道了").count() == 0
            _clean(log)
    finally:
        _drop_hazard(engine, hazard)


def _notices_text(url: str, name: str) -> str:
    client, _ = _client(url, name)
    try:
        return client.get("/r/notices", headers=HTML).text
    finally:
        client.close()


def _direct_seconds(network: Any, start: tuple[float, float], goal: tuple[float, float]) -> float:
    """The walk from ``goal`` back to ``start``: one Dijkstra from the facility."""
    node_s, _ = node_walk_seconds(network, [goal[0]], [goal[1]])
    snap = network.snap([start[0]], [start[1]])
    e, speed = int(snap.edge[0]), network.walk_speed_mps
    best = min(
        node_s[network.edge_source[e]] + snap.to_source_m[0] / speed,
        node_s[network.edge_target[e]] + snap.to_target_m[0] / speed,
    )
    return float(best + snap.offset_m[0] / speed)


@pytest.mark.browser
def test_nearby_services_come_by_walking_time(site: dict, engine: Engine) -> None:
    url = site["url"]
    with engine.begin() as conn:
        home = conn.execute(
            text(
                "SELECT ST_X(ST_PointOnSurface(b.geom)) AS lon, "
                "ST_Y(ST_PointOnSurface(b.geom)) AS lat "
                "FROM household h "
                "JOIN building b ON b.id = h.building_id WHERE b.estate_id = :e "
                "ORDER BY h.id LIMIT 1"
            ),
            {"e": site["estate"].id},
        ).one()
        conn.execute(
            text(
                "INSERT INTO facility (id, kind, name, opening_hours, phone, geom) VALUES "
                "(990001, 'pharmacy', '百姓大药房（测试）', '08:00-22:00', '020-12345678', "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ON CONFLICT (id) DO NOTHING"
            ),
            {"x": home.lon + 0.002, "y": home.lat + 0.001},
        )
    with open_page(viewport=PHONE, screenshot="r_nearby_last.png") as (page, log):
        page.context.grant_permissions(["geolocation"], origin=url)
        page.context.set_geolocation({"longitude": home.lon, "latitude": home.lat})
        page.goto(f"{url}/r/nearby")
        page.get_by_role("button", name="使用我的位置").click()
        page.wait_for_selector("#service-list li")
        items = page.locator("#service-list li")
        listed = [
            (int(i.get_attribute("data-id")), float(i.get_attribute("data-seconds")))
            for i in items.all()
        ]
        assert 990001 in {i for i, _ in listed}
        # the map shows them all around the position
        page.wait_for_function(
            "(n) => document.getElementById('nearby-map').dataset.markers === String(n)",
            arg=len(listed),
        )
        pharmacy = page.locator('#service-list li[data-id="990001"]').inner_text()
        assert "药店" in pharmacy and "08:00-22:00" in pharmacy and "020-12345678" in pharmacy
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("r_nearby.png")), full_page=True)
        _clean(log)
    seconds = [s for _, s in listed]
    assert seconds == sorted(seconds)
    # the same times as walks computed on the network directly, from each facility back
    network = load_walking(engine, get_settings()).network
    with engine.connect() as conn:
        where = dict(
            (r.id, (r.lon, r.lat))
            for r in conn.execute(
                text(
                    "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM facility "
                    "WHERE id = ANY(:i)"
                ),
                {"i": [i for i, _ in listed]},
            )
        )
    direct = [_direct_seconds(network, (home.lon, home.lat), where[i]) for i, _ in listed]
    np.testing.assert_allclose(seconds, direct, atol=0.15)
    # the JSON twin answers the same, nearest first
    answer = httpx.get(
        f"{url}/api/resident/nearby", params={"lon": home.lon, "lat": home.lat}, timeout=60
    ).json()
    assert [s["id"] for s in answer["services"]] == [i for i, _ in listed]
    bad = httpx.get(f"{url}/api/resident/nearby", params={"lon": home.lon}, timeout=60)
    assert bad.status_code == 422 and "lat is missing" in bad.text
