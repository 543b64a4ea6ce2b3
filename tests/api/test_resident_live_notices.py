"""Notices and hazard alerts reach a resident's open page live (社区通知, 预警通知).

Two residents, linked to the register, live in two communities.  Staff post a notice to
the first community and another to the second, and the command centre alerts the
households under a small typhoon drawn over the first resident's home: each resident's
stream (``/api/resident/stream``, the one their ``/r/notices`` listens to) brings, within
10 s, what that page would show on reload — the alert and their community's notice with
the new unread count — and nothing meant for the other.  The events carry no other
resident's data.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from sqlalchemy import Engine, text

from shapely import Point
from shapely.geometry import mapping

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from tests.browser import accessibility_violations, open_page
from tests.conftest import LiveServer, run_wangge
from tests.signin import bearer, give_password, sign_in_page

HTML = {"Accept": "text/html"}
NEAR, FAR = "live_nt_near", "live_nt_far"


@pytest.fixture(scope="module")
def site(engine: Engine, live_server: LiveServer, database_url: str) -> dict:
    """Two residents of two communities far apart, linked to the register; the admin."""
    layers = generate_district(3000, 29, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT ON (g.community_id) g.community_id, r.id AS resident_id, "
                "ST_X(ST_Centroid(b.geom)) AS lon, ST_Y(ST_Centroid(b.geom)) AS lat "
                "FROM resident r JOIN household h ON h.id = r.household_id "
                "JOIN building b ON b.id = h.building_id JOIN grid g ON g.id = h.grid_id "
                "WHERE g.valid_to IS NULL ORDER BY g.community_id, r.id"
            )
        ).all()
    near = rows[0]
    far = max(rows[1:], key=lambda r: (r.lon - near.lon) ** 2 + (r.lat - near.lat) ** 2)
    people = {}
    for name, row in ((NEAR, near), (FAR, far)):
        token = issue_token(engine, name, "resident")
        done = run_wangge(database_url, "users", "link", name, "--resident", str(row.resident_id))
        assert done.returncode == 0, done.stderr
        people[name] = {"headers": bearer(token), "row": row}
    admin = bearer(issue_token(engine, "live_nt_admin", "admin"))
    return {"url": live_server.url, "people": people, "admin": admin}


class Reader(threading.Thread):
    """Reads one resident's stream, keeping its ``notice`` and ``alert`` events."""

    def __init__(self, url: str, headers: dict) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.ready = threading.Event()
        self.got: list[tuple[str, dict, float]] = []
        self.stop = False

    def run(self) -> None:
        with httpx.stream(
            "GET", f"{self.url}/api/resident/stream", headers=self.headers, timeout=30
        ) as r:
            assert r.status_code == 200
            event = None
            for line in r.iter_lines():
                if self.stop:
                    return
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "ready":
                    self.ready.set()
                elif line.startswith("data: ") and event in ("notice", "alert"):
                    self.got.append((event, json.loads(line[6:]), time.monotonic()))

    def wait_for(self, kind: str, key: str, value: object, seconds: float) -> tuple[dict, float]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for event, data, at in list(self.got):
                if event == kind and data.get(key) == value:
                    return data, at
            time.sleep(0.1)
        raise AssertionError(f"no {kind} with {key}={value!r} in {seconds} s: {self.got}")


def _open(site: dict) -> dict[str, Reader]:
    readers = {name: Reader(site["url"], p["headers"]) for name, p in site["people"].items()}
    for reader in readers.values():
        reader.start()
    for name, reader in readers.items():
        assert reader.ready.wait(30), f"the stream of {name} did not open"
    return readers


def _unread(site: dict, name: str) -> int:
    page = httpx.get(
        f"{site['url']}/r/notices", headers=site["people"][name]["headers"] | HTML, timeout=60
    )
    assert page.status_code == 200
    return int(page.text.split('id="unread"', 1)[1].split('data-unread="', 1)[1].split('"')[0])


def _post_notice(site: dict, community_id: int, title: str) -> None:
    posted = httpx.post(
        f"{site['url']}/desk/notices",
        data={
            "community_id": community_id,
            "scope": "community",
            "title": title,
            "body": "请留意。",
        },
        headers=site["admin"] | HTML,
        timeout=60,
    )
    assert posted.status_code == 303, posted.text[:300]


def test_a_notice_reaches_the_open_page_of_its_community_only(site: dict) -> None:
    near, far = (site["people"][n]["row"] for n in (NEAR, FAR))
    before = _unread(site, NEAR)
    readers = _open(site)
    try:
        started = time.monotonic()
        _post_notice(site, near.community_id, "本社区停水通知（直播）")
        _post_notice(site, far.community_id, "他社区停电通知（直播）")
        got, at = readers[NEAR].wait_for("notice", "title", "本社区停水通知（直播）", 10)
        assert at - started < 10
        assert got["unread"] == before + 1 == _unread(site, NEAR)
        assert set(got) == {"id", "title", "audience", "at", "unread"}
        readers[FAR].wait_for("notice", "title", "他社区停电通知（直播）", 10)
        time.sleep(1)
        assert "他社区停电通知（直播）" not in {d.get("title") for _, d, _ in readers[NEAR].got}
        assert "本社区停水通知（直播）" not in {d.get("title") for _, d, _ in readers[FAR].got}
    finally:
        for reader in readers.values():
            reader.stop = True


def _hazard_over(site: dict, name: str) -> int:
    """A small typhoon drawn over the first resident's home; its id."""
    near = site["people"][NEAR]["row"]
    area = Point(near.lon, near.lat).buffer(0.002)
    feature = {"type": "Feature", "properties": {"name": name}, "geometry": mapping(area)}
    hazard = httpx.post(
        f"{site['url']}/api/hazards",
        params={"coord_type": "wgs84", "kind": "typhoon", "severity": 3},
        json=feature,
        headers=site["admin"],
        timeout=60,
    )
    assert hazard.status_code == 201, hazard.text
    return int(hazard.json()["id"])


def _alert(site: dict, hazard_id: int, message: str) -> None:
    sent = httpx.post(
        f"{site['url']}/api/hazards/{hazard_id}/alerts",
        json={"group": "all", "message": message},
        headers=site["admin"],
        timeout=120,
    )
    assert sent.status_code == 201, sent.text


def test_a_hazard_alert_reaches_the_open_page_of_the_households_alerted_only(
    site: dict,
) -> None:
    hazard_id = _hazard_over(site, "台风直播")
    before = _unread(site, NEAR)
    readers = _open(site)
    try:
        _alert(site, hazard_id, "台风将至，请关好门窗，勿外出。")
        done = time.monotonic()
        got, at = readers[NEAR].wait_for("alert", "message", "台风将至，请关好门窗，勿外出。", 10)
        assert at - done < 10 and got["hazard_name"] == "台风直播" and got["kind_name"]
        keys = {"id", "kind_name", "hazard_name", "severity", "message", "at", "unread"}
        assert set(got) == keys
        assert got["unread"] == before + 1  # not seen yet: counted with the notices
        time.sleep(2)
        assert [e for e, _, _ in readers[FAR].got if e == "alert"] == []
    finally:
        for reader in readers.values():
            reader.stop = True


@pytest.mark.browser
def test_the_notices_page_shows_a_new_notice_without_reload(site: dict, engine: Engine) -> None:
    give_password(engine, NEAR)
    near = site["people"][NEAR]["row"]
    with open_page(screenshot="r_notices_live.png", viewport=(390, 844)) as (page, log):
        sign_in_page(page, site["url"], NEAR, then="/r/notices")
        page.wait_for_function("() => document.getElementById('r-reminders').dataset.listening")
        before = int(page.locator("#unread").get_attribute("data-unread"))
        page.evaluate("window.__same_page = 1")
        _post_notice(site, near.community_id, "楼道灯维修通知（页面）")
        page.wait_for_selector("#notices li.r-new", timeout=15_000)
        assert "楼道灯维修通知（页面）" in page.locator("#notices li.r-new").first.inner_text()
        assert page.locator("#unread").get_attribute("data-unread") == str(before + 1)
        _alert(site, _hazard_over(site, "台风页面"), "台风页面预警：请勿外出。")
        page.wait_for_selector("#alerts li.r-new", timeout=15_000)
        assert "台风页面" in page.locator("#alerts li.r-new").first.inner_text()
        assert page.evaluate(  # the alerts above everything else
            "() => !!(document.getElementById('alerts').compareDocumentPosition("
            "document.getElementById('notices')) & Node.DOCUMENT_POSITION_FOLLOWING)"
        )
        assert page.evaluate("window.__same_page") == 1  # not reloaded
        assert accessibility_violations(page) == []
        assert log.external == [] and log.console_errors == [] and log.page_errors == []
