"""Read an office's file as it is: Excel, CSV in any encoding, GeoJSON, GeoPackage, Shapefile.

Every reader returns a :class:`Table`: the records under the file's own headers, each
with the row number a user sees in the file, so that a problem can be named by sheet,
row and column.

* **Excel**: ``.xlsx`` / ``.xlsm`` with fastexcel (Rust, Arrow text: a 500,000-row register
  in half python-calamine's time), the sheet's first row and merged cells from its XML
  (:mod:`etl.imports.xlsx_layout`); ``.xls``, ``.xlsb``, ``.ods`` with python-calamine
  (both several times faster than openpyxl).  The header row is found, not assumed: the row
  among the first :data:`HEADER_SCAN_ROWS` with the most headers of the kind, together
  with the rows next to it that hold headers too (a group header such as 住址 merged
  over 地址 / 楼栋 / 单元 / 室), reading merged cells as their top-left value.  Title rows
  above it (``XX社区人口台账``) and the notes row of ``wangge template`` are passed over,
  so are empty rows and total rows (合计).
* **CSV** (``.csv``, ``.txt``) in UTF-8 (with or without BOM), GBK / GB18030 (Excel's
  export on Chinese Windows) or anything charset-normalizer recognises; the separator is
  sniffed; the header row is found as for Excel.
* **GeoJSON**, **GeoPackage**, **Shapefile** through pyogrio (GDAL).  A Shapefile's
  ``.cpg`` names its encoding; without one the ``.dbf`` is detected like a CSV.  A bare
  GeoJSON geometry (AMap-derived boundary files: a ``MultiPolygon`` with perhaps a
  non-standard ``properties`` member) is read as one feature.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path

import numpy as np
import pandas as pd

import geopandas as gpd
import pyogrio
import shapely

from etl.imports.dictionary import Kind
from etl.imports.headers import header_score, normalise_header
from gis.errors import EtlError, InvalidInput

HEADER_SCAN_ROWS = 20
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
SPATIAL_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb")
SUFFIXES = EXCEL_SUFFIXES + CSV_SUFFIXES + SPATIAL_SUFFIXES
#: The first cell of a row that totals the ones above it.
TOTAL_WORDS = frozenset({"合计", "总计", "小计", "total"})
#: How the notes row of ``wangge template`` begins each cell.
NOTE_MARKS = ("必填", "选填")
GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
)


class FileReadError(EtlError, InvalidInput):
    """The file cannot be read: missing, of an unknown format, damaged, or without headers."""


@dataclass
class Table:
    """The records of one sheet or layer under the file's own headers.

    Attributes
    ----------
    frame
        One row per record; headers as in the file (text); values as read.  A
        GeoDataFrame for a spatial file.
    rows
        The row number of each record in the file, as a user counts (Excel: the row
        number on the left; CSV: the line; a spatial file: the feature's position).
    source
        The file name, for messages.
    sheet
        The sheet (Excel) or layer read, when the file has several.
    notes
        What the reader found out (encoding, header row), for the summary.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    source: str
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)


def read_table(
    source: Path | str | bytes,
    kind: Kind,
    *,
    filename: str | None = None,
    sheet: str | None = None,
) -> Table:
    """Read a file (a path, or its bytes with ``filename`` naming the format).

    Parameters
    ----------
    source
        The file, or its content.
    kind
        The kind of record expected: its headers find the header row.
    filename
        The file's name when ``source`` is bytes (its suffix decides the format).
    sheet
        The sheet of a workbook or layer of a GeoPackage; default the first one that
        holds headers of ``kind``.

    Raises
    ------
    FileReadError
        Saying what is wrong with the file and how to fix it.
    """
    name = filename or (Path(source).name if not isinstance(source, bytes) else "upload")
    suffix = Path(name).suffix.lower()
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.exists():
            raise FileReadError(f"{path}: no such file")
    empty = len(source) == 0 if isinstance(source, bytes) else path.stat().st_size == 0
    if empty:
        raise FileReadError(f"{name}: the file is empty (0 bytes); export it again")
    if suffix not in SUFFIXES:
        raise FileReadError(
            f"{name}: unknown format {suffix or '(no suffix)'}; use one of {', '.join(SUFFIXES)}"
        )
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(source, name, kind, sheet)
    if suffix in CSV_SUFFIXES:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        return _read_csv(data, name, kind)
    return read_spatial(source, name, layer=sheet)


# ----------------------------------------------------------------------------- Excel


@dataclass
class _Sheet:
    """A sheet's cells from its first row and column that hold a value.

    ``frame`` has positional columns; row ``i`` is the sheet's row ``top + i`` and column
    ``j`` its column ``left + j`` (0-based from A1); ``merged`` as python-calamine gives
    ``merged_cell_ranges`` (0-based from A1).
    """

    frame: pd.DataFrame
    top: int
    left: int
    merged: list


def _read_excel(source: Path | str | bytes, name: str, kind: Kind, sheet: str | None) -> Table:
    fast = _open_xlsx(source, name)
    if fast is not None:
        try:
            return _read_sheets(fast, name, kind, sheet)
        except _NotStandard:
            pass  # python-calamine reads what the standard's readers refuse
    return _read_sheets(_open_calamine(source, name), name, kind, sheet)


class _NotStandard(Exception):
    """A sheet's XML unlike the standard's (a raw control character, a wrong CRC).

    python-calamine, more lenient, reads such a workbook.
    """


def _read_sheets(opened: _Opened, name: str, kind: Kind, sheet: str | None) -> Table:
    names, load = opened
    if sheet is not None and sheet not in names:
        raise FileReadError(f"{name}: no sheet named {sheet!r}; it has: {', '.join(names)}")
    candidates = [sheet] if sheet is not None else names
    best: tuple[int, str, _Sheet] | None = None
    for candidate in candidates:
        cells = load(candidate)
        score = max((header_score(r, kind) for r in _head(cells)), default=0)
        if best is None or score > best[0]:
            best = (score, candidate, cells)
        if sheet is None and score >= 2:
            break
    assert best is not None
    score, chosen, cells = best
    where = f"{name}, sheet {chosen!r}"
    if score == 0:
        raise FileReadError(_no_header(where, kind))
    _fill_merged(cells)
    table = _from_sheet(cells, kind, where)
    table.source, table.sheet = name, chosen
    if len(names) > 1:
        table.notes.insert(0, f"read sheet {chosen!r} of {', '.join(repr(n) for n in names)}")
    return table


_Opened = tuple[list[str], Callable[[str], _Sheet]]


def _open_xlsx(source: Path | str | bytes, name: str) -> _Opened | None:
    """An ``.xlsx`` / ``.xlsm`` read with fastexcel (its values as text), else None.

    fastexcel builds Arrow columns in Rust without a Python object per cell: a 500,000-row
    register reads in about half python-calamine's time.  Where its sheet begins and what
    is merged come from the sheet's XML (:mod:`etl.imports.xlsx_layout`, read beside the
    parse).  Any other workbook, or one laid out unlike the standard, is None: it is read
    by python-calamine.
    """
    import fastexcel

    from etl.imports import xlsx_layout

    if Path(name).suffix.lower() not in (".xlsx", ".xlsm"):
        return None
    try:
        book = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
        parts = xlsx_layout.sheet_parts(book)
        reader = fastexcel.read_excel(source if isinstance(source, bytes) else str(source))
    except (zipfile.BadZipFile, xlsx_layout.LayoutUnknown, fastexcel.FastExcelError, OSError):
        return None
    names = list(reader.sheet_names)
    if any(n not in parts for n in names):
        return None

    def load(sheet: str) -> _Sheet:
        with ThreadPoolExecutor(1) as pool:
            layout = pool.submit(xlsx_layout.read_layout, book, parts[sheet])
            try:
                ws = reader.load_sheet(sheet, header_row=None, dtypes="string")
                batch = ws.to_arrow()
                columns = ws.available_columns()
            except fastexcel.FastExcelError as exc:
                raise FileReadError(f"{name}: sheet {sheet!r} cannot be read ({exc})") from exc
            try:
                where = layout.result()
            except (xlsx_layout.LayoutUnknown, zipfile.BadZipFile, zlib.error, ValueError) as exc:
                raise _NotStandard(str(exc)) from exc
        frame = _dates_as_calamine_gives_them(batch.to_pandas())
        frame.columns = range(frame.shape[1])
        if where.first_row is None and len(frame):
            raise _NotStandard("cells without rows")
        left = columns[0].absolute_index if columns else 0
        return _Sheet(frame, where.first_row or 0, left, where.merged)

    return names, load


def _open_calamine(source: Path | str | bytes, name: str) -> _Opened:
    """Any workbook (``.xls``, ``.xlsb``, ``.ods`` …) read with python-calamine, from A1.

    Its format is told from its content, not its name (an ``.xls`` saved as ``.xlsx`` is
    read, from a path as from an upload).
    """
    import python_calamine as calamine

    refusals = (
        calamine.CalamineError,
        calamine.PasswordError,
        calamine.WorksheetNotFound,
        calamine.XmlError,
        calamine.ZipError,
        ValueError,
        OSError,
    )
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        book = calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except refusals as exc:
        raise FileReadError(f"{name}: not a readable workbook ({exc})") from exc

    def load(sheet: str) -> _Sheet:
        try:
            ws = book.get_sheet_by_name(sheet)
            grid = ws.to_python(skip_empty_area=False)
            merged = list(ws.merged_cell_ranges or [])
        except refusals as exc:
            raise FileReadError(f"{name}: sheet {sheet!r} cannot be read ({exc})") from exc
        return _Sheet(pd.DataFrame(grid, dtype=object), 0, 0, merged)

    return list(book.sheet_names), load


#: A date or a date and time as fastexcel writes a date cell: its time is dropped when
#: midnight, as python-calamine's date reads (``2024-01-02 00:00:00`` → ``2024-01-02``).
_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00$"


def _dates_as_calamine_gives_them(frame: pd.DataFrame) -> pd.DataFrame:
    """A date cell's text without its midnight time, column by column where one occurs."""
    for column in frame.columns:
        values = frame[column]
        if values.str.endswith("00:00:00").any():
            frame[column] = values.str.replace(_MIDNIGHT, r"\1", regex=True)
    return frame


def _is_blank(value: object) -> bool:
    return (
        value is None
        or value is pd.NA
        or value == ""
        or (isinstance(value, float) and value != value)
    )


def _filled(cells: Sequence[object]) -> list[object]:
    return [c for c in cells if not _is_blank(c)]


def _head(cells: _Sheet) -> list[list[object]]:
    """The sheet's rows among its first :data:`HEADER_SCAN_ROWS`, blank cells None."""
    head = cells.frame.iloc[: max(HEADER_SCAN_ROWS - cells.top, 0)]
    return [[None if _is_blank(v) else v for v in row] for row in head.itertuples(index=False)]


def _fill_merged(cells: _Sheet) -> None:
    """Give every blank cell of a merged range near the top its top-left value.

    Headers merged over their columns; a range starting further down is left alone.
    """
    frame = cells.frame
    height, width = frame.shape
    for (r0, c0), (r1, c1) in cells.merged:
        if r0 >= HEADER_SCAN_ROWS + 3:
            continue
        r0, r1, c0, c1 = r0 - cells.top, r1 - cells.top, c0 - cells.left, c1 - cells.left
        if not (0 <= r0 < height and 0 <= c0 < width):
            continue
        value = frame.iat[r0, c0]
        for c in range(c0, min(c1, width - 1) + 1):
            for r in range(r0, min(r1, height - 1) + 1):
                if _is_blank(frame.iat[r, c]):
                    frame.iat[r, c] = value


def _no_header(where: str, kind: Kind) -> str:
    expected = ", ".join(f.zh for f in kind.fields if f.required) or kind.fields[0].zh
    return (
        f"{where}: no header row of {kind.name} ({kind.zh}) found in the first "
        f"{HEADER_SCAN_ROWS} rows; expected headers such as {expected}. Rename the "
        "columns, or name them with --map 源列=field (see 'wangge template')."
    )


def _header_block(head: list[list[object]], kind: Kind) -> tuple[int, int]:
    """First and last row (of ``head``) of the header: the best row and its header neighbours."""
    scores = [header_score(r, kind) for r in head]
    top = int(np.argmax(scores))
    first = last = top
    while first > 0 and scores[first - 1] > 0 and last - first < 2:
        first -= 1
    while last + 1 < len(scores) and scores[last + 1] > 0 and last - first < 2:
        last += 1
    return first, last


def _headers(head: list[list[object]], first: int, last: int, kind: Kind, left: int) -> list[str]:
    """One header per column: the lowest recognised cell of the block, else the lowest one."""
    width = max(len(r) for r in head[first : last + 1])
    out: list[str] = []
    for c in range(width):
        cells = [
            str(head[r][c]).strip()
            for r in range(first, last + 1)
            if c < len(head[r]) and head[r][c] is not None
        ]
        known = [x for x in cells if header_score([x], kind)]
        out.append((known or cells or [f"column {left + c + 1}"])[-1])
    # the same header twice (a merged group over unnamed columns): number the repeats
    seen: dict[str, int] = {}
    for i, h in enumerate(out):
        seen[h] = seen.get(h, 0) + 1
        if seen[h] > 1:
            out[i] = f"{h} ({seen[h]})"
    return out


def _is_note_row(cells: Sequence[object]) -> bool:
    filled = [str(c) for c in _filled(cells)]
    return bool(filled) and sum(x.startswith(NOTE_MARKS) for x in filled) * 2 >= len(filled)


def _is_total_row(cells: Sequence[object]) -> bool:
    filled = _filled(cells)
    return bool(filled) and normalise_header(filled[0]) in TOTAL_WORDS


def _from_sheet(cells: _Sheet, kind: Kind, where: str) -> Table:
    head = _head(cells)
    first, last = _header_block(head, kind)
    headers = _headers(head, first, last, kind, cells.left)
    width = len(headers)
    frame = cells.frame.iloc[last + 1 :].reset_index(drop=True)
    for c in range(frame.shape[1], width):
        frame[c] = None
    frame = frame.iloc[:, :width]
    frame.columns = headers
    rows = np.arange(len(frame), dtype=np.int64) + cells.top + last + 2
    blank = frame.isna() | frame.eq("")  # calamine gives "" for an empty cell
    keep = ~blank.all(axis=1).to_numpy()
    skipped_notes = 0
    # the template's notes row follows the header; total rows close the sheet
    for pos in np.flatnonzero(keep)[:2]:
        if _is_note_row(frame.iloc[pos].tolist()):
            keep[pos] = False
            skipped_notes += 1
    for pos in np.flatnonzero(keep)[-5:]:
        if _is_total_row(frame.iloc[pos].tolist()):
            keep[pos] = False
    frame = frame[keep].reset_index(drop=True)
    frame = frame.mask(blank[keep].reset_index(drop=True).to_numpy(), None)
    top = cells.top + 1
    notes = [f"header in row {top + first}" + (f"–{top + last}" if last > first else "")]
    if skipped_notes:
        notes.append("the notes row of the template was skipped")
    return Table(frame, rows[keep], where, notes=notes)


# ----------------------------------------------------------------------------- CSV


def detect_encoding(data: bytes) -> str:
    """The text encoding of ``data``: UTF-8 when it decodes, else charset-normalizer's guess.

    A GBK guess is widened to GB18030 (its superset: rare characters of names decode).
    """
    head = data[:2_000_000]
    try:
        head.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a character cut at the sample's end
            return "utf-8-sig"
    from charset_normalizer import from_bytes

    match = from_bytes(head, cp_isolation=["gb18030", "gbk", "big5", "utf_16", "cp1252"]).best()
    if match is None:
        match = from_bytes(head).best()
    if match is None:
        return "gb18030"
    encoding = match.encoding.lower().replace("-", "_")
    return "gb18030" if encoding in ("gbk", "gb2312", "cp936", "hz") else encoding


def _read_csv(data: bytes, name: str, kind: Kind) -> Table:
    encoding = detect_encoding(data)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise FileReadError(
            f"{name}: cannot read the text ({exc}); save it as UTF-8 or GBK CSV"
        ) from exc
    head_lines = text[:65536].splitlines()[:HEADER_SCAN_ROWS]
    try:
        dialect = csv.Sniffer().sniff("\n".join(head_lines[:10]), delimiters=",\t;|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    head = list(csv.reader(head_lines, delimiter=delimiter))
    scores = [header_score(r, kind) for r in head]
    if not scores or max(scores) == 0:
        raise FileReadError(_no_header(name, kind))
    top = int(np.argmax(scores))
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            skiprows=top,
            header=0,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            # a trailing comma on each row (Excel's export does it) is an empty last field,
            # not a row label: every value would move one column left
            index_col=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise FileReadError(f"{name}: not a readable CSV ({exc})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    rows = np.arange(len(frame), dtype=np.int64) + top + 2
    keep = frame.notna().any(axis=1).to_numpy().copy()
    if len(frame):
        if _is_note_row(list(frame.iloc[0].dropna())):  # the template's notes row
            keep[0] = False
        for pos in np.flatnonzero(keep)[-5:]:  # total rows close the file
            if _is_total_row(frame.iloc[pos].tolist()):
                keep[pos] = False
    frame = frame[keep].reset_index(drop=True)
    label = {"utf_8": "UTF-8", "utf_8_sig": "UTF-8", "gb18030": "GBK/GB18030"}
    enc = label.get(encoding.replace("-", "_"), encoding)
    notes_out = [f"encoding {enc}", f"header in line {top + 1}"]
    return Table(frame, rows[keep], name, notes=notes_out)


# ----------------------------------------------------------------------------- spatial


def read_spatial(source: Path | str | bytes, name: str, *, layer: str | None = None) -> Table:
    """Read a GeoJSON, GeoPackage or Shapefile (or a zipped Shapefile) as a Table."""
    suffix = Path(name).suffix.lower()
    notes: list[str] = []
    if suffix in (".geojson", ".json"):
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        bare = _bare_geometry(data)
        if bare is not None:
            return Table(bare, np.array([1]), name, notes=["a bare GeoJSON geometry"])
        source = data
    kwargs: dict[str, object] = {}
    if suffix == ".shp" and not isinstance(source, bytes):
        path = Path(source)
        cpg = path.with_suffix(".cpg")
        if not cpg.exists() and path.with_suffix(".dbf").exists():
            encoding = detect_encoding(path.with_suffix(".dbf").read_bytes())
            if encoding not in ("utf-8-sig", "ascii"):
                kwargs["encoding"] = encoding
                notes.append(f"no .cpg: encoding {encoding} detected")
        elif cpg.exists():
            notes.append(f"encoding from .cpg: {cpg.read_text(errors='replace').strip()}")
        if not path.with_suffix(".prj").exists() and not path.with_suffix(".PRJ").exists():
            notes.append("no .prj: coordinates taken as longitude/latitude (see --coord-type)")
    try:
        if isinstance(source, bytes):
            if suffix == ".zip":
                frame = _read_zip(source, layer)
            else:
                frame = pyogrio.read_dataframe(io.BytesIO(source), layer=layer, **kwargs)
        else:
            frame = pyogrio.read_dataframe(source, layer=layer, **kwargs)
    except UnicodeDecodeError as exc:
        if suffix != ".shp" or isinstance(source, bytes):
            raise FileReadError(f"{name}: cannot read its text ({exc})") from exc
        frame = _read_cut_field_names(Path(source), layer, kwargs)
        notes.append(
            "field names cut at the .dbf's 10 bytes (in a Chinese character) read without "
            "the cut character (楼栋编号 → 楼栋编); --map names any not recognised"
        )
    except Exception as exc:  # pyogrio raises several DataSource errors
        raise FileReadError(
            f"{name}: not a readable GeoJSON, GeoPackage or Shapefile ({exc})"
        ) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise FileReadError(f"{name}: the layer has no geometry; export it as a spatial layer")
    frame.columns = [str(c) if c != frame.geometry.name else c for c in frame.columns]
    return Table(frame, np.arange(1, len(frame) + 1, dtype=np.int64), name, layer, notes)


#: A .dbf field descriptor: 32 bytes, the name in the first 11 (NUL-padded).
DBF_FIELD = 32


def _read_cut_field_names(
    path: Path, layer: str | None, kwargs: dict[str, object]
) -> gpd.GeoDataFrame:
    """Read a Shapefile whose UTF-8 field names the .dbf cut in a character.

    A .dbf field name holds 10 bytes: GDAL and QGIS cut ``楼栋编号`` (12 bytes in UTF-8)
    in its fourth character, and the name is then no UTF-8 at all (pyogrio refuses
    the file).  A copy of the Shapefile with each name's cut tail dropped is read
    instead; no reader does this, hence by hand.
    """
    with tempfile.TemporaryDirectory() as tmp:
        for part in path.parent.glob(f"{glob_escape(path.stem)}.*"):
            (Path(tmp) / part.name).write_bytes(part.read_bytes())
        dbf = next(Path(tmp).glob(f"{glob_escape(path.stem)}.[dD][bB][fF]"), None)
        if dbf is None:
            raise FileReadError(f"{path.name}: no .dbf beside it")
        data = bytearray(dbf.read_bytes())
        header = int.from_bytes(data[8:10], "little")
        at = DBF_FIELD
        while at + DBF_FIELD <= header and data[at] != 0x0D:
            raw = bytes(data[at : at + 11]).split(b"\0", 1)[0]
            data[at : at + 11] = raw.decode("utf-8", "ignore").encode("utf-8").ljust(11, b"\0")
            at += DBF_FIELD
        dbf.write_bytes(bytes(data))
        try:
            return pyogrio.read_dataframe(Path(tmp) / path.name, layer=layer, **kwargs)
        except Exception as exc:
            raise FileReadError(f"{path.name}: not a readable Shapefile ({exc})") from exc


def _read_zip(data: bytes, layer: str | None) -> gpd.GeoDataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(tmp)
        shapes = sorted(Path(tmp).rglob("*.shp")) or sorted(Path(tmp).rglob("*.gpkg"))
        if not shapes:
            raise FileReadError("the zip holds no .shp or .gpkg")
        return pyogrio.read_dataframe(shapes[0], layer=layer)


def _bare_geometry(data: bytes) -> gpd.GeoDataFrame | None:
    """A GeoJSON file holding a bare geometry, as one feature (its ``properties`` kept)."""
    head = data[:4096].lstrip()
    if not head.startswith(b"{") or b'"coordinates"' not in data[:1_000_000]:
        return None
    try:
        obj = json.loads(data)
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("type") not in GEOMETRY_TYPES:
        return None
    props = obj.get("properties") if isinstance(obj.get("properties"), dict) else {}
    geometry = shapely.geometry.shape({"type": obj["type"], "coordinates": obj["coordinates"]})
    return gpd.GeoDataFrame(
        {k: [v] for k, v in props.items()}, geometry=[geometry], crs=None
    ).set_crs(4326)
