"""Grid codes (网格编码): generate them in reading order, and check the ones a file brings.

A grid code has 15 digits: the division code (6) + street (3) + community (3) + the
grid's sequence in its community (3).  The sequence runs west to east, north to
south, as a page is read: the grids are cut into rows of about one grid's height
(by their representative points, from the north), and each row is read from the
west.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

import shapely

from gis.errors import GridError, InvalidInput
from grids.locate import representative_points

COMMUNITY_CODE_DIGITS = 12
GRID_CODE_DIGITS = 15


class GridCodeError(GridError, InvalidInput):
    """A grid or community code is malformed, duplicated or in the wrong community."""


@dataclass(frozen=True)
class CodeProblem:
    """One bad code: its 1-based row, the code, what is wrong and how to fix it."""

    row: int
    code: str
    message: str
    fix: str


def reading_order(geoms: npt.ArrayLike) -> np.ndarray:
    """Positions of the shapes in reading order: rows from north to south, west to east.

    Parameters
    ----------
    geoms
        Polygons in EPSG:4326.

    Returns
    -------
    numpy.ndarray
        A permutation: ``geoms[order]`` is in reading order.
    """
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return np.empty(0, dtype=np.int64)
    lon, lat = representative_points(arr)
    # a row is about one grid high: the median height of the shapes' bounding boxes
    bounds = shapely.bounds(arr)
    row_height = float(np.median(bounds[:, 3] - bounds[:, 1])) or 1e-9
    north = float(lat.max())
    row = np.floor((north - lat) / row_height).astype(np.int64)
    return np.lexsort((lon, row))


def generate_codes(community_code: str, geoms: npt.ArrayLike, start: int = 1) -> list[str]:
    """Codes for the grids of one community, numbered in reading order from ``start``.

    Returns
    -------
    list of str
        ``codes[i]`` is the code of ``geoms[i]``.

    Raises
    ------
    GridCodeError
        When the community code is not 12 digits or there are more than 999 grids.
    """
    check_community_code(community_code)
    arr = np.asarray(geoms, dtype=object)
    if start + len(arr) - 1 > 999:
        raise GridCodeError(
            f"community {community_code} would have {start + len(arr) - 1} grids; "
            "a grid sequence has 3 digits (at most 999)"
        )
    codes = [""] * len(arr)
    for seq, pos in enumerate(reading_order(arr), start=start):
        codes[int(pos)] = f"{community_code}{seq:03d}"
    return codes


def check_community_code(code: str) -> None:
    """Raise :class:`GridCodeError` unless ``code`` is a 12-digit community code."""
    if not (isinstance(code, str) and len(code) == COMMUNITY_CODE_DIGITS and code.isdigit()):
        raise GridCodeError(
            f"community code {code!r} must be 12 digits: division (6) + street (3) + community (3)"
        )


def check_codes(codes: Sequence[str], community_codes: Sequence[str]) -> list[CodeProblem]:
    """Check grid codes given by a file against the communities they are said to be in.

    Each code must be 15 digits, start with its community's code, not use sequence
    000, and be unique.
    """
    problems: list[CodeProblem] = []
    first_row: dict[str, int] = {}
    for row, (code, community) in enumerate(zip(codes, community_codes, strict=True), 1):
        text = "" if code is None else str(code)
        if not (len(text) == GRID_CODE_DIGITS and text.isdigit()):
            problems.append(
                CodeProblem(
                    row,
                    text,
                    "a grid code has 15 digits",
                    "division (6) + street (3) + community (3) + "
                    "sequence (3), e.g. 330106109001001",
                )
            )
            continue
        if not text.startswith(str(community)):
            problems.append(
                CodeProblem(
                    row,
                    text,
                    f"does not start with its community's code {community}",
                    "renumber it, or fix its community",
                )
            )
        if text.endswith("000"):
            problems.append(
                CodeProblem(row, text, "sequence 000 is not a grid", "number grids from 001")
            )
        if text in first_row:
            problems.append(
                CodeProblem(
                    row,
                    text,
                    f"duplicate code (first in row {first_row[text]})",
                    "give each grid its own code",
                )
            )
        else:
            first_row[text] = row
    return problems
