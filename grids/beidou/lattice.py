"""The 北斗 grid as an integer lattice: levels, cell sizes, digits and packed 64-bit cells.

Every cell edge of GB/T 39409-2020's ten levels is a whole multiple of 1/2048″, the
size of a level-10 cell, so a position is two integers: ``X`` and ``Y``, the distance
from the prime meridian and from the equator in units of 1/2048″ (7,372,800 units a
degree), plus the two hemispheres.  The standard numbers every level's rows and columns
away from the origin (its figures 2 to 8 mirror the numbering in the western and
southern hemispheres), so a cell is a half-open box ``[k, k + 1)`` of ``|lon|`` and
``|lat|`` at every level, whatever the hemisphere.

A cell is packed into one ``int64`` (PostgreSQL ``bigint``) from its mixed-radix
position: the hemisphere, the level-1 sheet, then each level's digit, most significant
first, exactly in the order of the code's characters (so that the integers of one
level sort as their code strings do).  With ``pos`` the position among the cells of
its level ``L`` and ``M`` the number of level-10 cells in it::

    cell = 2 * pos + 1                      at level 10 (odd)
    cell = 2 * (pos * M + 10 - L)           at levels 1 to 9 (even)

The level is the low bit, or ``(cell >> 1) % 64`` (``M`` is a multiple of 64 below
level 10); every descendant of a cell, the cell included, lies in
``[2 * pos * M, 2 * (pos + 1) * M)`` (:func:`descendant_range`), so "everything in this
cell" is one ``BETWEEN`` on an indexed ``bigint`` column.  The largest cell is below
``6.9e18 < 2**63``; ``0`` is no cell (:data:`NO_CELL`).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from gis.errors import GridError, InvalidInput, TooLarge

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

UNITS_PER_DEGREE: Final = 7_372_800
"""Lattice units (level-10 cells, 1/2048″) in one degree: 3600 × 2048."""
LEVELS: Final = 10
"""The standard's 2-D levels, 1 (6° × 4°, a 1:1,000,000 sheet) to 10 (1/2048″)."""
NO_CELL: Final = 0
"""The packed value of "no cell": a point in a polar cap, or an empty slot."""
POLAR_LAT: Final = 88.0
"""Latitude (degrees, north and south) from which the standard's polar caps begin."""

_U: Final = UNITS_PER_DEGREE
# cell sizes per level, in lattice units; index 0 unused
CELL_LON: Final = (0, 6 * _U, _U // 2, _U // 4, _U // 60, _U // 900, _U // 1800, 512, 64, 8, 1)
"""Width of a cell of each level along the parallel, lattice units (6°, 30′, 15′, 1′ …)."""
CELL_LAT: Final = (0, 4 * _U, _U // 2, _U // 6, _U // 60, _U // 900, _U // 1800, 512, 64, 8, 1)
"""Height of a cell of each level along the meridian, lattice units (4°, 30′, 10′, 1′ …)."""
SPLIT_LON: Final = (0, 60, 12, 2, 15, 15, 2, 8, 8, 8, 8)
"""Columns a parent is split into at each level (level 1: the 60 sheets around the globe)."""
SPLIT_LAT: Final = (0, 22, 8, 3, 10, 15, 2, 8, 8, 8, 8)
"""Rows a parent is split into at each level (level 1: 22 bands of 4° from the equator)."""
CODE_LENGTH: Final = (1, 4, 6, 7, 9, 11, 12, 14, 16, 18, 20)
"""Characters of a code of each level (index 0: the hemisphere letter alone)."""
Z_ORDER_LEVELS: Final = (3, 6)
"""Levels whose one character is a Z-order digit ``2 * row + column`` (figures 4 and 7)."""

#: radix of each level's digit in the packed position (level 1 also carries the sheet)
RADIX: Final = tuple(lon * lat for lon, lat in zip(SPLIT_LON, SPLIT_LAT, strict=True))
#: level-10 cells in one cell of each level (M above); index 0: in one hemisphere
SPAN: Final = tuple(int(np.prod(RADIX[level + 1 :], dtype=object)) for level in range(11))
#: cells of each level on the globe, both hemispheres (polar caps excluded)
COUNT: Final = tuple(2 * int(np.prod(RADIX[1 : level + 1], dtype=object)) for level in range(11))

_POLAR_Y: Final = 88 * _U
_HALF_TURN: Final = 180 * _U


class BeidouError(GridError, InvalidInput):
    """A 北斗 grid code, cell, level or coordinate is not one the standard defines."""


class BeidouTooLarge(BeidouError, TooLarge):
    """An answer would hold more cells than the limit; the message says how to ask for less."""


def check_level(level: int) -> int:
    """Return ``level`` if it is one of the standard's 2-D levels (1 to 10), else raise."""
    if isinstance(level, bool) or not isinstance(level, int | np.integer):
        raise BeidouError(f"level must be a whole number 1 to 10, not {level!r}")
    if not 1 <= int(level) <= LEVELS:
        raise BeidouError(
            f"level {level} does not exist: GB/T 39409 has levels 1 (6°×4°) to 10 (1/2048″)"
        )
    return int(level)


# --------------------------------------------------------------------------- coordinates


def exact_units(value: FloatArray) -> IntArray:
    """``floor(value × 7,372,800)`` of non-negative degrees, exact for every float64.

    ``7,372,800 = 2**15 × 225``: scaling by the power of two is exact, and the rounding
    error of the product by 225 is recovered exactly (Dekker's two-product), so a
    value just below a cell edge is never rounded onto it.

    Parameters
    ----------
    value
        Non-negative angles, degrees.

    Returns
    -------
    numpy.ndarray
        ``int64`` lattice units.
    """
    product = value * 225.0
    scaled = product * 32768.0
    floor = np.floor(scaled)
    # two-product error of value * 225 (225 needs no split: it has 8 significant bits)
    t = value * 134217729.0  # 2**27 + 1
    high = t - (t - value)
    low = value - high
    error = (high * 225.0 - product) + low * 225.0
    units = floor.astype(np.int64)
    units -= ((scaled == floor) & (error < 0)).astype(np.int64)
    np.maximum(units, 0, out=units)
    return units


def degrees(units: npt.ArrayLike) -> FloatArray:
    """Lattice units as degrees, each correctly rounded (one division), so shared edges match."""
    return np.asarray(units, dtype=np.int64) / float(_U)


def lattice(lon: FloatArray, lat: FloatArray) -> tuple[IntArray, IntArray, BoolArray, BoolArray]:
    """Points as ``(X, Y, east, north)``: lattice units from the meridian and the equator.

    Longitudes are wrapped into [-180°, 180°); ±180° itself falls in the westernmost cell
    of sheet 1.  The equator belongs to the northern hemisphere and the prime meridian
    to the eastern one (each a closed edge of the cells next to it).  Polar points
    (``|lat| >= 88°``) keep their ``Y``; callers mask them with :func:`in_polar_cap`.
    """
    wrapped = np.where((lon >= -180.0) & (lon < 180.0), lon, (lon + 180.0) % 360.0 - 180.0)
    east = wrapped >= 0.0
    north = lat >= 0.0
    x = exact_units(np.abs(wrapped))
    np.minimum(x, _HALF_TURN - 1, out=x)
    y = exact_units(np.abs(lat))
    return x, y, east, north


def in_polar_cap(y: IntArray) -> BoolArray:
    """Tell which lattice rows lie in a polar cap (``|lat| >= 88°``), which has no cells here."""
    return y >= _POLAR_Y


# --------------------------------------------------------------------------- packing


def pack(pos: IntArray, level: int | IntArray) -> IntArray:
    """Packed cells from positions among the cells of their level (see the module docstring)."""
    lev = np.asarray(level, dtype=np.int64)
    span = np.asarray(SPAN, dtype=np.int64)[lev]
    return np.where(lev == LEVELS, 2 * pos + 1, 2 * (pos * span + (LEVELS - lev)))


def unpack(cells: IntArray) -> tuple[IntArray, IntArray]:
    """``(level, pos)`` of packed cells, level 0 where a value is no valid cell."""
    cells = np.asarray(cells, dtype=np.int64)
    odd = (cells & 1) == 1
    tag = (cells >> 1) & 63
    level = np.where(odd, LEVELS, np.where((tag >= 1) & (tag < LEVELS), LEVELS - tag, 0))
    level = np.where(cells > 0, level, 0)
    span = np.asarray(SPAN, dtype=np.int64)[level]
    start = (cells >> 1) - (LEVELS - level)
    pos = np.where(odd, cells >> 1, start // span)
    count = np.asarray(COUNT, dtype=np.int64)[level]
    whole = odd | (start % span == 0)
    level = np.where(whole & (pos >= 0) & (pos < count), level, 0)
    return level, np.where(level > 0, pos, 0)


def levels_of(cells: npt.ArrayLike) -> IntArray:
    """Level (1 to 10) of each packed cell, 0 where a value is no valid cell."""
    return unpack(np.asarray(cells, dtype=np.int64))[0]


def checked(cells: npt.ArrayLike, what: str = "cells") -> tuple[IntArray, IntArray, IntArray]:
    """``(cells, level, pos)`` of packed cells, raising :class:`BeidouError` on any invalid one."""
    arr = np.ascontiguousarray(cells, dtype=np.int64).reshape(-1)
    level, pos = unpack(arr)
    bad = np.flatnonzero(level == 0)
    if bad.size:
        first = int(bad[0])
        raise BeidouError(
            f"{bad.size} of the {what} are not 北斗 cells (the first at index {first}: "
            f"{int(arr[first])}); pass values made by this module's encode or from_strings"
        )
    return arr, level, pos


def descendant_range(cells: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Half-open ranges ``[low, high)`` holding each cell and every cell inside it.

    Parameters
    ----------
    cells
        Packed cells.

    Returns
    -------
    tuple of numpy.ndarray
        ``low`` and ``high``, ``int64``: a cell ``c`` lies in (or is) cell ``i`` exactly
        when ``low[i] <= c < high[i]``.
    """
    _, level, pos = checked(cells)
    span = np.asarray(SPAN, dtype=np.int64)[level]
    return 2 * pos * span, 2 * (pos + 1) * span


# --------------------------------------------------------------------------- digits


def digit(level: int, col: IntArray, row: IntArray) -> IntArray:
    """The packed digit of a level (2 to 10) from the column and row inside the parent.

    Columns count away from the prime meridian and rows away from the equator, in every
    hemisphere (the standard's figures 3 to 8).  Levels 3 and 6 use the Z order
    ``2 × row + column`` (one character); the others ``column × rows + row`` (two
    characters: the column then the row).
    """
    if level in Z_ORDER_LEVELS:
        return 2 * row + col
    return col * SPLIT_LAT[level] + row


def undigit(level: int, value: IntArray) -> tuple[IntArray, IntArray]:
    """``(column, row)`` inside the parent from a level's packed digit (:func:`digit` undone)."""
    if level in Z_ORDER_LEVELS:
        return value & 1, value >> 1
    return value // SPLIT_LAT[level], value % SPLIT_LAT[level]


def position(x: IntArray, y: IntArray, east: BoolArray, north: BoolArray, level: int) -> IntArray:
    """Position among the cells of ``level`` of the lattice points ``(x, y)`` (not polar).

    The hemisphere digit, the level-1 sheet (column 1 to 60 as on the 1:1,000,000 map,
    band A to V from the equator), then one digit per level, most significant first.
    """
    col = x // CELL_LON[1]
    row = y // CELL_LAT[1]
    sheet = np.where(east, 30 + col, 29 - col)
    pos = np.where(north, 0, 1) * RADIX[1] + sheet * SPLIT_LAT[1] + row
    for lev in range(2, level + 1):
        col_next = _cells_of(x, CELL_LON[lev])
        row_next = _cells_of(y, CELL_LAT[lev])
        a = col_next - col * SPLIT_LON[lev]
        b = row_next - row * SPLIT_LAT[lev]
        pos = pos * RADIX[lev] + digit(lev, a, b)
        col, row = col_next, row_next
    return pos


def _cells_of(units: IntArray, size: int) -> IntArray:
    """Whole cells of ``size`` lattice units in ``units`` (a shift when size is a power of 2)."""
    if size & (size - 1) == 0:
        return units >> (size.bit_length() - 1)
    return units // size


def corner(pos: IntArray, level: IntArray) -> tuple[IntArray, IntArray, BoolArray, BoolArray]:
    """``(X, Y, east, north)`` of the corner nearest the origin of each cell (定位角点)."""
    pos = np.asarray(pos, dtype=np.int64)
    level = np.asarray(level, dtype=np.int64)
    x = np.zeros(pos.shape, dtype=np.int64)
    y = np.zeros(pos.shape, dtype=np.int64)
    rest = pos.copy()
    for lev in range(LEVELS, 1, -1):
        here = level >= lev
        value = np.where(here, rest % RADIX[lev], 0)
        rest = np.where(here, rest // RADIX[lev], rest)
        a, b = undigit(lev, value)
        x += a * CELL_LON[lev]
        y += b * CELL_LAT[lev]
    sheet_band = rest % RADIX[1]
    north = rest // RADIX[1] == 0
    sheet, band = sheet_band // SPLIT_LAT[1], sheet_band % SPLIT_LAT[1]
    east = sheet >= 30
    x += np.where(east, sheet - 30, 29 - sheet) * CELL_LON[1]
    y += band * CELL_LAT[1]
    return x, y, east, north


def first_descendant(pos: IntArray, level: IntArray) -> IntArray:
    """Level-10 position of the first (origin-side) level-10 cell of each cell."""
    return pos * np.asarray(SPAN, dtype=np.int64)[np.asarray(level, dtype=np.int64)]


def signed_index(
    x: IntArray, y: IntArray, east: BoolArray, north: BoolArray, level: int
) -> tuple[IntArray, IntArray]:
    """Global column and row of cells of one level, signed.

    West of the meridian and south of the equator they are negative: the cell just west
    of 0° is column -1, the one just south of the equator row -1.
    """
    col = x // CELL_LON[level]
    row = y // CELL_LAT[level]
    return np.where(east, col, -col - 1), np.where(north, row, -row - 1)


def from_signed_index(
    col: IntArray, row: IntArray, level: int
) -> tuple[IntArray, IntArray, BoolArray, BoolArray]:
    """Inverse of :func:`signed_index`: the origin-side corner ``(X, Y, east, north)``."""
    east = col >= 0
    north = row >= 0
    x = np.where(east, col, -col - 1) * CELL_LON[level]
    y = np.where(north, row, -row - 1) * CELL_LAT[level]
    return x, y, east, north


def columns(level: int) -> int:
    """Columns of cells of ``level`` around the globe."""
    return 360 * _U // CELL_LON[level]


def rows(level: int) -> int:
    """Rows of cells of ``level`` in one hemisphere, from the equator to 88°."""
    return _POLAR_Y // CELL_LAT[level]
