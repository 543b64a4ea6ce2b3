"""Open311 GeoReport v2 as a city's 12345 hotline system calls it: real HTTP, real server.

The hotline discovers the services, files requests form-encoded, finds them again by
token and id, lists them by date and status, sees the state change when staff move the
case in Wangge, and gets the spec's error array (never a 500) for bad requests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.coords import wgs84_to_gcj02
from tests.conftest import LiveServer

V2 = "/open311/v2"


@pytest.fixture(scope="module")
def hotline(engine: Engine, live_server: LiveServer) -> dict:
    """The sample district loaded; the hotline's key (a street-staff account), residents'
    keys, a staff bearer token, and a point well inside a grid."""
    layers = generate_district(3000, 31, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        street_user = conn.execute(
            text("SELECT username FROM app_user WHERE role = 'street_staff' ORDER BY id LIMIT 1")
        ).scalar_one()
        grid = conn.execute(
            text(
                "SELECT g.id, g.code, g.name, a.name AS community FROM grid g "
                "JOIN admin_area a ON a.id = g.community_id WHERE g.valid_to IS NULL "
                "ORDER BY g.code LIMIT 1"
            )
        ).one()
        point = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Buffer(geom::geography,"
                " -60)::geometry) AS p FROM grid WHERE id = :g) s"
            ),
            {"g": grid.id},
        ).one()
    key = issue_token(engine, street_user, "street_staff")
    return {
        "url": live_server.url + V2,
        "server": live_server.url,
        "key": key,
        "staff": {"Authorization": f"Bearer {key}"},
        "resident": issue_token(engine, "resident00001", "resident"),
        "resident2": issue_token(engine, "resident00002", "resident"),
        "grid": grid,
        "lon": float(point[0]),
        "lat": float(point[1]),
    }


def _file(h: dict, **fields: object) -> httpx.Response:
    form = {
        "api_key": h["key"],
        "service_code": "10101",
        "lat": h["lat"],
        "long": h["lon"],
        "description": "井盖缺失，夜间有人险些踩空",
        "address_string": "文二路 88 号门口",
        "first_name": "小明",
        "last_name": "王",
        "phone": "13912345678",
        "email": "wang@example.cn",
    }
    form.update(fields)
    form = {k: v for k, v in form.items() if v is not None}
    return httpx.post(f"{h['url']}/requests.json", data={k: str(v) for k, v in form.items()})


def _errors(r: httpx.Response, status: int) -> str:
    """The spec's error array with the given code; its descriptions joined."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body, list) and body
    assert all(e["code"] == status and e["description"] for e in body)
    return " ".join(e["description"] for e in body)


def test_discovery_points_to_the_endpoint(hotline: dict) -> None:
    found = httpx.get(f"{hotline['server']}/open311/discovery.json")
    assert found.status_code == 200
    [endpoint] = found.json()["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert "text/xml" in endpoint["formats"]
    assert httpx.get(f"{endpoint['url']}/services.json").status_code == 200
    xml = ET.fromstring(httpx.get(f"{hotline['server']}/open311/discovery.xml").content)
    assert xml.findtext("endpoints/endpoint/url") == endpoint["url"]


def test_services_are_our_categories(hotline: dict) -> None:
    r = httpx.get(f"{hotline['url']}/services.json")
    assert r.status_code == 200
    services = {s["service_code"]: s for s in r.json()}
    manhole = services["10101"]
    assert manhole["service_name"] == "井盖破损缺失"
    assert manhole["group"] == "公用设施" and manhole["type"] == "realtime"
    assert manhole["metadata"] is False and "24 小时" in manhole["description"]
    assert "20402" in services and services["20402"]["service_name"] == "火情"
    # without the extension, and in XML
    assert httpx.get(f"{hotline['url']}/services").json() == r.json()
    xml = httpx.get(f"{hotline['url']}/services.xml")
    assert xml.headers["content-type"].startswith("text/xml")
    codes = [s.findtext("service_code") for s in ET.fromstring(xml.content).iter("service")]
    assert codes == list(services)
    # one service's definition; an unknown one is a 404 in the spec's form
    one = httpx.get(f"{hotline['url']}/services/10101.json").json()
    assert one == {"service_code": "10101", "attributes": []}
    assert "99999" in _errors(httpx.get(f"{hotline['url']}/services/99999.json"), 404)


def test_hotline_files_finds_and_follows_a_request(hotline: dict, engine: Engine) -> None:
    before = clock.now() - timedelta(minutes=1)
    r = _file(hotline)
    assert r.status_code == 201, r.text
    [answer] = r.json()
    assert set(answer) == {"service_request_id", "token", "service_notice", "account_id"}
    assert answer["account_id"] is None and hotline["grid"].code in answer["service_notice"]
    rid, token = answer["service_request_id"], answer["token"]
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT source, grid_id, state FROM incident WHERE id = :i"), {"i": int(rid)}
        ).one()
    assert stored.source == "hotline_12345" and stored.grid_id == hotline["grid"].id

    # the caller finds its request by token, with no api_key
    by_token = httpx.get(f"{hotline['url']}/tokens/{token}.json")
    assert by_token.status_code == 200
    assert by_token.json() == [{"service_request_id": rid, "token": token}]
    assert _errors(httpx.get(f"{hotline['url']}/tokens/not-a-token.json"), 404)

    # and by id
    got = httpx.get(f"{hotline['url']}/requests/{rid}.json", params={"api_key": hotline["key"]})
    assert got.status_code == 200, got.text
    [req] = got.json()
    assert req["service_request_id"] == rid and req["service_code"] == "10101"
    assert req["status"] == "open" and req["status_notes"].startswith("采集")
    assert req["agency_responsible"] == hotline["grid"].community
    assert req["address"] == "文二路 88 号门口" and req["expected_datetime"] is None
    assert abs(req["lat"] - hotline["lat"]) < 1e-6 and abs(req["long"] - hotline["lon"]) < 1e-6
    assert datetime.fromisoformat(req["requested_datetime"]) >= before
    # no personal data of the caller in any answer
    for secret in ("13912345678", "wang@example.cn", "王小明"):
        assert secret not in got.text

    # listed by date and status
    listing = httpx.get(
        f"{hotline['url']}/requests.json",
        params={"api_key": hotline["key"], "start_date": before.isoformat(), "status": "open"},
    )
    assert rid in [x["service_request_id"] for x in listing.json()]
    closed = httpx.get(
        f"{hotline['url']}/requests.json",
        params={"api_key": hotline["key"], "start_date": before.isoformat(), "status": "closed"},
    )
    assert rid not in [x["service_request_id"] for x in closed.json()]
    earlier = httpx.get(
        f"{hotline['url']}/requests.json",
        params={"api_key": hotline["key"], "end_date": before.isoformat()},
    )
    assert rid not in [x["service_request_id"] for x in earlier.json()]
    assert "13912345678" not in listing.text

    # staff register the case in Wangge's own API: the hotline sees it
    moved = httpx.post(
        f"{hotline['server']}/api/incidents/{rid}/actions",
        json={"action": "register", "note": "已核实，立案"},
        headers=hotline["staff"],
    )
    assert moved.status_code == 200, moved.text
    [req] = httpx.get(
        f"{hotline['url']}/requests/{rid}.json", params={"api_key": hotline["key"]}
    ).json()
    assert req["status"] == "open" and req["status_notes"] == "立案：已核实，立案"
    updated = datetime.fromisoformat(req["updated_datetime"])
    assert updated >= datetime.fromisoformat(req["requested_datetime"])
    assert updated >= clock.now() - timedelta(minutes=5)  # the step, not the report


def test_a_rejected_request_is_closed(hotline: dict) -> None:
    rid = _file(hotline, service_code="20501", description="车辆乱停").json()[0][
        "service_request_id"
    ]
    r = httpx.post(
        f"{hotline['server']}/api/incidents/{rid}/actions",
        json={"action": "reject", "note": "现场无此情况"},
        headers=hotline["staff"],
    )
    assert r.status_code == 200, r.text
    listing = httpx.get(
        f"{hotline['url']}/requests.json",
        params={"api_key": hotline["key"], "service_request_id": rid},
    ).json()
    assert [(x["service_request_id"], x["status"]) for x in listing] == [(rid, "closed")]
    assert listing[0]["status_notes"].startswith("不予立案")


def test_json_body_xml_answer_and_gcj02_both_ways(hotline: dict) -> None:
    glon, glat = wgs84_to_gcj02(hotline["lon"], hotline["lat"])
    r = httpx.post(
        f"{hotline['url']}/requests.xml",
        json={
            "api_key": hotline["key"],
            "service_code": "10102",
            "lat": glat,
            "long": glon,
            "coord_type": "gcj02",
            "description": "路灯不亮",
        },
    )
    assert r.status_code == 201, r.text
    top = ET.fromstring(r.content)
    assert top.tag == "service_requests"
    rid = top.findtext("request/service_request_id")
    assert rid and top.findtext("request/token")
    [wgs] = httpx.get(
        f"{hotline['url']}/requests/{rid}.json", params={"api_key": hotline["key"]}
    ).json()
    assert abs(wgs["lat"] - hotline["lat"]) < 1e-5 and abs(wgs["long"] - hotline["lon"]) < 1e-5
    [gcj] = httpx.get(
        f"{hotline['url']}/requests/{rid}.json",
        params={"api_key": hotline["key"], "coord_type": "gcj02"},
    ).json()
    assert abs(gcj["lat"] - glat) < 1e-5 and abs(gcj["long"] - glon) < 1e-5


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"service_code": "99999"}, 400, "not a service"),
        ({"service_code": None}, 400, "service_code is required"),
        ({"api_key": None}, 403, "api_key is required"),
        ({"api_key": "forged-key"}, 403, "unknown or expired"),
        ({"lat": 39.909, "long": 116.397}, 400, "outside the service area"),  # Beijing
        ({"lat": 120.15, "long": 30.28}, 400, "swapped"),
        ({"lat": None}, 400, "lat is required"),
        ({"long": "east"}, 400, "not a number"),
        ({"coord_type": "mars"}, 400, "coord"),
    ],
)
def test_bad_requests_get_the_spec_error_array(
    hotline: dict, fields: dict, status: int, says: str
) -> None:
    before = httpx.get(f"{hotline['url']}/requests.json", params={"api_key": hotline["key"]}).json()
    r = _file(hotline, **fields)
    assert says in _errors(r, status)
    after = httpx.get(f"{hotline['url']}/requests.json", params={"api_key": hotline["key"]}).json()
    assert len(after) == len(before)  # nothing was filed


def _requests(h: dict) -> list:
    return httpx.get(f"{h['url']}/requests.json", params={"api_key": h["key"]}).json()


@pytest.mark.parametrize("field", ["description", "address_string", "last_name", "phone", "email"])
def test_a_nul_in_a_request_field_is_a_400_naming_it_and_nothing_is_filed(
    hotline: dict, field: str
) -> None:
    before = _requests(hotline)
    says = _errors(_file(hotline, **{field: "文二路\x00 88 号"}), 400)
    assert field in says and "NUL" in says
    assert len(_requests(hotline)) == len(before)


def test_a_lone_surrogate_in_a_json_request_is_a_400_naming_the_field(hotline: dict) -> None:
    before = _requests(hotline)
    fields = (
        f'"api_key": "{hotline["key"]}", "service_code": "10101", '
        f'"lat": {hotline["lat"]}, "long": {hotline["lon"]}'
    )
    r = httpx.post(
        f"{hotline['url']}/requests.json",
        content=("{" + fields + ', "description": "\\ud800 x"}').encode(),  # JSON's escape
        headers={"content-type": "application/json"},
    )
    says = _errors(r, 400)
    assert "description" in says and "surrogate" in says
    assert len(_requests(hotline)) == len(before)


def test_digits_that_are_no_ascii_number_are_no_request_id(hotline: dict) -> None:
    key = {"api_key": hotline["key"]}
    for other in ("²", "١٢", "9" * 5000):
        assert _errors(httpx.get(f"{hotline['url']}/requests/{other}.json", params=key), 404)
        url = f"{hotline['url']}/requests.json"
        assert _errors(httpx.get(url, params={**key, "service_request_id": other}), 400)


def test_filing_needs_a_key_a_bad_key_is_403_and_bad_filters_are_400(hotline: dict) -> None:
    assert "api_key" in _errors(_file(hotline, api_key=None), 403)
    forged = {"api_key": "forged-key"}
    assert _errors(httpx.get(f"{hotline['url']}/requests.json", params=forged), 403)
    assert _errors(httpx.get(f"{hotline['url']}/requests/1.json", params=forged), 403)
    key = {"api_key": hotline["key"]}
    url = f"{hotline['url']}/requests.json"
    assert "w3" in _errors(httpx.get(url, params={**key, "start_date": "yesterday"}), 400)
    assert "open or closed" in _errors(httpx.get(url, params={**key, "status": "done"}), 400)
    assert _errors(httpx.get(url, params={**key, "service_request_id": "1,x"}), 400)
    assert _errors(httpx.get(url, params={**key, "service_code": "00000"}), 400)
    assert _errors(httpx.get(f"{hotline['url']}/requests/999999999.json", params=key), 404)
    huge = "9" * 30
    assert _errors(httpx.get(f"{hotline['url']}/requests/{huge}.json", params=key), 404)
    assert _errors(httpx.get(url, params={**key, "service_request_id": huge}), 400)
    early = {**key, "start_date": "0001-01-01T00:00:00"}
    assert "out of range" in _errors(httpx.get(url, params=early), 400)
    assert _errors(httpx.get(f"{hotline['url']}/services.csv"), 404)
    bad_xml = httpx.get(f"{hotline['url']}/requests.xml", params=forged)
    assert bad_xml.status_code == 403
    assert ET.fromstring(bad_xml.content).findtext("error/code") == "403"


def test_a_resident_sees_only_their_own_requests(hotline: dict, engine: Engine) -> None:
    url = hotline["url"]
    mine = _file(hotline, api_key=hotline["resident"], description="楼下路灯坏了")
    assert mine.status_code == 201, mine.text
    rid = mine.json()[0]["service_request_id"]
    theirs = _file(hotline)  # filed by the hotline
    other_id = theirs.json()[0]["service_request_id"]

    own = {"api_key": hotline["resident"]}
    assert httpx.get(f"{hotline['url']}/requests/{rid}.json", params=own).status_code == 200
    r = httpx.get(f"{hotline['url']}/requests/{other_id}.json", params=own)
    assert "井盖" not in r.text
    _errors(r, 404)
    answer = httpx.get(f"{url}/requests.json", params=own).json()
    listing = [x["service_request_id"] for x in answer]
    assert rid in listing and other_id not in listing
    with engine.connect() as conn:
        reporters = set(
            conn.execute(
                text(
                    "SELECT u.username FROM incident i JOIN app_user u ON u.id = i.reporter_id "
                    "WHERE i.id = ANY(:ids)"
                ),
                {"ids": [int(i) for i in listing]},
            ).scalars()
        )
    assert reporters == {"resident00001"}
    by_ids = httpx.get(
        f"{hotline['url']}/requests.json",
        params={**own, "service_request_id": f"{rid},{other_id}"},
    ).json()
    assert [x["service_request_id"] for x in by_ids] == [rid]
    # another resident sees neither
    other = {"api_key": hotline["resident2"]}
    _errors(httpx.get(f"{hotline['url']}/requests/{rid}.json", params=other), 404)
    seen = [x["service_request_id"] for x in httpx.get(f"{url}/requests.json", params=other).json()]
    assert rid not in seen and other_id not in seen
