"""The performance review (考核) over HTTP: numbers equal ``grids.kpi.kpis`` on the same rows,
limited to the caller's area, moved by a case closed through the API, chart and page."""

from __future__ import annotations

import io
import math
import re
from datetime import datetime, timedelta

import httpx
import pandas as pd
import pytest
from PIL import Image
from sqlalchemy import Engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from grids.incidents import SHANGHAI
from grids.kpi import KPI_COLUMNS, kpis
from tests.browser import open_page
from tests.conftest import ARTIFACTS, LiveServer
from tests.signin import HTML, give_password, sign_in_page, signed_in


@pytest.fixture(scope="module")
def review(engine: Engine, live_server: LiveServer) -> dict:
    """The sample district; tokens of a community's staff, its street's staff, a worker of
    one of its grids, a resident and the admin."""
    layers = generate_district(3000, 41, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        staff = conn.execute(
            text(
                "SELECT u.username, u.area_id, a.name, a.parent_id FROM app_user u "
                "JOIN admin_area a ON a.id = u.area_id WHERE u.role = 'community_staff' "
                "ORDER BY u.id LIMIT 1"
            )
        ).one()
        street = conn.execute(
            text("SELECT username FROM app_user WHERE role = 'street_staff' AND area_id = :a"),
            {"a": staff.parent_id},
        ).scalar_one()
        grid = conn.execute(
            text(
                "SELECT g.id, g.code, w.id AS worker_id, u.username FROM grid g "
                "JOIN grid_assignment ga ON ga.grid_id = g.id AND ga.role = 'primary' "
                "JOIN grid_worker w ON w.id = ga.worker_id JOIN app_user u ON u.id = w.user_id "
                "WHERE g.community_id = :c AND g.valid_to IS NULL ORDER BY g.code LIMIT 1"
            ),
            {"c": staff.area_id},
        ).one()
        point = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Buffer(geom::geography,"
                " -60)::geometry) AS p FROM grid WHERE id = :g) s"
            ),
            {"g": grid.id},
        ).one()

    def bearer(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    staff_token = issue_token(engine, staff.username, "community_staff")
    give_password(engine, staff.username)  # the printable page: signed in at /login
    return {
        "url": live_server.url,
        "community_id": staff.area_id,
        "community_name": staff.name,
        "street_id": staff.parent_id,
        "grid": grid,
        "point": (float(point[0]), float(point[1])),
        "staff_key": staff_token,
        "staff_name": staff.username,
        "staff": bearer(staff_token),
        "street": bearer(issue_token(engine, street, "street_staff")),
        "worker": bearer(issue_token(engine, grid.username, "grid_worker")),
        "resident": bearer(issue_token(engine, "resident00001", "resident")),
        "admin": bearer(issue_token(engine, "admin", "admin")),
    }


def _rows_of_community(engine: Engine, community_id: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The incidents of a community's grids and their history, read straight from the tables."""
    with engine.connect() as conn:
        incidents = pd.read_sql(
            text(
                "SELECT i.id, i.reported_at, i.deadline, i.closed_at, i.state, i.rating, "
                "g.code AS grid_code, i.assignee_id, i.category_code, i.source "
                "FROM incident i JOIN grid g ON g.id = i.grid_id WHERE g.community_id = :c"
            ),
            conn,
            params={"c": community_id},
        )
        events = pd.read_sql(
            text(
                "SELECT e.incident_id, e.to_state, e.at FROM incident_event e "
                "JOIN incident i ON i.id = e.incident_id JOIN grid g ON g.id = i.grid_id "
                "WHERE g.community_id = :c"
            ),
            conn,
            params={"c": community_id},
        )
    return incidents, events


def _same(answer: dict, expected: pd.DataFrame, keys: list[str]) -> None:
    """The JSON rows equal the kpis table, key by key and column by column."""
    assert len(answer["rows"]) == len(expected)
    for got, (_, want) in zip(answer["rows"], expected.iterrows(), strict=True):
        for key in keys:
            value = want[key]
            if isinstance(value, pd.Timestamp):
                value = value.date().isoformat()
            assert got[key] == (None if pd.isna(value) else value), key
        for column in KPI_COLUMNS:
            value = float(want[column])
            if math.isnan(value):
                assert got[column] is None, column
            else:
                assert got[column] == pytest.approx(value, rel=1e-9, abs=1e-9), column


def _kpi(review: dict, who: str, **params: str) -> dict:
    r = httpx.get(f"{review['url']}/api/kpi", params=params, headers=review[who])
    assert r.status_code == 200, r.text
    return r.json()


def test_kpis_equal_the_pure_computation_on_the_same_rows(review: dict, engine: Engine) -> None:
    as_of = clock.now().replace(microsecond=0).isoformat()
    incidents, events = _rows_of_community(engine, review["community_id"])
    assert len(incidents) > 20 and incidents["closed_at"].notna().any()

    by_grid = _kpi(review, "staff", by="grid", as_of=as_of)
    _same(by_grid, kpis(incidents, events, by=("grid",), now=as_of), ["grid"])
    assert by_grid["area"] == review["community_name"]
    assert by_grid["labels"]["close_rate"] == "结案率"
    assert all(r["grid_name"].endswith(f"（{r['grid']}）") for r in by_grid["rows"])
    total = kpis(incidents, events, by=(), now=as_of).iloc[0]
    assert by_grid["total"]["due"] == total["due"] and by_grid["total"]["cases"] == len(incidents)

    by_worker = _kpi(review, "staff", by="worker", as_of=as_of)
    _same(by_worker, kpis(incidents, events, by=("worker",), now=as_of), ["worker"])

    monthly = _kpi(review, "staff", by="category", period="month", as_of=as_of)
    expected = kpis(incidents, events, by=("category",), period="month", now=as_of)
    _same(monthly, expected, ["category", "period"])
    assert monthly["rows"][0]["category_name"] and "月" in monthly["rows"][0]["period_name"]

    by_source = _kpi(review, "staff", by="source", period="week", date_by="reported", as_of=as_of)
    expected = kpis(
        incidents, events, by=("source",), period="week", period_by="reported", now=as_of
    )
    _same(by_source, expected, ["source", "period"])


def test_a_window_selects_cases_by_their_due_date(review: dict, engine: Engine) -> None:
    end = clock.now().date() - timedelta(days=1)
    start = end - timedelta(days=29)
    answer = _kpi(review, "staff", by="grid", start=start.isoformat(), end=end.isoformat())
    with engine.connect() as conn:
        count = conn.execute(
            text(
                "SELECT count(*) FROM incident i JOIN grid g ON g.id = i.grid_id "
                "WHERE g.community_id = :c AND LEAST(i.deadline, i.closed_at) >= :s "
                "AND LEAST(i.deadline, i.closed_at) < :e"
            ),
            {
                "c": review["community_id"],
                "s": datetime(start.year, start.month, start.day, tzinfo=SHANGHAI),
                "e": datetime(end.year, end.month, end.day, tzinfo=SHANGHAI) + timedelta(days=1),
            },
        ).scalar_one()
    assert count > 0 and answer["total"]["cases"] == count
    assert sum(r["cases"] for r in answer["rows"]) == count


def test_a_window_without_cases_is_an_empty_review(review: dict) -> None:
    empty = {"by": "grid", "start": "2001-01-01", "end": "2001-01-31"}
    answer = _kpi(review, "staff", **empty)
    assert answer["rows"] == [] and answer["total"]["cases"] == 0
    assert answer["total"]["close_rate"] is None
    chart = httpx.get(f"{review['url']}/api/kpi/chart.png", params=empty, headers=review["staff"])
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    page = httpx.get(f"{review['url']}/kpi", params=empty, headers=review["staff"])
    assert page.status_code == 200 and "2001-01-01 至 2001-01-31" in page.text


def test_closing_a_case_through_the_api_moves_the_kpi(review: dict) -> None:
    url, grid = review["url"], review["grid"]

    def grid_row() -> dict:
        rows = _kpi(review, "staff", by="grid")["rows"]
        return next(r for r in rows if r["grid"] == grid.code)

    before = grid_row()
    lon, lat = review["point"]
    filed = httpx.post(
        f"{url}/api/incidents",
        json={"category_code": "10101", "description": "井盖缺失", "lon": lon, "lat": lat},
        headers=review["staff"],
    )
    assert filed.status_code == 201, filed.text
    case = filed.json()["id"]
    steps = [
        ("staff", "register", {}),
        ("staff", "dispatch", {"assignee_id": grid.worker_id}),
        ("worker", "start", {}),
        ("worker", "resolve", {"note": "已更换井盖"}),
        ("staff", "verify", {}),
        ("staff", "close", {}),
    ]
    for who, action, extra in steps:
        r = httpx.post(
            f"{url}/api/incidents/{case}/actions",
            json={"action": action, **extra},
            headers=review[who],
        )
        assert r.status_code == 200, (action, r.text)
    after = grid_row()
    assert after["cases"] == before["cases"] + 1
    assert after["closed"] == before["closed"] + 1
    assert after["closed_on_time"] == before["closed_on_time"] + 1
    assert after["close_rate"] == pytest.approx(after["closed"] / after["due"])
    assert after["dispatched"] == before["dispatched"] + 1


def test_each_role_reviews_its_own_area(review: dict, engine: Engine) -> None:
    with engine.connect() as conn:
        in_street = conn.execute(
            text(
                "SELECT count(*) FROM incident i JOIN grid g ON g.id = i.grid_id "
                "JOIN admin_area c ON c.id = g.community_id WHERE c.parent_id = :s"
            ),
            {"s": review["street_id"]},
        ).scalar_one()
        assigned = conn.execute(
            text("SELECT count(*) FROM incident WHERE assignee_id = :w"),
            {"w": review["grid"].worker_id},
        ).scalar_one()
        everything = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
    street = _kpi(review, "street", by="community")
    assert street["total"]["cases"] == in_street
    assert len(street["rows"]) > 1 and all(r["community_name"] for r in street["rows"])
    # a grid worker sees only the cases assigned to them, in any breakdown
    mine = _kpi(review, "worker", by="worker")
    assert [r["worker"] for r in mine["rows"]] == [review["grid"].worker_id]
    assert mine["total"]["cases"] == assigned
    assert _kpi(review, "worker", by="grid")["total"]["cases"] == assigned
    assert _kpi(review, "admin", by="source")["total"]["cases"] == everything
    # community staff see only their community's grids
    codes = {r["grid"] for r in _kpi(review, "staff", by="grid")["rows"]}
    with engine.connect() as conn:
        theirs = set(
            conn.execute(
                text("SELECT code FROM grid WHERE community_id = :c"),
                {"c": review["community_id"]},
            ).scalars()
        )
    assert codes <= theirs
    # a resident gets 403, no token 401: never data
    r = httpx.get(f"{review['url']}/api/kpi", headers=review["resident"])
    assert r.status_code == 403 and "rows" not in r.text
    assert httpx.get(f"{review['url']}/api/kpi").status_code == 401
    assert httpx.get(f"{review['url']}/kpi").status_code == 401
    r = httpx.get(f"{review['url']}/api/kpi/chart.png", headers=review["resident"])
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"by": "street"}, "unknown breakdown"),
        ({"by": "grid,grid"}, "twice"),
        ({"period": "year"}, "period"),
        ({"by": "period"}, "needs period"),
        ({"start": "last week"}, "not a date"),
        ({"start": "2026-10-31", "end": "2026-10-01"}, "swap"),
        ({"date_by": "closed"}, "due or reported"),
        ({"end": "9999-12-31"}, "out of range"),
        ({"as_of": "0001-01-01T00:00:00"}, "out of range"),
    ],
)
def test_bad_parameters_are_a_clear_422(review: dict, params: dict, says: str) -> None:
    r = httpx.get(f"{review['url']}/api/kpi", params=params, headers=review["staff"])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert says in r.json()["detail"]


def test_chart_and_printable_page(review: dict, engine: Engine) -> None:
    r = httpx.get(
        f"{review['url']}/api/kpi/chart.png", params={"by": "grid"}, headers=review["staff"]
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    width, height = image.size  # A4 landscape (297 × 210 mm) at 150 dpi
    assert abs(width - 1754) <= 1 and abs(height - 1240) <= 1
    with signed_in(review["url"], review["staff_name"]) as browser:
        page = browser.get("/kpi/print", params={"by": "grid"}, headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<title>网格化管理考核报表</title>" in html and review["community_name"] in html
    assert "@media print" in html and "size: A4 landscape" in html
    assert 'src="data:image/png;base64,' in html
    with engine.connect() as conn:
        names = conn.execute(
            text("SELECT name FROM grid WHERE community_id = :c AND valid_to IS NULL"),
            {"c": review["community_id"]},
        ).scalars()
        for name in names:
            assert name in html
    assert "合计" in html and review["staff_key"] not in html
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "kpi_chart_by_grid.png").write_bytes(r.content)


def test_the_page_prints_on_a4_landscape_in_a_browser(review: dict) -> None:
    with open_page(screenshot="kpi_page.png", viewport=(1280, 900)) as (page, log):
        sign_in_page(page, review["url"], review["staff_name"], then="/kpi/print?by=grid")
        assert page.locator("h1").inner_text() == "网格化管理考核报表"
        assert page.locator("#kpi-table tbody tr").count() >= 2
        assert page.evaluate("document.querySelector('img.chart').naturalWidth") > 1000
        assert page.locator(".tools").is_visible()
        page.emulate_media(media="print")
        assert not page.locator(".tools").is_visible()  # the print button is not printed
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert not log.page_errors and not log.failed
    (ARTIFACTS / "kpi_report.pdf").write_bytes(pdf)
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert boxes, "no page size in the PDF"
    for width, height in boxes:  # A4 landscape: 297 × 210 mm = 842 × 595 pt
        assert abs(float(width) - 841.9) < 2 and abs(float(height) - 595.3) < 2
