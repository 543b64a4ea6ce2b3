"""Where coordinates are accepted: the imported boundaries and a margin, else the configured box.

As an office meets it: before any boundary is imported the configured China-wide box
applies (a register in Hangzhou comes in, one in Paris does not); once its boundaries
are in, a place elsewhere in China is refused too, through the command line (a register,
the 12345 hotline) and over HTTP (a report), every such row told in one line with the
count and the boundaries it was measured against.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
from shapely import box

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from tests.conftest import LiveServer, empty_database, run_wangge

# a community near 三墩, Hangzhou
W, S, E, N = 120.08, 30.31, 120.09, 30.32
#: 20 km east of it: in China, far outside its boundaries (and their 5 km margin)
FAR_LON, FAR_LAT = 120.30, 30.315


def _run(database_url: str, *args: str) -> tuple[int, str]:
    done = run_wangge(database_url, *args)
    return done.returncode, " ".join((done.stderr + done.stdout).split())


def _facilities(path: Path, points: list[tuple[float, float]]) -> Path:
    path.write_text(
        "名称,类型,经度,纬度\n"
        + "".join(f"诊所{i},诊所,{x},{y}\n" for i, (x, y) in enumerate(points)),
        encoding="utf-8",
    )
    return path


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _boundaries(tmp_path: Path, database_url: str) -> None:
    areas = tmp_path / "areas.geojson"
    gpd.GeoDataFrame(
        {
            "adcode": ["330106", "330106109", "330106109001"],
            "name": ["西湖区", "三墩镇", "测试社区"],
            "level": ["区", "镇", "社区"],
        },
        geometry=[
            box(W - 0.02, S - 0.02, E + 0.02, N + 0.02),
            box(W - 0.01, S - 0.01, E + 0.01, N + 0.01),
            box(W, S, E, N),
        ],
        crs=4326,
    ).to_file(areas, driver="GeoJSON")
    code, out = _run(database_url, "import", "areas", str(areas))
    assert code == 0, out


def test_without_boundaries_the_configured_box_applies(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    empty_database(engine)
    paris = [(2.33 + i / 1000, 48.85) for i in range(5)]
    code, out = _run(
        database_url, "import", "facilities", str(_facilities(tmp_path / "巴黎.csv", paris))
    )
    assert code != 0
    assert "巴黎.csv, 5 rows (2, 3, 4, 5, 6)" in out
    assert (
        "outside the service area (WANGGE_SERVICE_AREA_BOUNDS, as no boundaries are imported yet"
        in out
    )
    assert out.count("outside the service area") == 1
    assert _count(engine, "facility") == 0
    # anywhere in China is plausible until the office's boundaries say where it is
    china = [(120.085, 30.315), (FAR_LON, FAR_LAT), (116.40, 39.90)]
    code, out = _run(
        database_url, "import", "facilities", str(_facilities(tmp_path / "设施.csv", china))
    )
    assert code == 0, out
    assert _count(engine, "facility") == 3


def test_with_boundaries_a_place_elsewhere_in_china_is_refused_in_one_line(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    empty_database(engine)
    _boundaries(tmp_path, database_url)
    far = [(FAR_LON + i / 10_000, FAR_LAT) for i in range(1203)]
    path = _facilities(tmp_path / "设施.csv", [(120.085, 30.315), *far])
    code, out = _run(database_url, "import", "facilities", str(path))
    assert code != 0
    assert "设施.csv, 1,203 rows (3, 4, 5, 6, 7 …), column '经度/纬度'" in out
    assert "outside the service area (the boundaries of 西湖区 + 5 km: W 120.0080, S 30.2451" in out
    assert out.count("outside the service area") == 1
    assert _count(engine, "facility") == 0
    # the same place inside the boundaries comes in
    near = [(120.085, 30.315), (E + 0.03, N)]  # the second 3 km east: within the margin
    code, out = _run(
        database_url, "import", "facilities", str(_facilities(tmp_path / "近.csv", near))
    )
    assert code == 0, out
    assert _count(engine, "facility") == 2


@pytest.fixture
def district(engine: Engine) -> dict:
    layers = generate_district(300, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


def test_reports_outside_the_boundaries_are_refused_over_http_and_from_the_hotline(
    district: dict, engine: Engine, database_url: str, live_server: LiveServer, tmp_path: Path
) -> None:
    token = issue_token(engine, "sa_staff", "admin")
    headers = {"Authorization": f"Bearer {token}"}
    inside = district["building"].geometry.iloc[0].representative_point()
    url = f"{live_server.url}/api/incidents"

    def report(lon: float, lat: float) -> httpx.Response:
        body = {"category_code": "10102", "description": "路灯不亮", "lon": lon, "lat": lat}
        return httpx.post(url, json=body, headers=headers, timeout=30)

    far = report(116.40, 39.90)  # Beijing: in China, far from the district
    assert far.status_code == 422, far.text
    assert "outside the service area (the boundaries of" in far.json()["detail"]
    assert report(inside.x, inside.y).status_code == 201

    rows = "".join(f"10102,路灯不亮,{116.40 + i / 1000},39.90\n" for i in range(40))
    hotline = tmp_path / "12345.csv"
    hotline.write_text(
        f"category_code,description,lon,lat\n10102,路灯不亮,{inside.x},{inside.y}\n{rows}",
        encoding="utf-8",
    )
    before = _count(engine, "incident")
    code, out = _run(database_url, "incidents", "import-hotline", str(hotline), "--as", "sa_staff")
    assert code != 0
    assert "report, 40 rows (2, 3, 4, 5, 6 …), field 'lon/lat'" in out
    assert out.count("outside the service area") == 1
    assert _count(engine, "incident") == before
