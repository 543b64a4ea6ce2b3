"""Open311 reads are public, as GeoReport intends: a stranger's client, no api_key.

A real GeoReport v2 client from PyPI (``georeport``, the way a civic-tech site reads a
city's requests) lists the services and definitions and reads the requests of the
running server without a key; what it gets is only what a stranger may see: category,
status, dates, the community and an H3 cell's centre, never the description, address,
photo or contact; disputes and the care of vulnerable residents not at all.
"""

from __future__ import annotations

import httpx
import pytest
from georeport import GeoReport

import h3

from gis.settings import get_settings
from tests.api.test_open311 import _errors, _file, hotline  # noqa: F401  (the fixture)

SECRETS = ("井盖缺失，夜间有人险些踩空", "文二路", "小明", "13912345678", "wang@example.cn")


@pytest.fixture(scope="module")
def filed(hotline: dict) -> dict:  # noqa: F811
    """A public request (井盖) and a dispute (邻里纠纷) filed by the hotline."""
    public = _file(hotline)
    assert public.status_code == 201, public.text
    dispute = _file(hotline, service_code="30101", description="楼上邻居王某天天吵架")
    assert dispute.status_code == 201, dispute.text
    return {
        "public": public.json()[0]["service_request_id"],
        "dispute": dispute.json()[0]["service_request_id"],
    }


def test_a_georeport_client_reads_services_and_requests_without_a_key(
    hotline: dict,  # noqa: F811
    filed: dict,
) -> None:
    client = GeoReport(hotline["url"])  # no api_key, as a stranger
    services = client.get_service_list()
    assert "10101" in {s["service_code"] for s in services}
    assert client.get_service_definition("10101")["service_code"] == "10101"

    listed = client.get_service_requests(status="open")
    ids = [r["service_request_id"] for r in listed]
    assert filed["public"] in ids and filed["dispute"] not in ids
    one = client.get_service_request(filed["public"])
    assert one["service_code"] == "10101" and one["service_name"] == "井盖破损缺失"
    assert one["status"] == "open" and one["status_notes"] in ("已受理", "已立案")
    assert one["requested_datetime"] and one["updated_datetime"]
    assert one["agency_responsible"] == hotline["grid"].community
    assert one["description"] == "" and one["address"] == "" and one["media_url"] == ""

    # the place is the centre of the H3 cell, not the reported point
    resolution = get_settings().open311_public_h3_resolution
    cell = h3.latlng_to_cell(hotline["lat"], hotline["lon"], resolution)
    assert one["h3_cell"] == cell and one["h3_resolution"] == resolution
    lat, lon = h3.cell_to_latlng(cell)
    assert (one["lat"], one["long"]) == (round(lat, 7), round(lon, 7))
    assert (one["lat"], one["long"]) != (round(hotline["lat"], 7), round(hotline["lon"], 7))

    as_xml = GeoReport(hotline["url"], output_format="xml")
    xml_one = as_xml.get_service_request(filed["public"])
    assert xml_one["service_request_id"] == filed["public"]
    assert xml_one["h3_cell"] == cell
    by_ids = as_xml.get_service_requests(service_request_id=f"{filed['public']},{filed['dispute']}")
    assert by_ids["service_request_id"] == filed["public"]  # one request: xmltodict's dict


def test_a_stranger_sees_nothing_private(hotline: dict, filed: dict) -> None:  # noqa: F811
    url = hotline["url"]
    listing = httpx.get(f"{url}/requests.json")
    assert listing.status_code == 200
    for text_ in (listing.text, httpx.get(f"{url}/requests/{filed['public']}.xml").text):
        assert not any(secret in text_ for secret in SECRETS)
        assert "邻居" not in text_ and "30101" not in text_
    _errors(httpx.get(f"{url}/requests/{filed['dispute']}.json"), 404)
    assert httpx.get(f"{url}/requests.json", params={"service_code": "30101"}).json() == []
    # staff with a key still see the case in full
    full = httpx.get(f"{url}/requests/{filed['public']}.json", params={"api_key": hotline["key"]})
    assert "井盖缺失" in full.json()[0]["description"]


def test_public_listings_are_paged_and_bad_pages_are_400(
    hotline: dict,  # noqa: F811
    filed: dict,
) -> None:
    url = f"{hotline['url']}/requests.json"
    everything = [r["service_request_id"] for r in httpx.get(url).json()]
    assert len(everything) >= 2
    first = httpx.get(url, params={"page_size": 1}).json()
    second = httpx.get(url, params={"page_size": 1, "page": 2}).json()
    assert [r["service_request_id"] for r in first + second] == everything[:2]
    beyond = httpx.get(url, params={"page_size": 1000, "page": 2})
    assert beyond.status_code == 200 and beyond.json() == []
    assert "page_size" in _errors(httpx.get(url, params={"page_size": 0}), 400)
    assert "page_size" in _errors(httpx.get(url, params={"page_size": 1001}), 400)
    assert "page" in _errors(httpx.get(url, params={"page": "x"}), 400)
    assert "page" in _errors(httpx.get(url, params={"page": "99999999999"}), 400)
    assert _errors(httpx.get(url, params={"status": "done"}), 400)
    assert _errors(httpx.get(url, params={"service_request_id": "1,x"}), 400)
