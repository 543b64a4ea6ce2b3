"""Admin-area boundaries from any source, AMap-derived files included, with their hierarchy.

A boundary file may carry ``code``/``name``/``level``/``parent_code`` in any of the
spellings of the data dictionary (AMap's ``adcode``, 区划代码 …), levels in Chinese
(省, 市, 区, 县, 街道, 乡镇, 社区, 村, 小区) or English, or nothing at all: the widely used
AMap-derived files are one bare ``MultiPolygon`` per file, named by its division code
(``320102.geojson``).

* **code**: the column, else the file name when the file holds one area and its name is
  a code; otherwise the file is refused, saying so.
* **level**: the column, else from the code (China's division codes, GB/T 2260): 2 digits
  a province 省 (``32``), 4 a city 市 (``3201``), 6 a district 区 (``320102``) — or, in the
  6-digit form AMap and the national table use for all three, a province when it ends in
  ``0000`` (``320000``) and a city when it ends in ``00`` (``320100``) —, 9 a street 街道,
  12 a community 社区, longer an estate 小区.
* **parent**: the column, else the longest code of the file or the database that the
  code starts with and that is of a higher level (a province's or city's code in its
  6-digit form counts by its 2 or 4 significant digits: ``320102`` lies in ``320100`` and
  in ``320000``).  An area stored earlier without a parent (a district loaded before its
  city) is hung under a province or city of the import that holds it
  (:func:`adopted_parents`).
* **name**: the column, else the code (rename later by importing a file with names).

The grid codes are not affected: division code (6, the district's) + street (3) +
community (3) + sequence (3); grids lie inside communities.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

import geopandas as gpd

from etl.imports import values as vals
from etl.imports.dictionary import AREAS
from etl.imports.problems import ImportRejected, RowProblem
from etl.imports.registers import Source, geometries_in_wgs84
from gis.db.models import ADMIN_LEVELS

#: Level by the length of a division code.
LEVEL_BY_LENGTH = {2: "province", 4: "city", 6: "district", 9: "street", 12: "community"}
_CODE = re.compile(r"^(?:[0-9]{2}|[0-9]{4}|[0-9A-Za-z]{6,32})$")
#: How many leading digits of a province's or a city's code its areas' codes start with.
SIGNIFICANT = {"province": 2, "city": 4}


def level_of(code: str) -> str:
    """The level a division code says (see the module docstring).

    ``32`` province, ``3201`` city, ``320102`` district, ``320000`` province, ``320100``
    city, 9 digits street, 12 community, longer estate.
    """
    if len(code) == 6 and code.isdigit():
        if code.endswith("0000"):
            return "province"
        if code.endswith("00"):
            return "city"
    return LEVEL_BY_LENGTH.get(len(code), "estate" if len(code) > 12 else "district")


def code_prefix(code: str, level: str) -> str:
    """The leading part of ``code`` that the codes of the areas inside it start with.

    A province's or city's code in its 6-digit form (``320000``, ``320100``) counts by
    its 2 or 4 significant digits; any other code is its own prefix.
    """
    digits = SIGNIFICANT.get(level)
    if digits is not None and len(code) > digits and set(code[digits:]) == {"0"}:
        return code[:digits]
    return code


def parent_of(code: str, level: str, known: dict[str, str]) -> str | None:
    """The known area of a higher level whose code ``code`` starts with, the nearest one.

    Nearest: the longest significant prefix (:func:`code_prefix`), a lower level on a tie
    (a city ``3201`` rather than its province's 6-digit ``320000`` …).
    """
    rank = ADMIN_LEVELS.index(level)
    best: tuple[int, int] | None = None
    found: str | None = None
    for other, other_level in known.items():
        if other == code or other_level not in ADMIN_LEVELS:
            continue
        other_rank = ADMIN_LEVELS.index(other_level)
        if other_rank >= rank or not code.startswith(code_prefix(other, other_level)):
            continue
        score = (len(code_prefix(other, other_level)), other_rank)
        if best is None or score > best:
            best, found = score, other
    return found


def adopted_parents(orphans: dict[str, str], imported: dict[str, str]) -> dict[str, str]:
    """Parents for stored areas that have none, among the areas of an import.

    A district loaded before its city (the sample district, a city's boundaries
    imported later) is hung under the nearest province or city of the import whose
    code it starts with (:func:`parent_of`).

    Parameters
    ----------
    orphans
        ``code -> level`` of the stored areas without a parent.
    imported
        ``code -> level`` of the areas of the import.

    Returns
    -------
    dict
        ``code -> parent code`` for the orphans that found one.
    """
    found = {}
    for code, level in orphans.items():
        if code in imported or level not in ADMIN_LEVELS:
            continue
        parent = parent_of(code, level, imported)
        if parent is not None:
            found[code] = parent
    return found


def area_layer(
    source: Source, filename: str, stored: pd.DataFrame, coord_type: str
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The ``admin_area`` layer of a boundary file, and notes on what was inferred.

    Parameters
    ----------
    source
        The file's records (:func:`etl.imports.registers.map_columns` with
        :data:`etl.imports.dictionary.AREAS`).
    filename
        The file's name: its stem is the code of a single-area file without one.
    stored
        ``code`` and ``level`` of the areas already stored (parents may be among them).
    coord_type
        The coordinates of the file: wgs84, gcj02 or bd09.

    Raises
    ------
    ImportRejected
        When codes are missing and the file name cannot give one, or a level is unknown.
    """
    frame = source.frame
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ImportRejected(
            [
                RowProblem(
                    source.sheet,
                    None,
                    None,
                    None,
                    "the file has no geometry",
                    "bring the boundaries as GeoJSON, GeoPackage or Shapefile",
                )
            ]
        )
    notes: list[str] = []
    problems: list[RowProblem] = []
    n = len(frame)
    stem = Path(filename).stem
    if "code" in frame.columns:
        codes = vals.texts(frame["code"])
    elif n == 1 and _CODE.match(stem):
        codes = pd.Series([stem], dtype=object)
        notes.append(f"code {stem} from the file name")
    else:
        raise ImportRejected(
            [
                RowProblem(
                    source.sheet,
                    None,
                    "区划代码",
                    None,
                    "the file has no code column"
                    + ("" if n == 1 else f" and holds {n} areas, so its name cannot be the code"),
                    "add an adcode / 区划代码 column (or --map 源列=code), or bring one area per "
                    "file named by its code, e.g. 320102.geojson",
                )
            ]
        )
    header = source.headers.get("code", "区划代码")
    for pos in np.flatnonzero(codes.isna().to_numpy()):
        problems.append(
            RowProblem(
                source.sheet,
                int(source.rows[pos]),
                header,
                None,
                "no code",
                "fill in the division code",
            )
        )
    if "level" in frame.columns:
        level, bad = vals.choices(frame["level"], AREAS.field("level"))
        raw = frame["level"].to_numpy(dtype=object)
        for pos in np.flatnonzero(bad):
            problems.append(
                RowProblem(
                    source.sheet,
                    int(source.rows[pos]),
                    source.headers["level"],
                    raw[pos],
                    "unknown level",
                    "use 省, 市, 区, 街道, 社区 or 小区 (province, city, district, street, "
                    "community, estate)",
                )
            )
        level = level.where(level.notna(), codes.map(lambda c: level_of(c) if c else None))
    else:
        level = codes.map(lambda c: level_of(c) if c else None)
        notes.append("levels from the codes (2 省, 4 市, 6 区, 9 街道, 12 社区)")
    if problems:
        raise ImportRejected(problems)
    names = (
        vals.texts(frame["name"])
        if "name" in frame.columns
        else pd.Series([None] * n, dtype=object)
    )
    if names.isna().any():
        notes.append(f"{int(names.isna().sum())} area(s) without a name are named by their code")
        names = names.where(names.notna(), codes)
    known = dict(zip(stored["code"], stored["level"], strict=True))
    known.update(dict(zip(codes, level, strict=True)))
    if "parent_code" in frame.columns:
        parents = vals.texts(frame["parent_code"])
    else:
        parents = pd.Series(
            [parent_of(c, lvl, known) for c, lvl in zip(codes, level, strict=True)], dtype=object
        )
    geoms = geometries_in_wgs84(frame, coord_type, notes).to_numpy()
    layer = gpd.GeoDataFrame(
        {
            "code": codes.to_numpy(dtype=object),
            "name": names.to_numpy(dtype=object),
            "level": level.to_numpy(dtype=object),
            "parent_code": parents.to_numpy(dtype=object),
        },
        geometry=geoms,
        crs=4326,
    )
    return layer, notes
