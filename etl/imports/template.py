"""``wangge template KIND FILE.xlsx``: an empty workbook an office fills in, from the dictionary.

Row 1 holds the Chinese headers (required ones in red), row 2 a note per column (必填 or
选填, the type, an example, the allowed values) which the importers pass over, and the
columns carry Excel's data validation where Excel has it: a drop-down list for choices
and yes/no, whole numbers, decimals and dates.  A second sheet, 说明, is the kind's part
of the data dictionary.
"""

from __future__ import annotations

from pathlib import Path

from etl.imports.dictionary import TYPE_ZH, Field, Kind

DATA_ROWS = 5000
FIRST_DATA_ROW = 3


def note(field: Field) -> str:
    """The notes-row text of a field: ``必填 · 整数 · 例: 3 · 可选: 住宅、商住``."""
    parts = ["必填" if field.required else "选填", TYPE_ZH[field.type], f"例: {field.example}"]
    if field.choices:
        parts.append("可选: " + "、".join(c.zh for c in field.choices))
    if field.note:
        parts.append(field.note)
    return " · ".join(parts)


#: What a coordinate may be, in degrees.
DEGREES = {"lon": (-180.0, 180.0), "lat": (-90.0, 90.0)}


def _bounds(field: Field) -> tuple[float, float | None]:
    """The numbers a field takes: degrees, else its table's rule (etl.layers.BOUNDS), else ≥ 0."""
    from etl.layers import BOUNDS

    if field.name in DEGREES:
        return DEGREES[field.name]
    for columns in BOUNDS.values():
        b = columns.get(field.name)
        if b is not None and b.low is not None and b.low >= 0:
            return b.low, b.high
    return 0.0, None


def _validation(field: Field, column: str):  # -> openpyxl DataValidation | None
    from openpyxl.worksheet.datavalidation import DataValidation

    cells = f"{column}{FIRST_DATA_ROW}:{column}{DATA_ROWS + FIRST_DATA_ROW}"
    if field.type == "choice" and field.choices:
        listed = ",".join(c.zh for c in field.choices)
        dv = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=not field.required)
        dv.error = f"请选择: {listed}"
    elif field.type == "yes/no":
        dv = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
        dv.error = "请填 是 或 否"
    elif field.type in ("integer", "number"):
        low, high = _bounds(field)
        kind = "whole" if field.type == "integer" else "decimal"
        if high is None:
            dv = DataValidation(type=kind, operator="greaterThanOrEqual", formula1=f"{low:g}")
        else:
            dv = DataValidation(
                type=kind, operator="between", formula1=f"{low:g}", formula2=f"{high:g}"
            )
        dv.error = "请填整数" if field.type == "integer" else "请填数字"
        dv.error += f"（{low:g}–{high:g}）" if high is not None else f"（≥ {low:g}）"
    elif field.type == "date":
        dv = DataValidation(type="date", operator="greaterThan", formula1="1")
        dv.error = "请填日期, 如 1950-03-08"
    else:
        return None
    dv.showErrorMessage = True
    dv.errorTitle = field.zh
    dv.prompt = note(field)
    dv.showInputMessage = True
    dv.add(cells)
    return dv


def write_template(kind: Kind, path: Path | str) -> Path:
    """Write the empty workbook of ``kind`` to ``path`` (``.xlsx``)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    path = Path(path)
    fields = [f for f in kind.fields if f.template]
    book = Workbook()
    sheet = book.active
    sheet.title = kind.zh
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    for i, f in enumerate(fields, start=1):
        column = get_column_letter(i)
        cell = sheet.cell(row=1, column=i, value=f.zh)
        cell.font = Font(bold=True, color="C00000" if f.required else "000000")
        cell.fill = head_fill
        notes = sheet.cell(row=2, column=i, value=note(f))
        notes.font = Font(italic=True, color="808080", size=9)
        notes.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[column].width = max(12, min(40, len(f.zh) * 3 + 6))
        if f.type in ("code", "text"):  # ids and phones stay text: Excel drops digits otherwise
            for row in range(FIRST_DATA_ROW, FIRST_DATA_ROW + 200):
                sheet.cell(row=row, column=i).number_format = "@"
        dv = _validation(f, column)
        if dv is not None:
            sheet.add_data_validation(dv)
    sheet.row_dimensions[2].height = 48
    sheet.freeze_panes = "A3"
    about = book.create_sheet("说明")
    about.append(
        [
            "字段 field",
            "表头 header",
            "也认 also recognised",
            "类型 type",
            "必填 required",
            "例 example",
            "说明 note",
        ]
    )
    for f in kind.fields:
        values = "、".join(f"{c.zh}={c.value}" for c in f.choices)
        about.append(
            [
                f.name,
                f.zh,
                ", ".join(f.aliases),
                f"{TYPE_ZH[f.type]} ({f.type})",
                "是" if f.required else "",
                f.example,
                "; ".join(x for x in (values, f.note) if x),
            ]
        )
    if kind.geometry == "polygon":
        about.append([])
        about.append(
            [
                "geometry",
                "",
                "",
                "",
                "是",
                "",
                "这些字段放在 Shapefile / GeoPackage / GeoJSON 的属性表中, 图形为面",
            ]
        )
    for column, width in zip("ABCDEFG", (22, 14, 40, 16, 8, 22, 50), strict=True):
        about.column_dimensions[column].width = width
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
