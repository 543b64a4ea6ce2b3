"""Admin-area boundaries from any source, AMap-derived files included, with their hierarchy.

A boundary file may carry ``code``/``name``/``level``/``parent_code`` in any of the
spellings of the data dictionary (AMap's ``adcode``, 区划代码 …), levels in Chinese
(区, 街道, 社区, 小区) or English, or nothing at all: the widely used AMap-derived files
are one bare ``MultiPolygon`` per file, named by its division code (``320102.geojson``).

* **code**: the column, else the file name when the file holds one area and its name is
  a code; otherwise the file is refused, saying so.
* **level**: the column, else from the code's length (China's division codes: 6 digits
  a district 区, 9 a street 街道, 12 a community 社区, longer an estate 小区).
* **parent**: the column, else the longest code of the file or the database that the
  code starts with and that is of a higher level.
* **name**: the column, else the code (rename later by importing a file with names).
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
LEVEL_BY_LENGTH = {6: "district", 9: "street", 12: "community"}
_CODE = re.compile(r"^[0-9A-Za-z]{6,32}$")


def level_of(code: str) -> str:
    """The level a division code's length says: 6 district, 9 street, 12 community, more estate."""
    return LEVEL_BY_LENGTH.get(len(code), "estate" if len(code) > 12 else "district")


def parent_of(code: str, level: str, known: dict[str, str]) -> str | None:
    """The longest known code of a higher level that ``code`` starts with."""
    rank = ADMIN_LEVELS.index(level)
    best: str | None = None
    for other, other_level in known.items():
        if (
            other != code
            and code.startswith(other)
            and ADMIN_LEVELS.index(other_level) < rank
            and (best is None or len(other) > len(best))
        ):
            best = other
    return best


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
                    "use 区, 街道, 社区 or 小区 (district, street, community, estate)",
                )
            )
        level = level.where(level.notna(), codes.map(lambda c: level_of(c) if c else None))
    else:
        level = codes.map(lambda c: level_of(c) if c else None)
        notes.append("levels from the codes' lengths (6 区, 9 街道, 12 社区)")
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
