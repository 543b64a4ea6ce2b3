"""The residents' phone pages driven as a resident would, in Debian Chromium at 390×844:
report a problem with a photo and the phone's granted position (anonymous, a call-back
phone), follow it by its tracking code while staff move it through the API to closed,
then rate it; find the nearest shelter during a typhoon.  No request outside 127.0.0.1,
no console error, no serious accessibility violation; screenshots in test-artifacts/.
Outside-in: a wrong tracking code is a Chinese 404 page, the timeline names no staff
user and shows no staff note, a double tap files once (Idempotency-Key)."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import Engine, text

import geopandas as gpd
import shapely
from shapely.geometry import Point, box, mapping

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis import crypt
from gis.coords import local_metric_crs_for
from gis.store import incident_store
from tests.browser import accessibility_violations, artifact_path, open_page
from tests.conftest import LiveServer

ADMIN = "rpage_admin"
TYPHOON = "台风海鸥（页面测试）"
HTML = {"Accept": "text/html"}
#: A staff note that must never reach the resident's timeline.
INTERNAL = "内部备注：请王五核实"
PHONE = (390, 844)


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 17, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


@pytest.fixture(scope="module")
def staff(district: dict, engine: Engine) -> dict:
    return {"Authorization": f"Bearer {issue_token(engine, ADMIN, 'admin')}"}


def _inside(layers: dict) -> tuple[float, float]:
    b = layers["building"].geometry.iloc[7].representative_point()
    return b.x, b.y


def _photo(folder: Path) -> Path:
    """A 'camera' picture: a 2400×1800 JPEG (the page resizes it before upload)."""
    path = folder / "camera.jpg"
    Image.new("RGB", (2400, 1800), (120, 160, 90)).save(path, "JPEG", quality=90)
    return path


def _clean(log) -> None:
    assert log.external == [], log.external
    assert log.console_errors == [], log.console_errors
    assert log.page_errors == [], log.page_errors


def _act(url: str, staff: dict, incident_id: int, action: str, **body: object) -> None:
    r = httpx.post(
        f"{url}/api/incidents/{incident_id}/actions",
        json={"action": action, "note": f"{INTERNAL}（{action}）", **body},
        headers=staff,
        timeout=60,
    )
    assert r.status_code == 200, r.text


@pytest.mark.browser
def test_report_follow_to_closed_and_rate(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict, tmp_path: Path
) -> None:
    lon, lat = _inside(district)
    url = live_server.url
    with open_page(
        f"{url}/r/report",
        screenshot="resident_report_filed.png",
        viewport=PHONE,
        geolocation=(lon, lat),
        permissions=("geolocation",),
    ) as (page, log):
        page.wait_for_function("() => document.getElementById('r-map').dataset.placed === '1'")
        assert "已定位" in page.locator("#r-geo-status").inner_text()
        assert abs(float(page.input_value("#r-lon")) - lon) < 1e-5
        assert accessibility_violations(page) == []
        page.select_option("#r-category", index=1)
        page.fill("#r-description", "楼下井盖松动，晚上容易绊倒")
        page.set_input_files("#r-photos", str(_photo(tmp_path)))
        page.fill("#r-phone", "13800138000")
        page.screenshot(path=str(artifact_path("resident_report_form.png")), full_page=True)
        with page.expect_request(
            lambda r: r.method == "POST" and r.url.endswith("/r/report")
        ) as posted:
            page.dblclick("#r-submit")  # a double tap
        assert len(posted.value.headers.get("idempotency-key", "")) >= 16
        page.wait_for_url("**/r/track/**")
        code = page.locator("#r-code").inner_text().strip()
        assert page.locator("#r-state").inner_text() == "等待受理"
        assert accessibility_violations(page) == []
        _clean(log)

    with engine.connect() as conn:
        incident_id = incident_store.id_by_token(conn, code)
        assert incident_id is not None
        row = conn.execute(
            text(
                "SELECT i.reporter_id, i.source, c.phone, "
                "(SELECT count(*) FROM incident_photo p WHERE p.incident_id = i.id) AS photos "
                "FROM incident i LEFT JOIN incident_contact c ON c.incident_id = i.id "
                "WHERE i.id = :id"
            ),
            {"id": incident_id},
        ).one()
    assert row.reporter_id is None and row.source == "resident_app"
    assert crypt.open_value("phone", row.phone) == "13800138000" and row.photos == 1
    with engine.connect() as conn:
        same = conn.execute(
            text("SELECT count(*) FROM incident WHERE description = '楼下井盖松动，晚上容易绊倒'")
        ).scalar()
    assert same == 1  # filed once
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT data FROM incident_photo WHERE incident_id = :id"), {"id": incident_id}
        ).scalar_one()
    with Image.open(io.BytesIO(stored)) as sent:  # resized on the phone before upload
        assert max(sent.size) == 1600 and sent.format == "JPEG"

    for action in ("register", "dispatch", "start", "resolve", "verify", "close"):
        _act(url, staff, incident_id, action)

    with open_page(
        f"{url}/r/track/{code}", screenshot="resident_track_closed.png", viewport=PHONE
    ) as (page, log):
        timeline = page.locator("#r-timeline").inner_text()
        for step in ("受理", "已派给网格员", "处理中", "已办结"):
            assert step in timeline
        body = page.locator("body").inner_text()
        assert ADMIN not in body and "内部备注" not in body and "王五" not in body
        assert accessibility_violations(page) == []
        page.check("input[name=rating][value='5']")
        page.fill("#r-comment", "处理得很快，谢谢")
        page.click("#r-rate button[type=submit]")
        page.wait_for_url("**rated=1")
        assert "感谢您的评价" in page.locator("main").inner_text()
        assert page.locator("#r-state").inner_text() == "已办结（已评价）"
        assert page.locator("#r-rate").count() == 0
        _clean(log)
    with engine.connect() as conn:
        rating = conn.execute(
            text("SELECT state, rating FROM incident WHERE id = :id"), {"id": incident_id}
        ).one()
    assert tuple(rating) == ("rated", 5)


def test_a_double_tap_files_once_and_anonymous_needs_a_phone(
    district: dict, live_server: LiveServer, engine: Engine
) -> None:
    lon, lat = _inside(district)
    with engine.connect() as conn:
        code = conn.execute(text("SELECT code FROM incident_category ORDER BY code")).scalar()
    form = {"category_code": code, "description": "路灯不亮", "lon": lon, "lat": lat}
    key = {"Idempotency-Key": "double-tap-1", **HTML}
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        refused = client.post("/r/report", data=form, headers=HTML)
        assert refused.status_code == 422
        assert "电话" in refused.text and "text/html" in refused.headers["content-type"]
        # what the form lacks or has too much of, said in Chinese, by the field's label
        empty = client.post("/r/report", data={"description": "灯" * 3000}, headers=HTML)
        assert empty.status_code == 422
        assert "问题类别：必填" in empty.text and "问题描述：最多 2000 个字" in empty.text
        assert "Field required" not in empty.text and "body." not in empty.text
        phoned = form | {"contact_phone": "021-12345678"}
        first = client.post("/r/report", data=phoned, headers=key)
        again = client.post("/r/report", data=phoned, headers=key)
        for _ in range(20):  # the first may still be storing its answer: 409, Retry-After
            if again.status_code != 409:
                break
            assert again.headers["retry-after"]
            time.sleep(float(again.headers["retry-after"]))
            again = client.post("/r/report", data=phoned, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.text == first.text and 'id="r-track-link"' in first.text
    with engine.connect() as conn:
        filed = conn.execute(
            text("SELECT count(*) FROM incident WHERE description = '路灯不亮'")
        ).scalar()
    assert filed == 1


def test_a_signed_in_resident_follows_their_own_requests(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict
) -> None:
    lon, lat = _inside(district)
    with engine.connect() as conn:
        code = conn.execute(text("SELECT code FROM incident_category ORDER BY code")).scalar()
    me = {"Authorization": f"Bearer {issue_token(engine, 'rpage_resident', 'resident')}"}
    other = {"Authorization": f"Bearer {issue_token(engine, 'rpage_other', 'resident')}"}
    form = {"category_code": code, "description": "楼道灯坏了", "lon": lon, "lat": lat}
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        far = client.post("/r/report", data=form | {"lon": 2.35, "lat": 48.85}, headers=me | HTML)
        assert far.status_code == 422 and "不在本辖区的网格内" in far.text
        filed = client.post("/r/report", data=form, headers=me | HTML)  # no phone: signed in
        assert filed.status_code == 201, filed.text
        listed = client.get("/r/requests", headers=me | HTML)
        assert listed.status_code == 200 and "等待受理" in listed.text
        ids = re.findall(r'href="/r/requests/(\d+)"', listed.text)
        assert len(ids) == 1
        _act(live_server.url, staff, int(ids[0]), "register")
        mine = client.get(f"/r/requests/{ids[0]}", headers=me | HTML)
        assert mine.status_code == 200 and "受理" in mine.text
        assert ADMIN not in mine.text and "内部备注" not in mine.text
        theirs = client.get(f"/r/requests/{ids[0]}", headers=other | HTML)
        assert theirs.status_code == 404 and "未找到该事项，或它不是您反映的" in theirs.text
        assert "that you may see" not in theirs.text  # the service's words are staff's
        early = client.post(f"/r/requests/{ids[0]}/rate", data={"rating": 4}, headers=me | HTML)
        assert early.status_code == 422 and "还没有办结" in early.text


def test_a_wrong_tracking_code_is_a_chinese_404_page(live_server: LiveServer) -> None:
    asked = httpx.get(f"{live_server.url}/r/track", params={"code": " abc "}, headers=HTML)
    assert asked.status_code == 303 and asked.headers["location"] == "/r/track/abc"
    assert "查询码" in httpx.get(f"{live_server.url}/r/track", headers=HTML).text
    for code in ("00000000-0000-0000-0000-000000000000", "nonsense"):
        r = httpx.get(f"{live_server.url}/r/track/{code}", headers=HTML)
        assert r.status_code == 404
        assert "text/html" in r.headers["content-type"]
        assert "未找到" in r.text and "查询码" in r.text


def test_shelter_outside_the_area_is_a_chinese_page_not_json(
    district: dict, live_server: LiveServer
) -> None:
    r = httpx.get(f"{live_server.url}/r/shelter", params={"lon": 2.35, "lat": 48.85}, headers=HTML)
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert "不在本辖区内" in r.text


def _square(centre: Point, half_m: float) -> shapely.Polygon:
    crs = local_metric_crs_for(centre)
    there = gpd.GeoSeries([centre], crs=4326).to_crs(crs).iloc[0]
    return gpd.GeoSeries([box(*there.buffer(half_m).bounds)], crs=crs).to_crs(4326).iloc[0]


@contextmanager
def _typhoon(url: str, staff: dict, area: shapely.Geometry, engine: Engine) -> Iterator[dict]:
    feature = {"type": "Feature", "properties": {"name": TYPHOON}, "geometry": mapping(area)}
    r = httpx.post(
        f"{url}/api/hazards",
        params={"kind": "typhoon", "severity": 3},
        json=feature,
        headers=staff,
        timeout=60,
    )
    assert r.status_code == 201, r.text
    try:
        yield r.json()
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM hazard_area WHERE id = :id"), {"id": r.json()["id"]})


@pytest.mark.browser
def test_find_a_shelter_during_a_typhoon(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict
) -> None:
    lon, lat = _inside(district)
    url = live_server.url
    before = httpx.get(
        f"{url}/api/resident/nearest-shelter", params={"lon": lon, "lat": lat}
    ).json()
    area = _square(Point(before["shelter"]["lon"], before["shelter"]["lat"]), 60.0)
    with (
        _typhoon(url, staff, area, engine),
        open_page(
            f"{url}/r/shelter",
            screenshot="resident_shelter_typhoon_page.png",
            viewport=PHONE,
            geolocation=(lon, lat),
            permissions=("geolocation",),
        ) as (page, log),
    ):
        page.wait_for_url("**/r/shelter?lon=*")
        page.wait_for_load_state("load")
        assert log.page_errors == [] and log.console_errors == [], log
        page.wait_for_selector("path.wangge-route")
        warning = page.locator("#r-warning")
        assert warning.is_visible()
        assert warning.inner_text().startswith(f"台风预警生效中：{TYPHOON}")
        assert page.locator("path.wangge-hazard").count() == 1
        name = page.locator("#r-shelter-name").inner_text()
        assert not name.startswith(before["shelter"]["name"] + "（")
        assert "步行约" in page.locator("#r-message").inner_text()
        assert accessibility_violations(page) == []
        _clean(log)


@pytest.mark.browser
def test_a_refused_position_is_said_in_chinese(district: dict, live_server: LiveServer) -> None:
    with open_page(
        f"{live_server.url}/r/shelter", screenshot="resident_shelter_refused.png", viewport=PHONE
    ) as (page, log):
        page.wait_for_selector("#r-geo-refused:not([hidden])", timeout=30_000)
        assert "无法获取您的位置" in page.locator("#r-geo-refused").inner_text()
        assert accessibility_violations(page) == []
        _clean(log)
