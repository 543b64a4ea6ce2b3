"""The readers and the recognisers of the importers, on files as offices make them (no database)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely
from shapely import box

from etl.imports import readers
from etl.imports.addresses import match_buildings, parse_address
from etl.imports.areas import area_layer, level_of, parent_of
from etl.imports.dictionary import AREAS, HOUSEHOLDS, KINDS, RESIDENTS, markdown
from etl.imports.headers import MappingError, normalise_header, parse_mapping, recognise
from etl.imports.problems import ImportRejected
from etl.imports.readers import FileReadError, read_table
from etl.imports.registers import map_columns
from etl.imports.values import birth_years, choices, id_numbers, tags
from gis.coords import to_wgs84
from tests.conftest import REPO, SHARED_DATA
from tests.office_files import (
    gbk_csv,
    hand_written_xlsx,
    id_number,
    register_workbook,
    shapefile_gbk,
)


def test_headers_are_recognised_in_chinese_pinyin_and_english() -> None:
    found = recognise(
        [
            " 户 编号（必填）*",
            "HBH2",
            "ZZ",
            "单元号",
            "房号",
            "家庭人口(人)",
            "Size",
            "党员",
            "序号",
        ],
        HOUSEHOLDS,
    )
    assert found.renames == {
        " 户 编号（必填）*": "ref",
        "ZZ": "address",
        "单元号": "unit",
        "房号": "room",
        "家庭人口(人)": "size",
    }
    assert found.duplicates == [("Size", "家庭人口(人)")]
    assert found.unknown == ["HBH2", "党员"]  # 序号 is passed over without a word
    assert normalise_header("ＳＦＺＨ") == "sfzh"
    assert recognise(["SFZH", "XM", "xb"], RESIDENTS).renames == {
        "SFZH": "id_number",
        "XM": "name",
        "xb": "sex",
    }


def test_map_names_any_other_header_and_refuses_unknown_fields() -> None:
    mapping = parse_mapping(["楼号=building", "人口=人数"], HOUSEHOLDS)
    assert mapping == {"楼号": "building", "人口": "size"}
    assert recognise(["楼号", "人口"], HOUSEHOLDS, mapping).renames == mapping
    with pytest.raises(MappingError, match="households have no field 'floor'"):
        parse_mapping(["楼层=floor"], HOUSEHOLDS)
    with pytest.raises(MappingError, match="源列=field"):
        parse_mapping(["楼号"], HOUSEHOLDS)


def test_a_workbook_with_a_title_row_and_merged_headers(tmp_path: Path) -> None:
    path = register_workbook(
        tmp_path / "台账.xlsx",
        [
            ["H1", "中山路1号", "2幢", 1, 101, "张三", 3, None],
            ["H2", "中山路1号", "2幢", 1, 102, "李四", 2, "空"],
        ],
    )
    table = read_table(path, HOUSEHOLDS)
    assert list(table.frame.columns) == [
        "户编号",
        "地址",
        "楼栋",
        "单元",
        "室",
        "户主",
        "人数",
        "备注",
    ]
    assert list(table.rows) == [4, 5]  # Excel's row numbers: title 1, headers 2-3; total left out
    assert table.sheet == "户籍" and table.frame.iloc[1]["户编号"] == "H2"
    assert "header in row 2–3" in table.notes


def test_a_gbk_csv_is_read_and_said_so(tmp_path: Path) -> None:
    path = gbk_csv(tmp_path / "居民.csv", ["户编号", "姓名", "性别"], [["H1", "张三丰", "男"]] * 3)
    table = read_table(path, RESIDENTS)
    assert table.frame.iloc[0].to_dict() == {"户编号": "H1", "姓名": "张三丰", "性别": "男"}
    assert "encoding GBK/GB18030" in table.notes and list(table.rows) == [2, 3, 4]
    with pytest.raises(FileReadError, match="no header row of residents"):
        read_table(gbk_csv(tmp_path / "x.csv", ["a", "b"], [["1", "2"]]), RESIDENTS)


@pytest.mark.parametrize("name", ["户.geojson", "户.csv", "户.xlsx"])
def test_an_empty_file_is_said_to_be_empty(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(FileReadError, match=r"^户\.\w+: the file is empty \(0 bytes\)"):
        read_table(tmp_path / name, HOUSEHOLDS)
    with pytest.raises(FileReadError, match="the file is empty"):  # an upload
        read_table(b"", HOUSEHOLDS, filename=name)


def test_a_shapefile_with_a_cpg_keeps_its_chinese(tmp_path: Path) -> None:
    path = shapefile_gbk(
        tmp_path / "楼栋.shp",
        {"楼栋编号": ["B1"], "地址": ["文一西路88号1幢"]},
        [box(120.08, 30.31, 120.081, 30.311)],
    )
    table = read_table(path, KINDS["buildings"])
    assert table.frame.iloc[0]["地址"] == "文一西路88号1幢"
    assert any("GBK" in n.upper() for n in table.notes)
    path.with_suffix(".cpg").unlink()  # without it, the .dbf is detected
    assert read_table(path, KINDS["buildings"]).frame.iloc[0]["地址"] == "文一西路88号1幢"


def test_a_bare_amap_geometry_gets_its_code_from_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "320102.geojson"
    path.write_text(json.dumps(shapely.geometry.mapping(box(118.7, 32.0, 118.8, 32.1))))
    source = map_columns(read_table(path, AREAS), AREAS)
    layer, notes = area_layer(source, path.name, pd.DataFrame(columns=["code", "level"]), "wgs84")
    assert layer.iloc[0][["code", "name", "level"]].tolist() == ["320102", "320102", "district"]
    assert "code 320102 from the file name" in notes
    # two areas and no code: refused, saying how to fix it
    two = tmp_path / "areas.geojson"
    gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326).to_file(two)
    source = map_columns(read_table(two, AREAS), AREAS)
    with pytest.raises(ImportRejected, match="one area per file named by its code"):
        area_layer(source, two.name, pd.DataFrame(columns=["code", "level"]), "wgs84")


@pytest.mark.skipif(
    not (SHARED_DATA / "china-districts-gcj02" / "330106.geojson").exists(),
    reason="../shared/data (AMap district files) is absent",
)
def test_the_real_amap_district_file_reads_as_one_area() -> None:
    path = SHARED_DATA / "china-districts-gcj02" / "330106.geojson"
    source = map_columns(read_table(path, AREAS), AREAS)
    layer, _ = area_layer(source, path.name, pd.DataFrame(columns=["code", "level"]), "gcj02")
    assert layer.iloc[0]["code"] == "330106" and layer.iloc[0]["level"] == "district"
    assert layer.geometry.iloc[0].geom_type == "MultiPolygon"


def test_levels_and_parents_from_chinese_names_and_codes(tmp_path: Path) -> None:
    path = tmp_path / "amap.geojson"
    gpd.GeoDataFrame(
        {
            "adcode": ["320102002", "320102002001"],
            "name": ["街", "社区"],
            "级别": ["街道", "居委会"],
        },
        geometry=[box(0, 0, 2, 2), box(0, 0, 1, 1)],
        crs=4326,
    ).to_file(path, driver="GeoJSON")
    stored = pd.DataFrame({"code": ["320102"], "level": ["district"]})
    layer, _ = area_layer(map_columns(read_table(path, AREAS), AREAS), path.name, stored, "wgs84")
    assert layer[["level", "parent_code"]].values.tolist() == [
        ["street", "320102"],
        ["community", "320102002"],
    ]
    assert [level_of(c) for c in ("320102", "320102002", "320102002001", "320102002001E1")] == [
        "district",
        "street",
        "community",
        "estate",
    ]


def test_provinces_and_cities_from_their_codes_short_or_in_amaps_six_digits() -> None:
    codes = ("32", "3201", "320000", "320100", "320102", "441900")
    assert [level_of(c) for c in codes] == [
        "province",
        "city",
        "province",
        "city",
        "district",
        "city",
    ]
    # the nearest area above: the city, whichever form its code takes
    for city in ("3201", "320100"):
        known = {"32": "province", city: "city", "320102": "district"}
        assert parent_of("320102", "district", known) == city
        assert parent_of(city, "city", known) == "32"
        assert parent_of("320102002", "street", known) == "320102"
    # a street directly under a city without districts (东莞: 441900 → its towns)
    assert parent_of("441900003", "street", {"441900": "city", "44": "province"}) == "441900"
    # a district of another city is not adopted by this one
    assert parent_of("320202", "district", {"320100": "city", "320000": "province"}) == "320000"


def test_levels_in_chinese_from_province_to_village() -> None:
    spelled = pd.Series(["省", "自治区", "市", "地级市", "区", "县", "街道", "乡镇", "社区", "村"])
    level, bad = choices(spelled, AREAS.field("level"))
    assert not bad.any()
    assert list(level) == [
        "province",
        "province",
        "city",
        "city",
        "district",
        "district",
        "street",
        "street",
        "community",
        "community",
    ]


@pytest.mark.parametrize(
    ("address", "key", "unit", "room"),
    [
        ("南京市玄武区中山路８８号三幢2单元301室", "中山路88号3栋", 2, "301"),
        ("中山路88号3号楼2单元301", "中山路88号3栋", 2, "301"),
        ("中山路 88 号 3栋 2单元 301室", "中山路88号3栋", 2, "301"),
        ("新街口街道中山路88号3座二单元301房", "中山路88号3栋", 2, "301"),
        ("中山路88号-3-2-301室", "中山路88号3栋", 2, "301"),
        ("锦绣花园十二幢1单元502室", "锦绣花园12栋", 1, "502"),
        ("中山大街5号301室", "中山大街5号", None, "301"),
        ("锦绣小区12栋", "锦绣小区12栋", None, None),
    ],
)
def test_addresses_are_normalised(address: str, key: str, unit: int | None, room: str | None):
    parsed = parse_address(address)
    assert (parsed.building_key, parsed.unit, parsed.room) == (key, unit, room)


def test_addresses_that_name_no_single_building_are_reported_not_guessed() -> None:
    stored = ("中山路88号1幢", "中山路88号2幢", "汉中路5号", "中山东路300号", "中山东路300号")
    keys = [parse_address(a).building_key for a in stored]
    asked = ("中山路88号2栋", "汉中路５号3栋", "中山路88号", "中山路90号", "中山东路300号A座")
    match = match_buildings([parse_address(a) for a in asked], keys)
    # 汉中路5号 is one building: its house number names it
    assert list(match.building) == [1, 2, -1, -1, -1]
    assert match.reasons == {
        2: "'中山路88号' has several buildings (栋/幢): the address must name one",
        3: "no building has the address '中山路90号'",
        4: "2 buildings have the address '中山东路300号'",
    }


def test_values_written_the_chinese_way() -> None:
    sex, bad = choices(pd.Series(["男", "女", "F", None, "未知"]), RESIDENTS.field("sex"))
    assert sex.tolist() == ["M", "F", "F", None, None] and bad.tolist() == [0, 0, 0, 0, 1]
    kind, bad = choices(
        pd.Series(["社区卫生服务站", "幼儿园", "体育馆"]), KINDS["facilities"].field("kind")
    )
    assert kind.tolist() == ["clinic", "school", None] and bad.tolist() == [0, 0, 1]
    good = id_number("330106", "19500301", 1, True)
    numbers, bad = id_numbers(pd.Series([good.lower(), good[:-1] + "0", 3.3e17]))
    assert numbers.iloc[0] == good.upper() and bad.tolist() == [False, True, True]
    years, bad = birth_years(
        pd.Series(["1950-03-08", "1950年3月", "19500308", pd.Timestamp("1961-1-1"), "3月"])
    )
    assert years.tolist()[:4] == [1950, 1950, 1950, 1961] and bad.tolist() == [0, 0, 0, 0, 1]
    flags, other = tags(pd.Series(["独居老人、低保", "残疾,党员", None]))
    assert flags.to_dict("list") == {
        "living_alone_elderly": [True, False, False],
        "disabled": [False, True, False],
        "mobility_impaired": [False, False, False],
        "low_income": [True, False, False],
    }
    assert other == ["党员"]


def test_gcj02_and_bd09_are_the_identity_outside_china() -> None:
    lon, lat = np.array([2.3522, -74.006, 151.2093]), np.array([48.8566, 40.7128, -33.8688])
    for coord_type in ("gcj02", "bd09"):
        x, y = to_wgs84(lon, lat, coord_type)
        assert np.array_equal(x, lon) and np.array_equal(y, lat)


def test_the_readme_holds_the_data_dictionary_as_the_code_has_it() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert markdown() in readme, "regenerate the README's data dictionary: etl.imports.dictionary"


def test_a_problem_shows_an_empty_cell_as_empty() -> None:
    """The import desk's table and the messages: not 'nan', not '<NA>'."""
    from etl.imports.problems import RowProblem

    for blank in (None, float("nan"), pd.NA, pd.NaT, "", "  "):
        p = RowProblem("户.csv", 3, "楼栋编号", blank, "value is missing", "fill it in")
        assert (
            p.cell == ""
            and str(p) == "户.csv row 3, column '楼栋编号': value is missing — fill it in"
        )
    assert RowProblem("户.csv", 2, "室", 301.0, "m", "f").cell == "301"
    assert RowProblem("户.csv", 2, "地址", "中山路1号", "m", "f").cell == "中山路1号"


def test_rooms_are_read_as_addresses_give_them() -> None:
    from etl.imports.values import rooms as read_rooms

    rooms = pd.Series(["302室", "302房", "３０２", " 302 ", "A座302", None, "1201a"], dtype=object)
    assert read_rooms(rooms).tolist() == ["302", "302", "302", "302", "A座302", None, "1201A"]


def test_a_shapefile_whose_dbf_cut_its_chinese_field_names_is_read(tmp_path: Path) -> None:
    """GDAL and QGIS cut 楼栋编号 (12 bytes in UTF-8) at the .dbf's 10 bytes, in a character."""
    from etl.imports.dictionary import BUILDINGS

    frame = gpd.GeoDataFrame(
        {"楼栋编号": ["B01", "B02"], "楼栋名称": ["1幢", "2幢"], "层数": [6, 7]},
        geometry=[box(120.08, 30.31, 120.081, 30.311), box(120.082, 30.31, 120.083, 30.311)],
        crs=4326,
    )
    path = tmp_path / "楼栋.shp"
    frame.to_file(path, encoding="utf-8")
    table = read_table(path, BUILDINGS)
    assert any("field names cut" in n for n in table.notes)
    source = map_columns(table, BUILDINGS)
    assert source.frame["ref"].tolist() == ["B01", "B02"]
    assert source.frame["name"].tolist() == ["1幢", "2幢"]
    assert source.frame["floors"].tolist() == [6, 7]


def test_a_shapefile_without_a_prj_is_said_to_be_taken_as_lon_lat(tmp_path: Path) -> None:
    from etl.imports.dictionary import BUILDINGS

    path = tmp_path / "楼栋.shp"
    gpd.GeoDataFrame(
        {"楼栋编号": ["B01"]}, geometry=[box(120.08, 30.31, 120.081, 30.311)], crs=4326
    ).to_file(path, encoding="utf-8")
    assert "no .prj" not in " ".join(read_table(path, BUILDINGS).notes)
    path.with_suffix(".prj").unlink()
    assert "no .prj: coordinates taken as longitude/latitude" in " ".join(
        read_table(path, BUILDINGS).notes
    )


def _cells_from_b3(path: Path) -> Path:
    """A register whose cells begin at B3 (two blank rows, column A empty), merged every way.

    A title merged across, 户编号 and 人数 merged down over a two-row header, 住址 merged over
    楼栋 / 单元 / 室, a 楼栋 merged down over two households, a blank row, a total row.
    """
    from datetime import date

    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = "户籍"
    book.create_sheet("说明")["A1"] = "填表说明"
    ws["B3"] = "某社区人口台账"
    ws.merge_cells("B3:G3")
    for cell, value in {"B4": "户编号", "C4": "住址", "F4": "人数", "G4": "登记日期"}.items():
        ws[cell] = value
    ws.merge_cells("C4:E4")
    for column in "BFG":
        ws.merge_cells(f"{column}4:{column}5")
    for cell, value in {"C5": "楼栋", "D5": "单元", "E5": "室"}.items():
        ws[cell] = value
    rows = [
        ["H1", "1栋", 1, "101", 3, date(2020, 5, 1)],
        ["H2", None, 1.0, 102, 2, None],
        None,
        ["H3", "2栋", "2", "0301", 4.0, "2021-03-04"],
        ["合计", None, None, None, 9, None],
    ]
    ws.merge_cells("C6:C7")
    for i, row in enumerate(rows):
        for j, value in enumerate(row or []):
            ws.cell(row=6 + i, column=2 + j, value=value)
    book.save(path)
    return path


def _as_text(value: object) -> str | None:
    """A cell as both readers say it: python-calamine's typed value, fastexcel's text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):  # a date; its time only when not midnight
        stamp = pd.Timestamp(value)
        return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else str(stamp)
    return str(value)


@pytest.mark.parametrize("make", [register_workbook, _cells_from_b3, hand_written_xlsx])
def test_the_fast_workbook_reader_reads_what_python_calamine_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Any
) -> None:
    """fastexcel reads a large .xlsx in half the time; rows, headers and cells stay the same."""
    rows = [["H1", "中山路1号", "2幢", 1, 101, "张三", 3, None]]
    path = (
        make(tmp_path / "台账.xlsx", rows)
        if make is register_workbook
        else make(tmp_path / "台账.xlsx")
    )
    fast = read_table(path, HOUSEHOLDS)
    upload = read_table(path.read_bytes(), HOUSEHOLDS, filename="台账.xlsx")
    monkeypatch.setattr(readers, "_open_xlsx", lambda source, name: None)
    calamine = read_table(path, HOUSEHOLDS)
    # python-calamine's cells begin at A1: an empty column A came as a blank 'column 1'
    named = calamine.frame[[c for c in calamine.frame.columns if not c.startswith("column ")]]
    for table in (fast, upload):
        assert list(table.rows) == list(calamine.rows)
        assert list(table.frame.columns) == list(named.columns)
        assert table.notes == calamine.notes and table.sheet == calamine.sheet
        assert [[_as_text(v) for v in r] for r in table.frame.itertuples(index=False)] == [
            [_as_text(v) for v in r] for r in named.itertuples(index=False)
        ]
    if make is _cells_from_b3:  # Excel's row numbers; the 楼栋 merged down read in both rows
        assert list(fast.rows) == [6, 7, 9] and "header in row 4–5" in fast.notes
        assert list(fast.frame.columns) == ["户编号", "楼栋", "单元", "室", "人数", "登记日期"]
        assert fast.frame["楼栋"].tolist()[:2] == ["1栋", "1栋"]
        assert fast.frame["室"].tolist() == ["101", "102", "0301"]
    if make is hand_written_xlsx:  # an empty text counts as a cell, a styled blank does not
        assert list(fast.rows) == [5, 6] and "header in row 4" in fast.notes


def _patched(path: Path, out: Path, change: Any) -> Path:
    """``path`` again, its first sheet's XML changed by ``change`` (bytes → bytes)."""

    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, change(data) if info.filename.endswith("sheet1.xml") else data)
    return out


@pytest.mark.parametrize(
    "damage",
    [
        "a raw control character in the title",
        "a wrong CRC on the sheet",
    ],
)
def test_a_workbook_unlike_the_standard_still_reads_as_python_calamine_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    """The trial's workbooks: the fast reader's XML parse refused them (a traceback); each
    now reads as python-calamine reads it."""

    rows = [["H1", "中山路1号", "2幢", 1, 101, "张三", 3, None]]
    path = register_workbook(tmp_path / "台账.xlsx", rows)
    if damage.startswith("a raw control"):
        path = _patched(
            path, tmp_path / "c.xlsx", lambda d: d.replace("社区".encode(), "社\x0b区".encode(), 1)
        )
    elif damage.startswith("a wrong CRC"):
        crc = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").CRC.to_bytes(4, "little")
        data = path.read_bytes()
        assert data.count(crc) == 2  # the local header's and the central directory's
        path = tmp_path / "crc.xlsx"
        path.write_bytes(data.replace(crc, b"\0\0\0\0"))
    fast = read_table(path, HOUSEHOLDS)
    monkeypatch.setattr(readers, "_open_xlsx", lambda source, name: None)
    calamine = read_table(path, HOUSEHOLDS)
    assert list(fast.rows) == list(calamine.rows) == [4]
    assert list(fast.frame.columns) == list(calamine.frame.columns)
    assert fast.frame.iloc[0]["地址"] == "中山路1号" and "header in row 2–3" in fast.notes


def test_merged_ranges_written_with_single_quotes_are_read(tmp_path: Path) -> None:
    """XML allows either quote: the 楼栋 merged down over two households was missed."""
    path = _patched(
        _cells_from_b3(tmp_path / "台账.xlsx"),
        tmp_path / "q.xlsx",
        lambda d: re.sub(rb'ref="([A-Z0-9:]+)"', rb"ref = '\1'", d),
    )
    assert b"ref = '" in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    assert read_table(path, HOUSEHOLDS).frame["楼栋"].tolist()[:2] == ["1栋", "1栋"]


def test_a_date_in_a_workbook_reads_as_a_date_not_a_midnight(tmp_path: Path) -> None:
    """Excel turns a unit typed 1-2 into a date: the message quoted '2024-01-02 00:00:00'."""
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["户编号", "单元", "人数", "登记时间"])
    book.active.append(["H1", datetime(2024, 1, 2), 3, datetime(2024, 1, 2, 8, 30)])
    book.save(tmp_path / "户.xlsx")
    frame = read_table(tmp_path / "户.xlsx", HOUSEHOLDS).frame
    assert frame.iloc[0]["单元"] == "2024-01-02"
    assert frame.iloc[0]["登记时间"] == "2024-01-02 08:30:00"


def test_a_csv_whose_rows_end_with_a_comma_keeps_its_columns(tmp_path: Path) -> None:
    """The trial: a comma after every row (as some exports write) moved each value one
    column left (``column '类型' ('120.089'): unknown 类型``)."""
    path = tmp_path / "户.csv"
    path.write_text("户编号,楼栋编号,人数\nH1,B1,3,\nH2,B2,2,\n", encoding="utf-8")
    table = read_table(path, HOUSEHOLDS)
    assert table.frame.to_dict("records") == [
        {"户编号": "H1", "楼栋编号": "B1", "人数": "3"},
        {"户编号": "H2", "楼栋编号": "B2", "人数": "2"},
    ]
    assert list(table.rows) == [2, 3]
