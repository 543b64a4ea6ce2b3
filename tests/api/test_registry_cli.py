"""The registers through the command line and HTTP, as an office uses them, on a made-up district.

Import what changed and only that, remove with --replace, refuse all or skip the bad
rows (with a rejects file), match Chinese addresses written a dozen ways and report the
ones that match no building, fill in the template, export masked by role and audited.
"""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
from shapely import box

from api.services.accounts import issue_token
from gis import crypt
from tests.conftest import empty_database, run_wangge
from tests.office_files import gbk_csv, id_number, register_workbook, shapefile_gbk

# a community near 三墩, Hangzhou, split west / east
W, S, E, N = 120.08, 30.31, 120.09, 30.32
MID = (W + E) / 2
STREET, COMMUNITY = "330106109", "330106109001"
COUNTS = "│ {:>5} │ {:>7} │ {:>9} │ {:>7} │ {:>8} │"


def ok(result) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stderr + result.stdout


def refused(result) -> str:
    assert result.returncode != 0, result.stderr + result.stdout
    return " ".join((result.stderr + result.stdout).split())


def counts(*values: int) -> str:
    return COUNTS.format(*values)


def scalar(engine: Engine, sql: str, **params) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pytest.fixture(scope="module")
def place(engine: Engine, database_url: str, tmp_path_factory) -> Path:
    """Boundaries, buildings (a GBK Shapefile with a .cpg) and grids, through the CLI."""
    empty_database(engine)
    tmp = tmp_path_factory.mktemp("office")
    areas = tmp / "areas.geojson"
    gpd.GeoDataFrame(
        {
            "adcode": ["330106", STREET, COMMUNITY],
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
    ok(run_wangge(database_url, "import", "areas", str(areas)))
    d = 0.0004
    footprints = [
        box(W + 0.001, S + 0.001, W + 0.001 + d, S + 0.001 + d),
        box(W + 0.002, S + 0.001, W + 0.002 + d, S + 0.001 + d),
        box(MID + 0.001, S + 0.002, MID + 0.001 + d, S + 0.002 + d),
        box(MID + 0.002, N - 0.002, MID + 0.002 + d, N - 0.002 + d),
    ]
    shapefile_gbk(
        tmp / "楼栋.shp",
        {
            "楼栋编号": ["B01", "B02", "B03", "B04"],
            "名称": ["1幢", "2幢", "文一西路90号", "锦绣花园3幢"],
            "地址": ["文一西路88号1幢", "文一西路88号2幢", "文一西路90号", "锦绣花园3栋"],
            "层数": [6, 6, 3, 18],
            "用途": ["住宅", "住宅", "商住", "住宅"],
        },
        footprints,
    )
    ok(run_wangge(database_url, "import", "buildings", str(tmp / "楼栋.shp")))
    grids = tmp / "grids.geojson"
    gpd.GeoDataFrame(
        {"WGBM": [f"{COMMUNITY}001", f"{COMMUNITY}002"], "WGMC": ["西", "东"]},
        geometry=[box(W, S, MID, N), box(MID, S, E, N)],
        crs=4326,
    ).to_file(grids, driver="GeoJSON")
    ok(run_wangge(database_url, "import", "grids", str(grids)))
    return tmp


HOUSEHOLDS = [
    ["H01", "杭州市西湖区文一西路８８号", "1幢", 1, 101, "甲", 3, None],
    ["H02", "文一西路88号2号楼3单元502室", None, None, None, "乙", 2, None],
    ["H03", "文一西路88号二栋1单元201", None, None, None, "丙", 1, None],
    ["H04", "文一西路90号301室", None, None, None, "丁", 2, None],
    ["H05", "锦绣花园3座1单元1201室", None, None, None, "戊", 4, None],
]
UNMATCHED = [
    ["H06", "文一西路88号", None, None, "808", "己", 1, None],
    ["H07", "文二路5号", None, None, "101", "庚", 1, None],
]

RESIDENTS_HEADER = ["户编号", "姓名", "身份证号", "联系电话", "与户主关系", "标签"]
GOOD_RESIDENTS = [
    ["H01", "张三", id_number("330106", "19500301", 1, True), "13812345678", "户主", "独居老人"],
    ["H01", "李梅", id_number("330106", "19520512", 2, False), "13912345678", "配偶", ""],
    ["H04", "周九", id_number("330106", "19900101", 9, True), "13600000000", "户主", ""],
]


def _all(engine: Engine, sql: str) -> list:
    with engine.connect() as conn:
        return list(conn.execute(text(sql)).all())


@pytest.fixture()
def no_registers(place: Path, engine: Engine) -> Path:
    """The place without households or residents: each test starts from its own state."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM household"))
    return place


def _import(engine: Engine, kind: str, path: Path) -> None:
    from api.services.registry_io import ImportOptions, import_file

    import_file(engine, kind, path, ImportOptions())  # type: ignore[arg-type]


@pytest.fixture()
def households(no_registers: Path, engine: Engine) -> Path:
    """Households H01-H05, imported."""
    _import(engine, "households", register_workbook(no_registers / "hh.xlsx", HOUSEHOLDS))
    return no_registers


@pytest.fixture()
def registers(households: Path, engine: Engine) -> Path:
    """Households H01-H05 and three residents, imported."""
    _import(engine, "residents", gbk_csv(households / "rs.csv", RESIDENTS_HEADER, GOOD_RESIDENTS))
    return households


def test_the_buildings_came_from_a_gbk_shapefile(place, engine: Engine) -> None:
    rows = _all(
        engine,
        "SELECT b.ref, b.name, b.address, b.use, g.name FROM building b "
        "JOIN grid g ON g.id = b.grid_id ORDER BY b.ref",
    )
    assert [tuple(r) for r in rows] == [
        ("B01", "1幢", "文一西路88号1幢", "residential", "西"),
        ("B02", "2幢", "文一西路88号2幢", "residential", "西"),
        ("B03", "文一西路90号", "文一西路90号", "mixed", "东"),
        ("B04", "锦绣花园3幢", "锦绣花园3栋", "residential", "东"),
    ]


def test_abort_lists_every_problem_and_stores_nothing(no_registers, database_url, engine) -> None:
    path = register_workbook(no_registers / "户籍台账.xlsx", HOUSEHOLDS + UNMATCHED)
    out = refused(run_wangge(database_url, "import", "households", str(path)))
    # sheet, row (as Excel numbers it: title row 1, header rows 2-3), column, value, fix
    assert (
        "户籍台账.xlsx, sheet '户籍' row 9, column '地址' ('文一西路88号'): not placed: "
        "'文一西路88号' has several buildings (栋/幢): the address must name one — "
        "correct the address" in out
    )
    assert (
        "row 10, column '地址' ('文二路5号'): not placed: no building has the address "
        "'文二路5号'" in out
    )
    assert "nothing was stored" in out
    assert scalar(engine, "SELECT count(*) FROM household") == 0


def test_addresses_written_many_ways_find_their_building(
    no_registers, database_url, engine
) -> None:
    path = register_workbook(no_registers / "户籍台账.xlsx", HOUSEHOLDS + UNMATCHED)
    rejects = no_registers / "rejects.csv"
    out = ok(
        run_wangge(
            database_url,
            "import",
            "households",
            str(path),
            "--on-error",
            "skip",
            "--rejects",
            str(rejects),
        )
    )
    assert counts(5, 0, 0, 0, 2) in out
    assert f"the refused rows, with a reason column, are in {rejects}" in " ".join(out.split())
    rows = _all(
        engine,
        "SELECT h.ref, b.ref, h.unit, h.room, g.name FROM household h "
        "JOIN building b ON b.id = h.building_id JOIN grid g ON g.id = h.grid_id "
        "ORDER BY h.ref",
    )
    assert [tuple(r) for r in rows] == [
        ("H01", "B01", 1, "101", "西"),  # full-width digits, the 楼栋 in its own column
        ("H02", "B02", 3, "502", "西"),  # 2号楼3单元502室
        ("H03", "B02", 1, "201", "西"),  # 二栋, no 室
        ("H04", "B03", 1, "301", "东"),  # a house number that is one building
        ("H05", "B04", 1, "1201", "东"),  # 座 for 幢/栋
    ]
    back = pd.read_csv(rejects, encoding="utf-8-sig", dtype=str)
    assert list(back["户编号"]) == ["H06", "H07"]
    assert list(back["原行号"]) == ["9", "10"]
    assert back["原因"].str.contains("not placed").all()


def test_a_register_imported_again_changes_exactly_what_changed(
    no_registers, database_url, engine
) -> None:
    path = register_workbook(no_registers / "户籍台账.xlsx", HOUSEHOLDS)
    assert counts(5, 0, 0, 0, 0) in ok(run_wangge(database_url, "import", "households", str(path)))
    # the same file again: nothing changes
    out = ok(run_wangge(database_url, "import", "households", str(path)))
    assert counts(0, 0, 5, 0, 0) in out, out
    # a changed file: exactly what changed (a dry run first)
    changed = [list(r) for r in HOUSEHOLDS]
    changed[0][6] = 4  # H01: 3 → 4 people
    changed[3][1] = "文一西路90号302室"  # H04 moved to room 302
    changed.append(["H08", "锦绣花园3幢2单元801", None, None, None, "辛", 2, None])
    path = register_workbook(no_registers / "户籍台账_v2.xlsx", changed)
    out = ok(run_wangge(database_url, "import", "households", str(path), "--dry-run"))
    assert counts(1, 2, 3, 0, 0) in out and "dry run: nothing was stored" in out
    assert scalar(engine, "SELECT size FROM household WHERE ref = 'H01'") == 3
    out = ok(run_wangge(database_url, "import", "households", str(path)))
    assert counts(1, 2, 3, 0, 0) in out
    assert scalar(engine, "SELECT size FROM household WHERE ref = 'H01'") == 4
    assert scalar(engine, "SELECT room FROM household WHERE ref = 'H04'") == "302"
    assert scalar(engine, "SELECT count(*) FROM household") == 6
    # --replace: what the file no longer holds goes
    path = register_workbook(no_registers / "户籍台账_v3.xlsx", changed[:4])
    out = ok(run_wangge(database_url, "import", "households", str(path), "--replace"))
    assert counts(0, 0, 4, 2, 0) in out
    refs = [r[0] for r in _all(engine, "SELECT ref FROM household ORDER BY ref")]
    assert refs == ["H01", "H02", "H03", "H04"]


def test_residents_from_a_gbk_csv_with_a_bad_id_number(households, database_url, engine) -> None:
    rows = [
        *GOOD_RESIDENTS[:2],
        ["H02", "王五", "330106197001011235", "", "户主", "残疾, 低保"],  # check digit wrong
        ["H09", "赵六", id_number("330106", "19800101", 4, True), "", "户主", ""],  # no such 户
    ]
    path = gbk_csv(households / "居民.csv", RESIDENTS_HEADER, rows)
    out = refused(run_wangge(database_url, "import", "residents", str(path)))
    assert (
        "居民.csv row 4, column '身份证号' ('330106197001011235'): is not a valid ID number" in out
    )
    assert "居民.csv row 5, column '户编号' ('H09'): names no stored household" in out
    assert scalar(engine, "SELECT count(*) FROM resident") == 0
    out = ok(run_wangge(database_url, "import", "residents", str(path), "--on-error", "skip"))
    assert counts(2, 0, 0, 0, 2) in out
    assert (households / "居民.rejects.xlsx").exists()
    [row] = _all(
        engine,
        "SELECT r.sex, r.birth_year, r.living_alone_elderly, i.phone FROM resident r "
        "JOIN resident_identity i ON i.resident_id = r.id WHERE i.name = '张三'",
    )
    assert tuple(row)[:3] == ("M", 1950, True)
    assert crypt.open_value("phone", row.phone) == "13812345678"  # sealed at rest


def test_the_template_is_filled_in_and_imported(households, database_url, engine) -> None:
    from openpyxl import load_workbook

    path = households / "居民模板.xlsx"
    ok(run_wangge(database_url, "template", "residents", str(path)))
    book = load_workbook(path)
    sheet = book["居民"]
    headers = [c.value for c in sheet[1]]
    assert headers[:4] == ["人员编号", "户编号", "姓名", "性别"]
    notes = [c.value for c in sheet[2]]
    assert notes[1].startswith("必填 · 编码(文本) · 例: H000123")
    assert notes[3].startswith("选填 · 选项 · 例: 男 · 可选: 男、女")
    lists = {dv.formula1 for dv in sheet.data_validations.dataValidation if dv.type == "list"}
    assert '"男,女"' in lists and '"是,否"' in lists
    # numbers within what the database keeps (出生年份 1890-2100), not any number
    year = headers.index("出生年份") + 1
    [birth] = [
        dv
        for dv in sheet.data_validations.dataValidation
        if any(r.min_col == year for r in dv.sqref.ranges)
    ]
    assert (birth.type, birth.formula1, birth.formula2) == ("whole", "1890", "2100")
    assert "说明" in book.sheetnames
    # staff fill it in under the notes row, as Excel would
    values = {
        "人员编号": "P100",
        "户编号": "H03",
        "姓名": "孙八",
        "性别": "女",
        "出生日期": "1990-05-06",
        "与户主关系": "户主",
        "独居老人": "否",
    }
    for column, header in enumerate(headers, start=1):
        if header in values:
            sheet.cell(row=3, column=column, value=values[header])
    book.save(path)
    out = ok(run_wangge(database_url, "import", "residents", str(path)))
    assert counts(1, 0, 0, 0, 0) in out and "notes row of the template was skipped" in out
    [row] = _all(engine, "SELECT sex, birth_year FROM resident WHERE ref = 'P100'")
    assert tuple(row) == ("F", 1990)


@pytest.fixture(scope="module")
def people(place, engine: Engine) -> dict[str, str]:
    """A street staff member, the west grid's worker and a resident, with tokens."""
    with engine.begin() as conn:
        west = conn.execute(
            text("SELECT id FROM grid WHERE code = :c AND valid_to IS NULL"),
            {"c": f"{COMMUNITY}001"},
        ).scalar_one()
        conn.execute(text("INSERT INTO grid_worker (id, name) VALUES (901, '网格员甲')"))
        conn.execute(
            text(
                "INSERT INTO grid_assignment (worker_id, grid_id, role) VALUES (901, :g, 'primary')"
            ),
            {"g": west},
        )
    return {
        "staff": issue_token(engine, "staff_reg", "street_staff", STREET),
        "worker": issue_token(engine, "worker_reg", "grid_worker", worker_id=901),
        "resident": issue_token(engine, "resident_reg", "resident"),
    }


def test_export_masks_by_role_and_is_audited(registers, people, database_url, engine) -> None:
    staff = registers / "居民_staff.xlsx"
    args = ("export", "residents")
    out = ok(run_wangge(database_url, *args, str(staff), "--area", COMMUNITY, "--as", "staff_reg"))
    assert "written to the audit log" in out
    full = pd.read_excel(staff, dtype=str, engine="openpyxl")
    assert set(full["姓名"]) == {"张三", "李梅", "周九"} and "13812345678" in set(full["联系电话"])
    worker = registers / "居民_worker.csv"
    ok(run_wangge(database_url, *args, str(worker), "--area", COMMUNITY, "--as", "worker_reg"))
    masked = pd.read_csv(worker, dtype=str, encoding="utf-8-sig")
    # only the west grid's households (H01 of the three), no name or phone in full
    assert set(masked["户编号"]) == {"H01"}
    assert set(masked["姓名"]) == {"张*", "李*"} and "138****5678" in set(masked["联系电话"])
    audits = _all(
        engine,
        "SELECT username, detail->>'masked' FROM audit_log WHERE action = 'export' ORDER BY id",
    )
    assert [tuple(a) for a in audits][-2:] == [("staff_reg", "false"), ("worker_reg", "true")]
    # exported households come back in unchanged
    exported = registers / "户_export.xlsx"
    ok(
        run_wangge(
            database_url,
            "export",
            "households",
            str(exported),
            "--area",
            COMMUNITY,
            "--as",
            "staff_reg",
        )
    )
    out = ok(run_wangge(database_url, "import", "households", str(exported)))
    assert counts(0, 0, 5, 0, 0) in out


def test_export_over_http(registers, people, live_server) -> None:
    url = f"{live_server.url}/api/exports/residents"

    def get(who: str | None, **params) -> httpx.Response:
        headers = {"Authorization": f"Bearer {people[who]}"} if who else {}
        return httpx.get(url, params=params, headers=headers, timeout=30)

    r = get("staff", area=COMMUNITY, format="csv")
    assert r.status_code == 200, r.text
    assert r.headers["x-wangge-masked"] == "false" and r.headers["x-wangge-audited"] == "true"
    assert "attachment" in r.headers["content-disposition"]
    frame = pd.read_csv(io.BytesIO(r.content), dtype=str, encoding="utf-8-sig")
    assert "张三" in set(frame["姓名"])
    r = get("worker", area=COMMUNITY, format="xlsx")
    assert r.status_code == 200 and r.headers["x-wangge-masked"] == "true"
    names = set(pd.read_excel(io.BytesIO(r.content), dtype=str, engine="openpyxl")["姓名"])
    assert "张三" not in names and "张*" in names
    gpkg = httpx.get(
        f"{live_server.url}/api/exports/buildings",
        params={"area": COMMUNITY, "format": "gpkg"},
        headers={"Authorization": f"Bearer {people['staff']}"},
        timeout=30,
    )
    assert gpkg.status_code == 200
    path = registers / "b.gpkg"
    path.write_bytes(gpkg.content)
    assert sorted(gpd.read_file(path)["楼栋编号"]) == ["B01", "B02", "B03", "B04"]
    assert get("resident", area=COMMUNITY).status_code == 403
    assert get("staff", area="999999999999").status_code == 404
    assert get(None, area=COMMUNITY).status_code == 401
    assert get("staff", area=COMMUNITY, format="pdf").status_code == 422


def test_records_far_outside_the_boundaries_are_one_line(place, database_url, engine) -> None:
    path = place / "设施.csv"
    path.write_text(
        "名称,类型,经度,纬度\n"
        + "".join(f"北京诊所{i},诊所,116.40{i},39.90{i}\n" for i in range(6))
        + "三墩诊所,诊所,120.085,30.315\n",
        encoding="utf-8",
    )
    out = refused(run_wangge(database_url, "import", "facilities", str(path)))
    assert "设施.csv, 6 rows (2, 3, 4, 5, 6 …), column '经度/纬度': outside the service area" in out
    assert out.count("outside the service area") == 1
    assert scalar(engine, "SELECT count(*) FROM facility") == 0


def test_residents_imported_again_are_found_by_their_id_numbers(registers, engine) -> None:
    """No 人员编号 in the file: a person is found again through the ID number's blind index."""
    from api.services.registry_io import ImportOptions, import_file

    again = gbk_csv(registers / "rs_again.csv", RESIDENTS_HEADER, GOOD_RESIDENTS)
    summary = import_file(engine, "residents", again, ImportOptions())  # type: ignore[arg-type]
    assert (summary.added, summary.changed, summary.unchanged) == (0, 0, 3)
    assert scalar(engine, "SELECT count(*) FROM resident") == 3


def test_values_the_database_would_refuse_are_named_and_skipped_by_row(
    no_registers, database_url, engine
) -> None:
    """A whole number written 1.0, a negative 人数, an Excel serial number as 出生日期."""
    households = no_registers / "户.csv"
    households.write_text(
        "户编号,楼栋编号,单元,室,人数\nH01,B01,1.0,101,3.0\nH02,B01,1,102,-1\nH03,B02,1,101,2\n",
        encoding="utf-8",
    )
    rejects = no_registers / "户.rejects.csv"
    out = ok(
        run_wangge(
            database_url,
            "import",
            "households",
            str(households),
            "--on-error",
            "skip",
            "--rejects",
            str(rejects),
        )
    )
    assert "row 3, column '人数' ('-1'): 人数 -1 is out of range — write a size from 0 to 30" in (
        " ".join(out.split())
    )
    assert _all(engine, "SELECT ref, unit, size FROM household ORDER BY ref") == [
        ("H01", 1, 3),
        ("H03", 1, 2),
    ]
    assert pd.read_csv(rejects, dtype=str)["户编号"].tolist() == ["H02"]
    header_only = no_registers / "户_空.csv"
    header_only.write_text("户编号,楼栋编号,单元,室,人数\n", encoding="utf-8")
    out = ok(run_wangge(database_url, "import", "households", str(header_only)))
    assert "the file holds no records under its header" in out
    residents = no_registers / "人.csv"
    residents.write_text(
        "人员编号,户编号,姓名,性别,出生日期\nP1,H01,张三,男,18330\nP2,H01,李四,女,1833-01-01\n",
        encoding="utf-8",
    )
    out = refused(run_wangge(database_url, "import", "residents", str(residents)))
    assert "row 2, column '出生日期' ('18330'): is not a date" in out
    assert "row 3, column '出生日期' ('1833-01-01'): 出生日期 1833 is out of range" in out
    assert scalar(engine, "SELECT count(*) FROM resident") == 0


def test_a_geojson_feature_id_does_not_replace_the_building_id(place, engine) -> None:
    """geopandas and QGIS write a feature "id" (0, 1 …) beside the office's 楼栋编号."""
    path = place / "楼栋.geojson"
    stored = gpd.read_postgis("SELECT ref, geom FROM building WHERE ref = 'B01'", engine)
    frame = gpd.GeoDataFrame({"楼栋编号": ["B01"], "层数": [6]}, geometry=stored.geometry)
    path.write_text(frame.set_crs(4326).to_json(ensure_ascii=False), encoding="utf-8")
    assert '"id": "0"' in path.read_text(encoding="utf-8")
    from api.services.registry_io import ImportOptions, import_file

    summary = import_file(engine, "buildings", path, ImportOptions())
    assert (summary.added, summary.unchanged) == (0, 1)
    assert "column 'id' left out: '楼栋编号' already gives the same field" in summary.notes
    assert scalar(engine, "SELECT count(*) FROM building WHERE ref = '0'") == 0


def test_replace_says_what_went_with_the_records_and_leaves_osm_alone(
    registers, database_url, engine
) -> None:
    """A household removed takes its residents; a register's buildings are not OSM's."""
    path = register_workbook(registers / "户籍_无H04.xlsx", HOUSEHOLDS[:3] + HOUSEHOLDS[4:])
    out = ok(run_wangge(database_url, "import", "households", str(path), "--replace", "--dry-run"))
    assert counts(0, 0, 4, 1, 0) in out and "removed with them: 1 resident(s)" in out
    assert scalar(engine, "SELECT count(*) FROM resident") == 3  # a dry run
    with engine.begin() as conn:  # a footprint an OpenStreetMap extract brought
        conn.execute(
            text(
                "INSERT INTO building (ref, floors, geom) SELECT 'osm:w1', 3, "
                "ST_Translate(geom, 0.0005, 0) FROM building WHERE ref = 'B04'"
            )
        )
    try:
        out = ok(
            run_wangge(
                database_url, "import", "buildings", str(registers / "楼栋.shp"), "--replace"
            )
        )
        assert counts(0, 0, 4, 0, 0) in out, out
        assert scalar(engine, "SELECT count(*) FROM building WHERE ref = 'osm:w1'") == 1
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM building WHERE ref = 'osm:w1'"))


def test_the_same_footprints_from_another_format_are_unchanged(place, engine) -> None:
    """A Shapefile's rings run clockwise, GeoJSON's counter-clockwise, from another vertex."""
    import shapely

    from api.services.registry_io import ImportOptions, import_file

    frame = gpd.read_file(place / "楼栋.shp")
    rings = [list(g.exterior.coords)[-2::-1] for g in frame.geometry]  # the other way round
    turned = [shapely.Polygon([*r[1:], r[0]]) for r in rings]  # from another vertex
    assert not shapely.equals_exact(turned[0], frame.geometry.iloc[0], 0)  # not the same ring
    assert shapely.equals(turned[0], frame.geometry.iloc[0])  # the same shape
    path = place / "楼栋_geojson.geojson"
    frame.set_geometry(gpd.GeoSeries(turned, crs=frame.crs)).to_file(path, driver="GeoJSON")
    summary = import_file(engine, "buildings", path, ImportOptions())
    assert (summary.added, summary.changed, summary.unchanged) == (0, 0, 4)


def test_the_rejects_file_may_not_be_the_register_itself(households, database_url, engine) -> None:
    """The trial: --rejects naming the input overwrote the office's register with the
    refused rows (exit 0)."""
    rows = [*GOOD_RESIDENTS[:2], ["H09", "赵六", "", "", "户主", ""]]  # no such household
    path = gbk_csv(households / "居民_self.csv", RESIDENTS_HEADER, rows)
    before = path.read_bytes()
    args = ("import", "residents", str(path), "--on-error", "skip", "--rejects", str(path))
    out = refused(run_wangge(database_url, *args))
    assert "that is the file being imported" in out and "Traceback" not in out
    assert path.read_bytes() == before


def test_a_path_that_cannot_be_written_is_said_not_traced(tmp_path: Path, database_url) -> None:
    """The trial: a folder where a file was expected, a file where a folder was: tracebacks."""
    (tmp_path / "a_file.csv").write_text("x")
    (tmp_path / "a_folder.xlsx").mkdir()
    for out in (tmp_path / "a_file.csv" / "居民.xlsx", tmp_path / "a_folder.xlsx"):
        result = run_wangge(database_url, "template", "residents", str(out))
        text_out = " ".join((result.stderr + result.stdout).split())
        assert result.returncode != 0 and "Traceback" not in text_out, text_out
        assert "error: cannot use" in text_out and "Check the path" in text_out


def test_a_capacity_beyond_what_the_database_holds_is_named_by_row(
    no_registers, database_url, engine
) -> None:
    """The trial: 容量 99999999999 ended in a traceback ('does not fit int4')."""
    path = no_registers / "设施.csv"
    path.write_text(
        "编号,名称,类型,经度,纬度,容量\n"
        f"F1,幸福养老院,养老,{MID},{(S + N) / 2},99999999999\n"
        f"F2,平安卫生站,卫生服务站,{MID + 0.001},{(S + N) / 2},20\n",
        encoding="utf-8",
    )
    out = refused(run_wangge(database_url, "import", "facilities", str(path)))
    assert "row 2, column '容量' ('99999999999')" in out and "out of range" in out, out
    assert "Traceback" not in out


def test_buildings_as_a_table_are_told_to_come_as_footprints(no_registers, database_url) -> None:
    """The trial: a buildings CSV with 楼栋编号 was told it had no column 楼栋编号."""
    path = no_registers / "楼栋.csv"
    path.write_text(f"楼栋编号,名称,经度,纬度\nB1,1幢,{MID},{(S + N) / 2}\n", encoding="utf-8")
    out = refused(run_wangge(database_url, "import", "buildings", str(path)))
    assert "a table without them" in out and "Shapefile, GeoPackage or GeoJSON" in out
    assert "has no column 楼栋编号" not in out
