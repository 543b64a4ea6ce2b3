"""The grid worker's field app (网格员, ``/worker``) in real Chromium, on a 390×844 phone and a
1280×800 tablet: the worker signs in at /login, takes a task, checks in and resolves it with
a photo; goes offline, records two visits and a resolution, comes back online and finds
each filed exactly once; marks the check-on list of a typhoon person by person.  No request
leaves 127.0.0.1, no console error, no serious accessibility violation; screenshots go to
test-artifacts/.

(The app replaced the folium tablet page at the same address: its tests are these.)
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, text

from shapely import box
from shapely.geometry import mapping

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from tests.browser import (
    RequestLog,
    accessibility_violations,
    artifact_path,
    is_local,
    open_page,
    require_chromium,
)
from tests.conftest import LiveServer, run_wangge
from tests.signin import HTML, PASSWORD, bearer, give_password, sign_in_page, signed_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

PHONE = (390, 844)
TABLET = (1280, 800)
#: True once the app has sent everything it queued.
SYNCED = "() => { const w = window.wanggeWorker; return w && !w.flushing && w.pending === 0; }"
#: True once the offline package is kept (encrypted) on the device.
KEPT = """async () => {
    const w = window.wanggeWorker;
    if (!w || !w.db || !w.bundle) return false;
    const box = await new Promise(r => {
        const q = w.db.transaction('data').objectStore('data').get('bundle');
        q.onsuccess = () => r(q.result); q.onerror = () => r(null);
    });
    return !!box;
}"""

#: Whether a package is stored on the device at all (expired or not).
STORED = """async () => {
    const w = window.wanggeWorker;
    return await new Promise(r => {
        const q = w.db.transaction('data').objectStore('data').get('bundle');
        q.onsuccess = () => r(!!q.result); q.onerror = () => r(false);
    });
}"""
#: Seal a package that expired an hour ago under the device's key (as the app keeps one).
EXPIRE = """async () => {
    const w = window.wanggeWorker;
    const get = (s, k) => new Promise(r => {
        const q = w.db.transaction(s).objectStore(s).get(k); q.onsuccess = () => r(q.result); });
    const key = await get('keys', 'device');
    const old = {tasks: [{id: 1, category_name: 'x', priority: 1, description: 'x', lon: 0,
                          lat: 0, actions: []}],
                 expires_at: new Date(Date.now() - 3600e3).toISOString()};
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = await crypto.subtle.encrypt({name: 'AES-GCM', iv}, key,
                                             new TextEncoder().encode(JSON.stringify(old)));
    await new Promise(r => {
        const q = w.db.transaction('data', 'readwrite').objectStore('data')
            .put({iv, data}, 'bundle');
        q.onsuccess = r; });
}"""


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def field(engine: Engine, live_server: LiveServer, database_url: str) -> dict:
    """The sample district, the worker of its first grid, a point in it and fresh tasks."""
    require_chromium()
    load_layers(engine, generate_district(3000, 23, progress=False), replace=True, progress=False)
    with engine.connect() as conn:
        a = conn.execute(
            text(
                "SELECT g.id, g.code, w.id AS worker, u.username FROM grid g "
                "JOIN grid_assignment ga ON ga.grid_id = g.id AND ga.role = 'primary' "
                "JOIN grid_worker w ON w.id = ga.worker_id JOIN app_user u ON u.id = w.user_id "
                "WHERE g.valid_to IS NULL ORDER BY g.code LIMIT 1"
            )
        ).one()
        other = conn.execute(  # someone on duty the desk can give a case to
            text(
                "SELECT min(w.id) FROM grid_worker w JOIN grid_assignment ga "
                "ON ga.worker_id = w.id JOIN grid g ON g.id = ga.grid_id "
                "WHERE w.on_duty AND w.id <> :w AND g.valid_to IS NULL"
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
    admin = {"Authorization": f"Bearer {issue_token(engine, 'worker_app_admin', 'admin')}"}

    def dispatched(description: str, category: str = "10101") -> int:
        r = httpx.post(
            f"{url}/api/incidents",
            json={
                "category_code": category,
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
        "admin": admin,
        "username": a.username,
        "grid": a.code,
        "worker": a.worker,
        "point": (float(point[0]), float(point[1])),
        "other_worker": other,
        # 消防栓损坏: its 反馈 needs a photo and a check-in on site besides the note
        "phone_task": dispatched("单元门口消防栓漏水（手机测试）", "10103"),
        "offline_task": dispatched("楼道井盖松动（离线测试）"),
        "taken_task": dispatched("路口井盖破损（改派测试）"),
        "dispatched": dispatched,  # a further task, for a test that needs one still open
    }


def _case(field: dict, task: int) -> dict:
    r = httpx.get(f"{field['url']}/api/incidents/{task}", headers=bearer(field["token"]))
    assert r.status_code == 200, r.text
    return r.json()


def _case_as_admin(field: dict, task: int) -> dict:
    r = httpx.get(f"{field['url']}/api/incidents/{task}", headers=field["admin"])
    assert r.status_code == 200, r.text
    return r.json()


def _clean(log: RequestLog, page: Page, expected: str | None = None) -> None:
    """No request off this machine, no error but ``expected`` (Chromium logs a refused fetch)."""
    assert not [u for u in log.requests if not is_local(u)], log.requests
    assert not log.page_errors, log.page_errors
    errors = [e for e in log.console_errors if expected is None or expected not in e]
    assert not errors, log.console_errors
    assert not log.local_failures(), log.local_failures()
    bad = accessibility_violations(page)
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)


def test_the_app_is_installable_and_its_service_worker_covers_the_app(field: dict) -> None:
    url = field["url"]
    manifest = httpx.get(f"{url}/worker/manifest.webmanifest").json()
    assert manifest["name"] == "网格员" and manifest["start_url"] == "/worker"
    assert manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        assert httpx.get(url + icon["src"]).status_code == 200
    sw = httpx.get(f"{url}/worker-sw.js")
    assert sw.status_code == 200 and "javascript" in sw.headers["content-type"]
    assert sw.headers["service-worker-allowed"] == "/worker"
    assert "/static/app/worker-icon.svg" in sw.text and "__SHELL__" not in sw.text
    with signed_in(url, field["username"]) as worker:
        page = worker.get("/worker", headers=HTML)
        assert page.status_code == 200 and "网格员" in page.text
        policy = page.headers["content-security-policy"]
        assert "worker-src 'self'" in policy and "unsafe-inline" not in policy
        assert 'rel="manifest"' in page.text and field["token"] not in page.text


def test_the_page_brings_its_first_screen_compressed_and_no_cache_keeps_it(field: dict) -> None:
    task = field["dispatched"]("楼道路灯不亮（首屏测试）")
    with signed_in(field["url"], field["username"]) as worker:
        page = worker.get("/worker", headers={**HTML, "Accept-Encoding": "gzip"})
        assert page.status_code == 200
        assert page.headers["content-encoding"] == "gzip"
        assert page.headers["cache-control"] == "no-store"
        # nothing else to fetch before the tasks show: the stylesheet and the scripts are in
        assert '<link rel="stylesheet"' not in page.text and "<script src" not in page.text
        nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)
        inline = re.findall(r"<(?:script|style)( [^>]*)?>", page.text)
        assert len(inline) == 4
        assert all(f'nonce="{nonce}"' in a for a in inline if "application/json" not in a)
        # the tasks it carries are what the worker's API answers them, nothing more
        carried = re.search(
            r'<script type="application/json" id="w-first-tasks">(.*?)</script>', page.text, re.S
        )
        assert carried is not None
        assert '"description":' in carried.group(1)
        tasks = json.loads(carried.group(1))
        assert tasks == worker.get("/api/worker/tasks").json()
        assert task in [t["id"] for t in tasks["tasks"]]


def test_phone_takes_a_task_checks_in_and_resolves_it_with_a_photo(field: dict) -> None:
    task = field["phone_task"]
    with open_page(
        screenshot="worker_app_phone.png",
        viewport=PHONE,
        geolocation=field["point"],
        permissions=("geolocation",),
        service_workers="allow",
        timezone_id="America/New_York",  # a phone set to another zone: times stay Beijing's
    ) as (page, log):
        page.goto(f"{field['url']}/worker")  # not signed in: to the sign-in page and back
        assert page.url.startswith(f"{field['url']}/login?next=")
        sign_in_page(page, field["url"], field["username"], then="/worker")
        card = page.locator(f".w-card[data-task='{task}']")
        card.wait_for()
        assert "消防栓损坏" in card.inner_text() and "步行约" in card.inner_text()
        due = httpx.get(f"{field['url']}/api/incidents/{task}", headers=field["admin"])
        d = datetime.fromisoformat(due.json()["deadline"]).astimezone(ZoneInfo("Asia/Shanghai"))
        assert f"期限 {d.month}月{d.day}日 {d:%H:%M}" in card.inner_text()
        # the tabs at the bottom, big enough to touch, nothing wider than the phone
        sizes = page.evaluate(
            """() => [document.documentElement.scrollWidth,
                      ...[...document.querySelectorAll('.w-tabs button, .w-card button')]
                         .filter(b => b.offsetParent).map(b => b.getBoundingClientRect().height)]"""
        )
        assert sizes[0] <= PHONE[0] and min(sizes[1:]) >= 44
        card.get_by_role("button", name="接单").click()
        card = page.locator(f".w-card[data-task='{task}']")
        card.get_by_role("button", name="签到").click()
        page.wait_for_function(
            """(id) => {
                const r = document.querySelector(`.w-card[data-task='${id}'] .w-result`);
                return r && r.dataset.accepted !== undefined;
            }""",
            arg=task,
        )
        assert "签到成功" in card.locator(".w-result").inner_text()
        card.get_by_role("button", name="反馈").click()
        # the proof the category asks for, shown before submit: what is still missing
        assert "本类工单反馈需要：说明、现场照片、现场签到" in card.inner_text()
        assert "✗ 现场照片（必需）" in card.inner_text() and "✓ 现场签到" in card.inner_text()
        card.get_by_label("处置说明").fill("已更换消防栓阀门，现场已清理")
        card.get_by_label("现场照片", exact=False).set_input_files(
            files=[{"name": "scene.png", "mimeType": "image/png", "buffer": _png()}]
        )
        assert "✓ 现场照片" in card.inner_text()
        card.get_by_role("button", name="提交反馈").click()
        card.wait_for(state="detached")
        page.wait_for_function(SYNCED)
        # the map: full width above the tab bar, the grid and its buildings drawn without tiles
        page.get_by_role("button", name="地图").click()
        page.wait_for_selector("path.w-building-shape")
        box = page.locator("#w-map").bounding_box()
        tabs = page.locator(".w-tabs").bounding_box()
        assert box["width"] == PHONE[0] and box["height"] > 500
        assert box["y"] + box["height"] <= tabs["y"] + 1
        # households by building: age groups and flags, names masked, when last visited
        page.get_by_role("button", name="住户").click()
        household = page.locator(".w-household").first
        household.wait_for()
        text_ = household.inner_text()
        assert "单元" in text_ and ("走访" in text_) and ("成年" in text_ or "老年" in text_)
        assert "*" in page.inner_text("#w-household-list")  # names and phones masked
        bad = accessibility_violations(page)
        assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
        page.screenshot(path=str(artifact_path("worker_app_phone_households.png")))
        page.get_by_role("button", name="任务").click()
        _clean(log, page)
        # a package past its expires_at is dropped, not shown (here made expired on purpose)
        page.wait_for_function(KEPT)
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        page.evaluate(EXPIRE)
        page.context.set_offline(True)
        page.reload()
        page.wait_for_function("() => window.wanggeWorker && window.wanggeWorker.key")
        page.wait_for_function("() => document.querySelector('#w-task-status').textContent")
        page.wait_for_function(f"async () => !(await ({STORED})())")  # deleted on the device
        assert page.locator(".w-card[data-task]").count() == 0
        assert "离线" in page.inner_text("#w-banner")
        page.context.set_offline(False)
    case = _case(field, task)
    assert case["state"] == "resolved"
    assert [h["action"] for h in case["history"]].count("resolve") == 1
    assert case["history"][-1]["note"] == "已更换消防栓阀门，现场已清理"
    assert len(case["photos"]) == 1


def test_tablet_works_offline_and_files_everything_once_back_online(
    field: dict, engine: Engine
) -> None:
    task = field["offline_task"]
    with open_page(
        screenshot="worker_app_tablet_offline.png",
        viewport=TABLET,
        service_workers="allow",
    ) as (page, log):
        # the device stamps what is done offline with its own clock: the tablet's clock
        # stands where the server's does (WANGGE_NOW may move the server's, never Chromium's)
        page.clock.set_system_time(clock.now())
        sign_in_page(page, field["url"], field["username"], then="/worker")
        page.wait_for_selector(f".w-card[data-task='{task}']")
        page.wait_for_selector("path.w-building-shape")  # the tablet shows the map beside
        page.wait_for_function(KEPT)
        # the service worker runs the page (it kept the shell and the page for offline use)
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        # the page it keeps holds the app but not the tasks the page came with (kept
        # only encrypted, in the offline package)
        kept_page = page.evaluate(
            "async () => { const r = await caches.match('/worker'); return r && r.text(); }"
        )
        assert kept_page and "w-tabs" in kept_page and "wanggeDevice" in kept_page
        assert 'id="w-first-tasks"' not in kept_page and '"description":' not in kept_page
        # what is kept on the device is encrypted with a key the page cannot export
        kept = page.evaluate(
            """async () => {
                const w = window.wanggeWorker;
                const get = (s, k) => new Promise(r => {
                    const q = w.db.transaction(s).objectStore(s).get(k);
                    q.onsuccess = () => r(q.result); });
                const box = await get('data', 'bundle'), key = await get('keys', 'device');
                return {plain: new TextDecoder().decode(box.data).includes('households'),
                        extractable: key.extractable, algorithm: key.algorithm.name};
            }"""
        )
        assert kept == {"plain": False, "extractable": False, "algorithm": "AES-GCM"}
        page.wait_for_selector(f".w-card[data-task='{field['taken_task']}']")
        page.context.set_offline(True)
        page.evaluate("() => window.dispatchEvent(new Event('offline'))")
        # meanwhile the desk gives one of the tasks to another worker
        r = httpx.post(
            f"{field['url']}/api/incidents/{field['taken_task']}/actions",
            json={"action": "reassign", "assignee_id": field["other_worker"], "note": "改派"},
            headers=field["admin"],
        )
        assert r.status_code == 200, r.text
        page.get_by_role("button", name="住户").click()
        households = page.locator(".w-household")
        households.first.wait_for()
        visited = [int(households.nth(i).get_attribute("data-household")) for i in (0, 1)]
        for i, household in enumerate(visited):
            card = page.locator(f".w-household[data-household='{household}']")
            card.get_by_role("button", name="走访").click()
            card.get_by_label("走访记录").fill(f"离线走访 {i + 1}：老人身体良好")
            card.get_by_role("button", name="保存走访").click()
        page.get_by_role("button", name="任务").click()
        card = page.locator(f".w-card[data-task='{task}']")
        card.get_by_role("button", name="接单").click()
        card = page.locator(f".w-card[data-task='{task}']")
        card.get_by_role("button", name="反馈").click()
        card.get_by_label("处置说明").fill("离线处置：已加固井盖")
        card.get_by_role("button", name="提交反馈").click()
        taken = page.locator(f".w-card[data-task='{field['taken_task']}']")
        taken.get_by_role("button", name="接单").click()
        banner = page.locator("#w-banner")
        page.wait_for_function("() => window.wanggeWorker.pending === 5")
        assert "离线" in banner.inner_text() and "待同步 5 条" in banner.inner_text()
        # opened again with no network: the page from the service worker, the package and
        # the queue from the device (the resolved task stays out of the list)
        page.reload()
        page.wait_for_selector(f".w-card[data-task='{field['taken_task']}']")
        page.wait_for_function("() => window.wanggeWorker.pending === 5")
        assert page.locator(f".w-card[data-task='{task}']").count() == 0
        page.wait_for_selector("path.w-building-shape")
        assert "离线" in banner.inner_text() and "待同步 5 条" in banner.inner_text()
        page.screenshot(path=str(artifact_path("worker_app_tablet_queued.png")))
        page.context.set_offline(False)
        page.evaluate("() => window.dispatchEvent(new Event('online'))")
        page.wait_for_function(SYNCED)
        page.wait_for_function("() => !document.querySelector('#w-banner').textContent")
        # the reassigned task: shown as a conflict, not retried, not overwritten
        conflict = page.locator(".w-conflict")
        assert conflict.count() == 1 and "此工单已改派给" in conflict.inner_text()
        page.screenshot(path=str(artifact_path("worker_app_tablet_conflict.png")))
        # the notices say so too, and the two visits count in my patrol coverage
        page.get_by_role("button", name="通知").click()
        page.wait_for_selector("#w-notice-list li")
        assert "改派" in page.inner_text("#w-notice-list")
        page.get_by_role("button", name="覆盖").click()
        grid = page.locator(f".w-cov[data-grid='{field['grid']}']")
        grid.wait_for()
        facts = grid.evaluate(
            "(g) => Object.fromEntries([...g.querySelectorAll('dt')].map("
            "dt => [dt.textContent, dt.nextElementSibling.textContent]))"
        )
        assert int(facts["已走访住户"]) >= 2 and int(facts["住户"]) > 0
        page.screenshot(path=str(artifact_path("worker_app_tablet_coverage.png")))
        assert "离线数据包已加密保存在本机" in page.inner_text("#w-bundle-status")
        bad = accessibility_violations(page)  # the tablet's screens, before signing out
        assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
        # sign-out wipes the package, the outbox, the key and the caches
        page.get_by_role("button", name="退出").click()
        page.wait_for_url(lambda at: "/login" in at)
        left = page.evaluate(
            """async () => [(await indexedDB.databases()).map(d => d.name),
                            await caches.keys()]"""
        )
        assert left == [[], []]
        # the one refusal the browser logs is the reassigned task's 409, shown as a card
        _clean(log, page, expected="status of 409 (Conflict)")
    case = _case(field, task)
    actions = [h["action"] for h in case["history"]]
    assert case["state"] == "resolved" and actions.count("resolve") == 1
    assert actions.count("start") == 1
    with signed_in(field["url"], field["username"]) as worker:
        answer = worker.get("/api/worker/households", params={"grid": field["grid"]}).json()
    by_id = {h["id"]: h for h in answer["households"]}
    assert [by_id[h]["visits_recent"] for h in visited] == [1, 1]
    assert all(by_id[h]["last_visited"] for h in visited)
    taken = _case_as_admin(field, field["taken_task"])
    assert [h["action"] for h in taken["history"]].count("start") == 0


#: What the app's IndexedDB holds: the number of entries of each store.
STORES = """async () => {
    const w = window.wanggeWorker;
    if (!w.db) return null;
    const count = s => new Promise(r => {
        const q = w.db.transaction(s).objectStore(s).count(); q.onsuccess = () => r(q.result); });
    return {keys: await count('keys'), data: await count('data'), outbox: await count('outbox')};
}"""


def test_without_webcrypto_the_app_works_says_so_and_keeps_nothing_personal(
    field: dict,
) -> None:
    """Opened by a plain-HTTP address other than this machine's (a phone on the LAN): no
    secure context, so no WebCrypto, no service worker and no caches."""
    host = "field.wangge.test"
    url = f"http://{host}:{urlsplit(field['url']).port}"
    task = field["dispatched"]("小区门口路灯不亮（非安全连接测试）")
    with open_page(screenshot="worker_app_insecure.png", viewport=PHONE, insecure_host=host) as (
        page,
        log,
    ):
        sign_in_page(page, url, field["username"], then="/worker")
        card = page.locator(f".w-card[data-task='{task}']")
        card.wait_for()
        assert page.evaluate(
            "() => [window.isSecureContext, !!(window.crypto && crypto.subtle),"
            " 'serviceWorker' in navigator, 'caches' in window]"
        ) == [False, False, False, False]
        banner = page.locator("#w-banner")
        assert "不支持加密存储" in banner.inner_text()
        assert "离线数据不保存在本机" in banner.inner_text()
        # the offline package serves while the page is open, and is not kept
        page.wait_for_function("() => window.wanggeWorker.bundle !== null")
        status = page.locator("#w-bundle-status").text_content()
        assert "离线数据包只在本页打开期间可用" in status
        page.get_by_role("button", name="住户").click()
        page.locator(".w-household").first.wait_for()
        page.get_by_role("button", name="任务").click()
        # an action made offline waits in the page, and the banner says what that means
        page.context.set_offline(True)
        page.evaluate("() => window.dispatchEvent(new Event('offline'))")
        card.get_by_role("button", name="接单").click()
        page.wait_for_function("() => window.wanggeWorker.pending === 1")
        assert "待同步 1 条" in banner.inner_text()
        assert "关闭或刷新本页前请先联网同步" in banner.inner_text()
        assert page.evaluate(STORES) == {"keys": 0, "data": 0, "outbox": 0}
        page.context.set_offline(False)
        page.evaluate("() => window.dispatchEvent(new Event('online'))")
        page.wait_for_function(SYNCED)
        assert "待同步" not in banner.inner_text()
        assert page.evaluate(STORES) == {"keys": 0, "data": 0, "outbox": 0}
        assert not log.page_errors, log.page_errors
        assert not log.console_errors, log.console_errors
        assert not log.external, log.external
        bad = accessibility_violations(page)
        assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
    assert _case(field, task)["state"] == "in_progress"


def test_the_old_token_link_is_refused_and_only_workers_open_the_app(
    field: dict, engine: Engine
) -> None:
    url = field["url"]
    old = httpx.get(f"{url}/worker", params={"token": field["token"]}, headers=HTML)
    assert old.status_code == 400 and "/login" in old.text and "w-tabs" not in old.text
    assert field["token"] not in old.text
    away = httpx.get(f"{url}/worker", headers=HTML)
    assert away.status_code == 303 and away.headers["location"] == "/login?next=%2Fworker"
    resident = issue_token(engine, "worker_app_resident", "resident")
    refused = httpx.get(f"{url}/worker", headers={**HTML, **bearer(resident)})
    assert refused.status_code == 403 and "w-tabs" not in refused.text


def test_phone_marks_the_typhoon_check_on_list_person_by_person_seen_live(
    field: dict, engine: Engine
) -> None:
    with engine.connect() as conn:
        w, s, e, n = conn.execute(
            text(
                "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM grid "
                "WHERE code = :g AND valid_to IS NULL"
            ),
            {"g": field["grid"]},
        ).one()
    feature = {
        "type": "Feature",
        "properties": {"name": "台风海葵"},
        "geometry": mapping(box(w - 0.0005, s - 0.0005, e + 0.0005, n + 0.0005)),
    }
    r = httpx.post(
        f"{field['url']}/api/hazards",
        params={"kind": "typhoon", "severity": 3, "name": "台风海葵"},
        json=feature,
        headers=field["admin"],
        timeout=120,
    )
    assert r.status_code == 201, r.text
    marks = ("reached", "not_home", "needs_help")
    with open_page(
        screenshot="worker_app_phone_checkon.png", viewport=PHONE, service_workers="allow"
    ) as (page, log):
        # the command centre's live page, open in another browser of the same machine
        centre = page.context.browser.new_context(viewport={"width": 1280, "height": 800})
        live = centre.new_page()
        give_password(engine, "worker_app_admin")
        sign_in_page(live, field["url"], "worker_app_admin", then="/live")
        row = live.locator(f"#wangge-checkon-progress [data-grid='{field['grid']}']")
        row.wait_for()
        assert "已联系 0 /" in row.inner_text()
        sign_in_page(page, field["url"], field["username"], then="/worker")
        page.get_by_role("button", name="核查").click()
        people = page.locator("#w-checkon-list .w-card")
        people.first.wait_for()
        status = page.inner_text("#w-checkon-status")
        assert "台风海葵" in status and "待核查" in status
        assert people.count() >= len(marks)
        first = people.first.inner_text()
        assert "未核查" in first and "（姓名）" not in first  # named for the grid's worker
        marked = []
        for i, label in enumerate(("已联系", "不在家", "需帮助")):
            person = people.nth(i)
            marked.append(int(person.get_attribute("data-resident")))
            person.get_by_role("button", name=label).click()
            page.wait_for_function(SYNCED)
            person = page.locator(f"#w-checkon-list .w-card[data-resident='{marked[-1]}']")
            person.locator(f"button[data-mark='{marks[i]}'][aria-pressed='true']").wait_for()
        total = people.count()
        assert f"共 {total} 人，待核查 {total - 3} 人" in page.inner_text("#w-checkon-status")
        # each mark reached the live page as it was made
        live.wait_for_function(
            "([row, text]) => document.querySelector(row).textContent.includes(text)",
            arg=[
                f"#wangge-checkon-progress [data-grid='{field['grid']}']",
                f"已联系 1 / {total}，不在家 1，需帮助 1",
            ],
        )
        live.screenshot(path=str(artifact_path("worker_app_live_progress.png")))
        centre.close()
        # the way to the safe shelter, around the typhoon, on the map
        routed = page.locator("#w-checkon-list .w-card:has(button[data-do='shelter-route'])")
        routed.first.get_by_role("button", name="避难路线").click()
        page.wait_for_selector("path.w-route")
        assert page.locator("#w-map").bounding_box()["width"] == PHONE[0]
        page.get_by_role("button", name="核查").click()
        _clean(log, page)
    # the command centre sees the progress of the grid's list
    live = httpx.get(f"{field['url']}/api/live", headers=field["admin"], timeout=60).json()
    progress = {p["grid"]: p for p in live["checkon_progress"]}[field["grid"]]
    assert (progress["reached"], progress["not_home"], progress["needs_help"]) == (1, 1, 1)
    assert progress["total"] == people_total(field)


def people_total(field: dict) -> int:
    """How many people the worker's check-on list holds (as the API tells the worker)."""
    with signed_in(field["url"], field["username"]) as worker:
        answer = worker.get("/api/worker/checkon", params={"grid": field["grid"]}).json()
    return len(answer["people"])
