"""Where a sheet of an ``.xlsx`` workbook begins and which of its cells are merged.

fastexcel (:mod:`etl.imports.readers`) reads a sheet's values several times faster than
python-calamine for a large register, but its cells begin at the first cell holding a
value and it says nothing of merged cells.  An office's register needs both: the row
numbers in a message must be the ones Excel shows on the left, and a group header
merged over its columns (住址 over 地址 / 楼栋 / 单元 / 室) must read as the header of
each.  Both are in the sheet's XML part, so they are read from there:

* the first row holding a value: from the beginning of the part, stopping there;
* the merged ranges: the ``<mergeCells>`` element after the cells, found by scanning the
  part as it inflates (about 0.5 s for a 30 MB register; the reader runs it beside
  fastexcel's parse, as zlib releases the GIL).

Written by hand because no well-kept reader gives these two without parsing every cell
again (openpyxl's read-only mode has no merged cells; python-calamine parses the sheet).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from typing import IO
from xml.etree import ElementTree

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATIONSHIP_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
#: A merged range as the part writes it: ``<mergeCell ref="B3:F3"/>``.
_MERGE_REF = re.compile(
    rb"<(?:\w+:)?mergeCell\s[^>]*?ref\s*=\s*[\"']([A-Za-z]+)(\d+)(?::([A-Za-z]+)(\d+))?[\"']"
)
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")
_CHUNK = 1 << 22

#: ((first row, first column), (last row, last column)), 0-based from A1, as
#: python-calamine gives ``merged_cell_ranges``.
Range = tuple[tuple[int, int], tuple[int, int]]


class LayoutUnknown(Exception):
    """The workbook is not laid out as the OOXML standard says: read it another way."""


@dataclass(frozen=True)
class SheetLayout:
    """Of one sheet: the 0-based row of its first value (None: no value) and its merges."""

    first_row: int | None
    merged: list[Range]


def column_index(letters: str) -> int:
    """0-based index of a column's letters: ``A`` → 0, ``AA`` → 26."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def sheet_parts(book: zipfile.ZipFile) -> dict[str, str]:
    """The XML part of every sheet, by the sheet's name."""
    try:
        workbook = next(
            (
                target
                for _, target, kind in _relationships(book, "_rels/.rels")
                if kind.endswith("/officeDocument")
            ),
            None,
        )
        if workbook is None:
            raise LayoutUnknown("no workbook part")
        folder, name = posixpath.split(workbook)
        rels = {
            rid: target
            for rid, target, _ in _relationships(
                book, posixpath.join(folder, "_rels", f"{name}.rels")
            )
        }
        root = ElementTree.fromstring(book.read(workbook))
    except (KeyError, ElementTree.ParseError) as exc:
        raise LayoutUnknown(str(exc)) from exc
    parts: dict[str, str] = {}
    for sheet in root.iter(f"{MAIN}sheet"):
        target = rels.get(sheet.get(RELATIONSHIP_ID, ""))
        if target is not None:
            parts[sheet.get("name", "")] = target
    return parts


def _relationships(book: zipfile.ZipFile, rels: str) -> list[tuple[str, str, str]]:
    """(id, target part, type) of each relationship in ``rels``, targets made absolute."""
    folder = posixpath.dirname(posixpath.dirname(rels))  # the folder above _rels/
    out = []
    for r in ElementTree.fromstring(book.read(rels)).iter(f"{PACKAGE_RELS}Relationship"):
        target = r.get("Target", "")
        if target.startswith("/"):
            target = target.lstrip("/")
        else:
            target = posixpath.normpath(posixpath.join(folder, target))
        out.append((r.get("Id", ""), target, r.get("Type", "")))
    return out


def first_value_row(stream: IO[bytes]) -> int | None:
    """0-based row of the first cell that holds a value (a ``<v>`` or inline text)."""
    row = -1
    try:
        for event, element in ElementTree.iterparse(stream, events=("start", "end")):
            if event == "start":
                if element.tag == f"{MAIN}row":
                    r = element.get("r")
                    row = int(r) - 1 if r else row + 1
                continue
            if element.tag != f"{MAIN}c":
                if element.tag == f"{MAIN}sheetData":
                    return None
                continue
            if _holds_value(element):
                ref = element.get("r")
                m = _CELL_REF.fullmatch(ref) if ref else None
                return int(m.group(2)) - 1 if m else row
            element.clear()
    except ElementTree.ParseError as exc:
        raise LayoutUnknown(str(exc)) from exc
    return None


def _holds_value(cell: ElementTree.Element) -> bool:
    """As calamine counts a cell: a value (``<v>``) or inline text, even an empty one."""
    v = cell.find(f"{MAIN}v")
    return (v is not None and v.text is not None) or cell.find(f"{MAIN}is") is not None


def merged_ranges(stream: IO[bytes]) -> list[Range]:
    """Every merged range of the part, scanning it chunk by chunk for ``<mergeCell``."""
    found: list[Range] = []
    carry = b""
    while chunk := stream.read(_CHUNK):
        text = carry + chunk
        start = text.find(b"mergeCell")
        if start < 0:
            carry = text[-64:]
            continue
        last = text.rfind(b">")
        for m in _MERGE_REF.finditer(text, max(start - 16, 0), last + 1):
            c0, r0, c1, r1 = m.groups()
            c1, r1 = (c1 or c0), (r1 or r0)
            found.append(
                ((int(r0) - 1, column_index(c0.decode())), (int(r1) - 1, column_index(c1.decode())))
            )
        carry = text[last + 1 :]
    return found


def read_layout(book: zipfile.ZipFile, part: str) -> SheetLayout:
    """The layout of the sheet in ``part`` (see :func:`sheet_parts`)."""
    try:
        with book.open(part) as stream:
            top = first_value_row(stream)
        with book.open(part) as stream:
            merged = merged_ranges(stream)
    except KeyError as exc:
        raise LayoutUnknown(f"no part {part}") from exc
    return SheetLayout(top, merged)
