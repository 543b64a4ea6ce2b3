"""Bring your own district: from an empty database to answers, with the files an office has.

Real data: the district boundaries (AMap-derived, bare GCJ-02 geometries named by their
code) and the OpenStreetMap extract of Nanjing Xinjiekou, from ``../shared/data``.  The
street and community boundaries, the grids and the registers are made here as an office
makes them.  Everything goes through the command line and HTTP, as a user would.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
import shapely
from shapely import box

from tests.conftest import SHARED_DATA, empty_database, run_wangge
from tests.office_files import amap_csv, gbk_csv, id_number, register_workbook, to_gcj02

OSM = SHARED_DATA / "nanjing-xinjiekou" / "nanjing_xinjiekou.osm"
DISTRICTS = SHARED_DATA / "china-districts-gcj02"
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(
        not (OSM.exists() and (DISTRICTS / "320102.geojson").exists()),
        reason="../shared/data (Nanjing OSM extract, AMap district files) is absent",
    ),
]

# the community: a block of Xinjiekou around 中山路 (WGS84)
W, S, E, N = 118.7760, 32.0455, 118.7820, 32.0505
MID = 118.7790
STREET, COMMUNITY = "320102002", "320102002001"


def ok(result) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stderr + result.stdout


def counts(engine: Engine, sql: str) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(text(sql)).one())


@pytest.fixture(scope="module")
def district(engine: Engine, database_url: str, tmp_path_factory) -> dict[str, Path]:
    """Every step of the README's 'Bring your own district', from an empty database."""
    empty_database(engine)
    tmp = tmp_path_factory.mktemp("district")
    files: dict[str, Path] = {}
    # 1. the district boundaries: bare GCJ-02 geometries, the code in the file name
    for code in ("320102", "320104", "320106"):
        files[f"district {code}"] = DISTRICTS / f"{code}.geojson"
        ok(
            run_wangge(
                database_url,
                "areas",
                "import",
                str(DISTRICTS / f"{code}.geojson"),
                "--coord-type",
                "gcj02",
            )
        )
    # 2. street and community as an AMap-derived file: adcode, name, Chinese level, GCJ-02
    areas = tmp / "xinjiekou_areas.geojson"
    gpd.GeoDataFrame(
        {
            "adcode": [STREET, COMMUNITY],
            "name": ["新街口街道", "测试社区"],
            "level": ["街道", "社区"],
        },
        geometry=[
            to_gcj02(box(W - 0.004, S - 0.004, E + 0.004, N + 0.004)),
            to_gcj02(box(W, S, E, N)),
        ],
        crs=4326,
    ).to_file(areas, driver="GeoJSON")
    files["areas"] = areas
    ok(run_wangge(database_url, "import", "areas", str(areas), "--coord-type", "gcj02"))
    # 3. OpenStreetMap: roads, buildings, facilities, candidate shelters
    ok(run_wangge(database_url, "import", "osm", str(OSM)))
    # 4. grids: the community cut in two, names only (codes generated west to east)
    grids = tmp / "grids.geojson"
    gpd.GeoDataFrame(
        {"网格名称": ["西网格", "东网格"]},
        geometry=[box(W, S, MID, N), box(MID, S, E, N)],
        crs=4326,
    ).to_file(grids, driver="GeoJSON")
    files["grids"] = grids
    ok(run_wangge(database_url, "import", "grids", str(grids)))
    # 5. households: a workbook with a title row and merged headers, placed by address
    files["households"] = register_workbook(
        tmp / "户籍台账.xlsx",
        [
            ["H001", "南京市玄武区中山路１１２号", None, 1, 301, "张三", 3, None],
            ["H002", "中山路122号", None, 2, "502", "李四", 1, "独居"],
            ["H003", "管家桥85号", None, None, "1201", "王五", 2, None],
            ["H004", "中山路18号", None, 1, 2001, "赵六", 2, None],
        ],
    )
    ok(run_wangge(database_url, "import", "households", str(files["households"])))
    # 6. residents: a GBK CSV, sex and birth year from the ID numbers
    files["residents"] = gbk_csv(
        tmp / "居民.csv",
        ["户编号", "姓名", "身份证号", "联系电话", "与户主关系", "标签"],
        [
            ["H001", "张三", id_number("320102", "19600301", 1, True), "13812345678", "户主", ""],
            ["H001", "李梅", id_number("320102", "19620512", 2, False), "13912345678", "配偶", ""],
            ["H001", "张小明", id_number("320102", "20150101", 3, True), "", "子女", ""],
            [
                "H002",
                "李四",
                id_number("320102", "19380909", 4, True),
                "13700000001",
                "户主",
                "独居老人、低保",
            ],
            ["H003", "王五", id_number("320102", "19700101", 5, True), "13700000002", "户主", ""],
            ["H003", "陈红", id_number("320102", "19720101", 6, False), "", "配偶", "残疾"],
            ["H004", "赵六", id_number("320102", "19850101", 7, True), "13700000003", "户主", ""],
            ["H004", "钱七", id_number("320102", "19860101", 8, False), "", "配偶", ""],
        ],
    )
    ok(run_wangge(database_url, "import", "residents", str(files["residents"])))
    # 7. shelters copied from AMap: GCJ-02
    files["shelters"] = amap_csv(
        tmp / "避难场所.csv",
        ["名称", "地址", "容量", "类型"],
        [
            ["中山路口袋广场", "中山路120号旁", 800, "紧急避难场所"],
            ["五台山体育中心", "广州路", 9000, "固定"],
        ],
        [(118.7805, 32.0475), (118.7675, 32.0505)],
    )
    ok(
        run_wangge(
            database_url, "import", "shelters", str(files["shelters"]), "--coord-type", "gcj02"
        )
    )
    return files


def test_the_boundaries_came_in_with_their_hierarchy(district, engine: Engine) -> None:
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                text(
                    "SELECT a.code, a.level || ':' || coalesce(p.code, '-') FROM admin_area a "
                    "LEFT JOIN admin_area p ON p.id = a.parent_id"
                )
            ).all()
        )
    assert rows == {
        "320102": "district:-",
        "320104": "district:-",
        "320106": "district:-",
        STREET: "street:320102",
        COMMUNITY: "community:" + STREET,
    }
    # GCJ-02 converted: the community is where it was drawn in WGS84 (well under a metre)
    with engine.connect() as conn:
        wkb = conn.execute(
            text("SELECT ST_AsBinary(geom) FROM admin_area WHERE code = :c"), {"c": COMMUNITY}
        ).scalar_one()
    assert shapely.hausdorff_distance(shapely.from_wkb(bytes(wkb)), box(W, S, E, N)) < 1e-5


def test_osm_brought_roads_buildings_facilities_and_shelters(district, engine: Engine) -> None:
    edges, buildings, clinics, pharmacies, schools, candidates = counts(
        engine,
        "SELECT (SELECT count(*) FROM road_edge), (SELECT count(*) FROM building), "
        "(SELECT count(*) FROM facility WHERE kind = 'clinic'), "
        "(SELECT count(*) FROM facility WHERE kind = 'pharmacy'), "
        "(SELECT count(*) FROM facility WHERE kind = 'school'), "
        "(SELECT count(*) FROM facility WHERE kind = 'shelter' AND ref LIKE 'osm:%')",
    )
    assert edges > 300 and buildings > 1200
    assert clinics == 6 and schools == 18  # 5 hospitals, 1 clinic; 18 schools
    assert pharmacies == 3  # amenity=pharmacy: a kind of their own (药店)
    assert candidates >= 10  # parks, squares, stadiums above the size
    with engine.connect() as conn:
        tags = conn.execute(
            text("SELECT DISTINCT source_tag FROM facility WHERE name = '八一医院'")
        ).scalars()
        assert set(tags) == {"amenity=hospital"}


def test_households_are_placed_in_grids_through_their_address(district, engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT h.ref, b.name, h.unit, h.room, g.name FROM household h "
                "JOIN building b ON b.id = h.building_id JOIN grid g ON g.id = h.grid_id "
                "ORDER BY h.ref"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("H001", "凯润金城6栋", 1, "301", "东网格"),
        ("H002", "凯润金城7栋", 2, "502", "东网格"),
        ("H003", "华荣大厦", 1, "1201", "西网格"),
        ("H004", "德基广场二期", 1, "2001", "东网格"),
    ]


def test_residents_came_in_with_flags_and_identity(district, engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT i.name, r.sex, r.birth_year, r.living_alone_elderly, r.low_income, "
                "r.disabled FROM resident r JOIN resident_identity i ON i.resident_id = r.id "
                "ORDER BY r.birth_year"
            )
        ).all()
    assert len(rows) == 8
    assert tuple(rows[0]) == ("李四", "M", 1938, True, True, False)
    assert ("陈红", "F", 1972, False, False, True) in [tuple(r) for r in rows]


def test_the_nearest_shelter_is_answered_for_a_household(district, live_server) -> None:
    # at the 凯润金城6栋 household's door
    r = httpx.get(
        f"{live_server.url}/api/resident/nearest-shelter",
        params={"lon": 118.78033, "lat": 32.04859},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["shelter"]["name"] == "中山路口袋广场"
    # the office's GCJ-02 point converted: the shelter stands where it was put in WGS84
    assert abs(answer["shelter"]["lon"] - 118.7805) < 1e-5
    assert abs(answer["shelter"]["lat"] - 32.0475) < 1e-5
    straight = 111_320 * ((0.0002 * 0.848) ** 2 + 0.00109**2) ** 0.5
    assert answer["distance_m"] >= straight * 0.95


def test_importing_the_same_files_again_changes_nothing(
    district, engine: Engine, database_url: str
) -> None:
    before = counts(
        engine,
        "SELECT (SELECT count(*) FROM household), (SELECT count(*) FROM resident), "
        "(SELECT count(*) FROM facility), (SELECT count(*) FROM admin_area), "
        "(SELECT count(*) FROM grid)",
    )
    out = ok(run_wangge(database_url, "import", "households", str(district["households"])))
    assert "│     0 │       0 │         4 │       0 │        0 │" in out, out
    out = ok(run_wangge(database_url, "import", "residents", str(district["residents"])))
    assert "│     0 │       0 │         8 │       0 │        0 │" in out, out
    out = ok(
        run_wangge(
            database_url, "import", "shelters", str(district["shelters"]), "--coord-type", "gcj02"
        )
    )
    assert "│     0 │       0 │         2 │       0 │        0 │" in out, out
    out = ok(
        run_wangge(database_url, "import", "areas", str(district["areas"]), "--coord-type", "gcj02")
    )
    assert "│     0 │       0 │         2 │       0 │        0 │" in out, out
    out = ok(run_wangge(database_url, "import", "grids", str(district["grids"])))
    assert "│     0 │       0 │         2 │       0 │        0 │" in out, out
    # the grid command said "dry run: … nothing stored" of a file stored unchanged
    out = ok(run_wangge(database_url, "grids", "import", str(district["grids"])))
    assert "2 grid(s) exactly as stored" in out and "dry run" not in out, out
    after = counts(
        engine,
        "SELECT (SELECT count(*) FROM household), (SELECT count(*) FROM resident), "
        "(SELECT count(*) FROM facility), (SELECT count(*) FROM admin_area), "
        "(SELECT count(*) FROM grid)",
    )
    assert after == before


def test_coordinates_declared_wgs84_that_are_gcj02_are_found(
    district, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # twelve clinics copied from AMap into a CSV that does not say so: GCJ-02
    with engine.connect() as conn:
        points = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM building "
                "ORDER BY ST_Area(geom) DESC LIMIT 12) x"
            )
        ).all()
    path = amap_csv(
        tmp_path / "诊所.csv",
        ["名称", "类型", "地址"],
        [[f"诊所{i}", "诊所", ""] for i in range(len(points))],
        [tuple(p) for p in points],
    )
    before = counts(engine, "SELECT count(*) FROM facility")
    result = run_wangge(database_url, "import", "facilities", str(path))
    assert result.returncode != 0
    message = " ".join((result.stderr + result.stdout).split())
    assert "the 12 设施 look copied from AMap/Tencent (GCJ-02), not WGS84" in message
    assert "offset — import again with --coord-type gcj02" in message
    assert "column '经度/纬度'" in message  # the file's own columns
    assert counts(engine, "SELECT count(*) FROM facility") == before
    out = ok(
        run_wangge(
            database_url, "import", "facilities", str(path), "--coord-type", "gcj02", "--dry-run"
        )
    )
    assert "│    12 │       0 │         0 │       0 │        0 │" in out


def test_a_gcj02_grid_file_declared_wgs84_gets_the_hint(
    district, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "amap_grids.geojson"
    gpd.GeoDataFrame(
        {"网格名称": ["西网格", "东网格"]},
        geometry=[to_gcj02(box(W, S, MID, N)), to_gcj02(box(MID, S, E, N))],
        crs=4326,
    ).to_file(path, driver="GeoJSON")
    before = counts(engine, "SELECT count(*) FROM grid")
    result = run_wangge(database_url, "import", "grids", str(path), "--community", COMMUNITY)
    assert result.returncode != 0
    message = " ".join((result.stderr + result.stdout).split())
    assert "break the topology rules" in message
    assert "They fit their communities once converted from gcj02" in message
    assert "--coord-type gcj02" in message
    assert counts(engine, "SELECT count(*) FROM grid") == before
