"""Files made the way a street office makes them, for the importer tests.

A workbook with a title row above a two-row header of merged cells (住址 over 地址 /
楼栋 / 单元 / 室), a GBK CSV exported by Excel on Chinese Windows, a Shapefile with a
``.cpg``, a CSV of points copied from AMap (GCJ-02).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import geopandas as gpd
import shapely

from etl.imports.values import id_check_digit
from gis.coords import from_wgs84


def id_number(region: str, birth: str, serial: int, male: bool) -> str:
    """A valid 18-character ID number (check digit right): region 6, birth yyyymmdd, serial."""
    seq = serial * 2 + (1 if male else 0)
    first = f"{region}{birth}{seq:03d}"
    return first + id_check_digit(first)


def register_workbook(
    path: Path,
    rows: Sequence[Sequence[object]],
    *,
    title: str = "新街口街道测试社区人口台账（2024年）",
    sheet: str = "户籍",
) -> Path:
    """Households as an office keeps them: title row, merged two-row header, then the rows.

    Columns: 户编号 | 住址 (地址, 楼栋, 单元, 室) | 户主 | 人数 | 备注.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    ws = book.active
    ws.title = sheet
    ws["A1"] = title
    ws.merge_cells("A1:H1")
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    for cell, text in {
        "A2": "户编号",
        "B2": "住址",
        "F2": "户主",
        "G2": "人数",
        "H2": "备注",
    }.items():
        ws[cell] = text
    for column in "AFGH":
        ws.merge_cells(f"{column}2:{column}3")
    ws.merge_cells("B2:E2")
    for cell, text in {"B3": "地址", "C3": "楼栋", "D3": "单元", "E3": "室"}.items():
        ws[cell] = text
    for row in rows:
        ws.append(list(row))
    ws.append(["合计", None, None, None, None, None, sum(int(r[6] or 0) for r in rows), None])
    book.save(path)
    return path


def gbk_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    """A CSV as Excel on Chinese Windows saves it: GBK, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("gbk"))
    return path


def amap_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    lon_lat: Sequence[tuple[float, float]],
    *,
    coord_type: str = "gcj02",
) -> Path:
    """A UTF-8 CSV of points whose WGS84 ``lon_lat`` are written as AMap shows them (GCJ-02)."""
    lon, lat = np.array(lon_lat, dtype=float).T
    x, y = from_wgs84(lon, lat, coord_type)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*header, "经度", "纬度"])
    for row, a, b in zip(rows, x, y, strict=True):
        writer.writerow([*row, f"{a:.6f}", f"{b:.6f}"])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def shapefile_gbk(path: Path, columns: dict[str, list], geometries: list) -> Path:
    """A Shapefile with GBK attributes and the ``.cpg`` saying so (as ArcGIS writes it)."""
    gpd.GeoDataFrame(columns, geometry=geometries, crs=4326).to_file(
        path, driver="ESRI Shapefile", encoding="GBK"
    )
    assert path.with_suffix(".cpg").exists()
    return path


def to_gcj02(geom: shapely.Geometry) -> shapely.Geometry:
    """A WGS84 geometry as AMap draws it (GCJ-02)."""
    return shapely.transform(
        geom, lambda xy: np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], "gcj02"))
    )


def hand_written_xlsx(path: Path) -> Path:
    """A workbook as a small tool writes one: parts named by absolute paths, inline text.

    Row 2 holds an empty text cell, row 3 a styled cell without a value, the header is in
    row 4 from column B, and the last household's 人数 is a formula never calculated.
    """
    import zipfile

    spreadsheet = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    office = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

    def text_cell(ref: str, value: str) -> str:
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'

    rows = [
        f'<row r="2">{text_cell("C2", "")}</row>',
        '<row r="3"><c r="A3" s="1"/></row>',
        '<row r="4">'
        + "".join(
            text_cell(f"{c}4", h) for c, h in zip("BCD", ("户编号", "楼栋", "人数"), strict=True)
        )
        + "</row>",
        f'<row r="5">{text_cell("B5", "H1")}{text_cell("C5", "1栋")}<c r="D5"><v>3</v></c></row>',
        f'<row r="6">{text_cell("B6", "H2")}{text_cell("C6", "2栋")}<c r="D6"><f>1+1</f></c></row>',
    ]
    with zipfile.ZipFile(path, "w") as book:
        book.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{office}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        book.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{spreadsheet}" xmlns:r="{office}"><sheets>'
            '<sheet name="户籍" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{office}/worksheet" Target="/xl/worksheets/sheet1.xml"/></Relationships>',
        )
        book.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{spreadsheet}"><sheetData>{"".join(rows)}</sheetData></worksheet>',
        )
        book.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        )
    return path
