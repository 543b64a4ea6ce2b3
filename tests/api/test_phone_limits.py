"""Anonymous reports are bounded per call-back phone, besides per address (限流).

A server allowing 3 anonymous reports an hour per phone number (and plenty per address):
the fourth with the same number is a 429 with Retry-After and files nothing, another
number from the same address still files, and the number appears in no log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, text

from etl.load import load_layers
from etl.sample import generate_district
from gis.settings import get_settings
from tests.conftest import LiveServer

HTML = {"Accept": "text/html"}
PHONE = "13700137000"


@pytest.fixture(scope="module")
def server(database_url: str, engine: Engine) -> Iterator[tuple[LiveServer, dict]]:
    layers = generate_district(3000, 17, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    settings = get_settings().model_copy(
        update={"rate_reports_per_phone_per_hour": 3, "rate_public_per_min": 1000}
    )
    with LiveServer(database_url, settings) as live:
        yield live, layers


def _filed(engine: Engine, description: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM incident WHERE description = :d"), {"d": description}
            ).scalar_one()
        )


def test_the_same_phone_over_its_share_is_refused_and_another_phone_files(
    server: tuple[LiveServer, dict], engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    live, layers = server
    b = layers["building"].geometry.iloc[5].representative_point()
    with engine.connect() as conn:
        code = conn.execute(text("SELECT code FROM incident_category ORDER BY code")).scalar()
    form = {"category_code": code, "description": "同一号码连续报事", "lon": b.x, "lat": b.y}
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=live.url, timeout=60) as client:
        # the number written three ways is one number
        numbers = (PHONE, "137 0013 7000", PHONE)
        codes = [
            client.post("/r/report", data=form | {"contact_phone": p}, headers=HTML).status_code
            for p in numbers
        ]
        assert codes == [201, 201, 201]
        refused = client.post("/r/report", data=form | {"contact_phone": PHONE}, headers=HTML)
        assert refused.status_code == 429
        assert 60 <= int(refused.headers["Retry-After"]) <= 1200  # a report back in 20 min
        assert "这个电话号码报事太频繁" in refused.text and PHONE not in refused.text
        as_json = client.post("/r/report", data=form | {"contact_phone": PHONE})
        assert as_json.status_code == 429 and "Retry-After" in as_json.headers
        assert _filed(engine, "同一号码连续报事") == 3
        other = client.post(
            "/r/report", data=form | {"contact_phone": "021-87654321"}, headers=HTML
        )
        assert other.status_code == 201  # same address, another number: its own share
    assert _filed(engine, "同一号码连续报事") == 4
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PHONE not in logged and "137 0013 7000" not in logged
