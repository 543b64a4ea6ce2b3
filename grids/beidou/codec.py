"""Encode points to 北斗 2-D grid cells and back, vectorised: cells, codes, boxes, family.

Cells are packed ``int64`` values (see :mod:`grids.beidou.lattice`), the form to store
(PostgreSQL ``bigint``, like our H3 cells) and compute with; :func:`to_strings` and
:func:`from_strings` convert them to and from the standard's code strings
(``N50J47539B82553425``).  Every function takes and returns numpy arrays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

import shapely

from gis.errors import Problem
from grids.beidou.lattice import (
    CELL_LAT,
    CELL_LON,
    CODE_LENGTH,
    LEVELS,
    NO_CELL,
    RADIX,
    SPAN,
    SPLIT_LAT,
    SPLIT_LON,
    Z_ORDER_LEVELS,
    BeidouError,
    BeidouTooLarge,
    BoolArray,
    FloatArray,
    IntArray,
    check_level,
    checked,
    columns,
    corner,
    degrees,
    from_signed_index,
    in_polar_cap,
    lattice,
    levels_of,
    pack,
    position,
    rows,
    signed_index,
    undigit,
)
from grids.locate import _CHUNK, _in_chunks, _workers

__all__ = [
    "NEIGHBOUR_OFFSETS",
    "CellBoxes",
    "cell_polygons",
    "cells_in_box",
    "children",
    "compact",
    "decode",
    "encode",
    "from_strings",
    "neighbours",
    "parent",
    "to_strings",
    "uncompact",
    "valid",
]

NEIGHBOUR_OFFSETS: Final = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))
"""(east, north) steps of the columns of :func:`neighbours`: N, NE, E, SE, S, SW, W, NW."""

_HEX: Final = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
_MAX_PROBLEMS: Final = 20


# --------------------------------------------------------------------------- encode


def _points(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_arr = np.ascontiguousarray(lon, dtype=np.float64).reshape(-1)
    lat_arr = np.ascontiguousarray(lat, dtype=np.float64).reshape(-1)
    if lon_arr.shape != lat_arr.shape:
        raise BeidouError(f"lon and lat differ in length: {lon_arr.size} and {lat_arr.size}")
    bad = ~(np.isfinite(lon_arr) & (np.abs(lat_arr) <= 90.0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise BeidouError(
            f"{int(bad.sum())} points have a longitude that is not finite or a latitude "
            f"outside -90°..90° (the first at index {first}: lon={lon_arr[first]}, "
            f"lat={lat_arr[first]}); drop or repair them first (lon, lat order, degrees)"
        )
    return lon_arr, lat_arr


def encode(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    level: int = LEVELS,
    *,
    workers: int | None = 1,
    chunk_size: int = _CHUNK,
) -> IntArray:
    """北斗 2-D grid cells (GB/T 39409-2020 §5) of points, packed as ``int64``.

    Parameters
    ----------
    lon, lat
        Point coordinates, degrees (CGCS2000, which the standard uses; WGS84 agrees to
        centimetres).  Longitudes wrap; ±180° falls in sheet 1.  The equator counts as
        north, the prime meridian as east.
    level
        1 (6° × 4°) to 10 (1/2048″, about 1.5 cm).
    workers
        Threads (numpy releases the GIL); ``None`` for the number of cores, at most 4.
    chunk_size
        Points per thread at a time (bounds the temporaries' memory).

    Returns
    -------
    numpy.ndarray
        ``int64`` cells; :data:`~grids.beidou.lattice.NO_CELL` (0) for points in the
        polar caps (``|lat| >= 88°``), whose merged cells (§5.3) are not implemented.

    Raises
    ------
    BeidouError
        When a coordinate is not finite or a latitude is beyond ±90°, or the level is
        not 1 to 10.
    """
    level = check_level(level)
    lon_arr, lat_arr = _points(lon, lat)
    out = np.empty(lon_arr.size, dtype=np.int64)

    def job(part: slice) -> None:
        x, y, east, north = lattice(lon_arr[part], lat_arr[part])
        polar = in_polar_cap(y)
        cells = pack(position(x, y, east, north, level), level)
        cells[polar] = NO_CELL
        out[part] = cells

    _in_chunks(lon_arr.size, chunk_size, _workers(workers), job)
    return out


# --------------------------------------------------------------------------- decode


@dataclass(frozen=True)
class CellBoxes:
    """The boxes of cells: level and bounds, degrees (EPSG:4326 / CGCS2000).

    A cell holds the points with ``|lon|`` in ``[|inner edge|, |outer edge|)`` and
    likewise ``|lat|``: the edge nearer the prime meridian (the equator) belongs to it.
    Bounds are the lattice edges rounded to the nearest float64, so neighbours share
    their edges exactly and every point a cell holds lies inside its closed box.
    """

    level: IntArray
    west: FloatArray
    south: FloatArray
    east: FloatArray
    north: FloatArray

    @property
    def lon(self) -> FloatArray:
        """Longitude of each cell's centre, degrees."""
        return (self.west + self.east) / 2.0

    @property
    def lat(self) -> FloatArray:
        """Latitude of each cell's centre, degrees."""
        return (self.south + self.north) / 2.0

    @property
    def bounds(self) -> FloatArray:
        """``(n, 4)`` array of west, south, east, north, degrees (shapely's order)."""
        return np.column_stack([self.west, self.south, self.east, self.north])


def decode(cells: npt.ArrayLike) -> CellBoxes:
    """The boxes (level, bounds, centre) of packed cells or of code strings.

    Parameters
    ----------
    cells
        Packed ``int64`` cells, or code strings (then parsed by :func:`from_strings`).

    Raises
    ------
    BeidouError
        When a value is not a cell (or a string not a code).
    """
    arr = np.asarray(cells)
    if arr.dtype.kind in "USO":
        arr = from_strings(arr)
    _, level, pos = checked(arr)
    x, y, east, north = corner(pos, level)
    width = np.asarray(CELL_LON, dtype=np.int64)[level]
    height = np.asarray(CELL_LAT, dtype=np.int64)[level]
    lon_sign = np.where(east, 1, -1)
    lat_sign = np.where(north, 1, -1)
    inner_lon, outer_lon = degrees(lon_sign * x), degrees(lon_sign * (x + width))
    inner_lat, outer_lat = degrees(lat_sign * y), degrees(lat_sign * (y + height))
    return CellBoxes(
        level=level,
        west=np.minimum(inner_lon, outer_lon),
        south=np.minimum(inner_lat, outer_lat),
        east=np.maximum(inner_lon, outer_lon),
        north=np.maximum(inner_lat, outer_lat),
    )


def cell_polygons(cells: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Cells as shapely boxes, EPSG:4326 (degrees)."""
    box = decode(cells)
    return np.asarray(shapely.box(box.west, box.south, box.east, box.north), dtype=object)


# --------------------------------------------------------------------------- strings


def to_strings(cells: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """The standard's code strings of packed cells (``'N50J47539B82553425'``), ``<U20``.

    :data:`~grids.beidou.lattice.NO_CELL` gives ``''``.

    Raises
    ------
    BeidouError
        When a value is neither a cell nor ``NO_CELL``.
    """
    chars, _ = _code_bytes(cells)
    width = CODE_LENGTH[LEVELS]
    return chars.view(f"S{width}").reshape(-1).astype(f"U{width}")


def _code_bytes(cells: npt.ArrayLike) -> tuple[npt.NDArray[np.uint8], IntArray]:
    """``(n, 20)`` ASCII characters of the codes of cells (NUL-padded) and their lengths."""
    arr = np.ascontiguousarray(cells, dtype=np.int64).reshape(-1)
    empty = arr == NO_CELL
    _, level, pos = checked(np.where(empty, 1, arr))  # 1: a level-10 cell, in the gaps
    rest = pos * np.asarray(SPAN, dtype=np.int64)[level]
    chars = np.zeros((arr.size, CODE_LENGTH[LEVELS]), dtype=np.uint8)
    column = CODE_LENGTH[LEVELS]
    for lev in range(LEVELS, 1, -1):
        value = rest % RADIX[lev]
        rest //= RADIX[lev]
        if lev in Z_ORDER_LEVELS:
            column -= 1
            chars[:, column] = _HEX[value]
        else:
            col, row = undigit(lev, value)
            column -= 2
            chars[:, column] = _HEX[col]
            chars[:, column + 1] = _HEX[row]
    sheet, band = (rest % RADIX[1]) // SPLIT_LAT[1], (rest % RADIX[1]) % SPLIT_LAT[1]
    chars[:, 0] = np.where(rest // RADIX[1] == 0, ord("N"), ord("S"))
    chars[:, 1] = ord("0") + (sheet + 1) // 10
    chars[:, 2] = ord("0") + (sheet + 1) % 10
    chars[:, 3] = ord("A") + band
    length = np.where(empty, 0, np.asarray(CODE_LENGTH, dtype=np.int64)[level])
    chars[np.arange(CODE_LENGTH[LEVELS]) >= length[:, None]] = 0
    return chars, length


def _char_values() -> npt.NDArray[np.int8]:
    """Value of each byte as a code digit (hex, either case), -1 for others."""
    table = np.full(256, -1, dtype=np.int8)
    for i, c in enumerate("0123456789ABCDEF"):
        table[ord(c)] = i
        table[ord(c.lower())] = i
    return table


_VALUE: Final = _char_values()
_LEVEL_OF_LENGTH: Final = np.array(
    [CODE_LENGTH.index(n) if n in CODE_LENGTH[1:] else -1 for n in range(21)], dtype=np.int64
)


def _layout() -> list[tuple[int, int, int, str]]:
    """(column, level, largest value, what) of each character after the level-1 sheet."""
    out: list[tuple[int, int, int, str]] = []
    column = CODE_LENGTH[1]
    for lev in range(2, LEVELS + 1):
        if lev in Z_ORDER_LEVELS:
            out.append((column, lev, SPLIT_LON[lev] * SPLIT_LAT[lev] - 1, "Z-order digit"))
            column += 1
        else:
            out.append((column, lev, SPLIT_LON[lev] - 1, "column"))
            out.append((column + 1, lev, SPLIT_LAT[lev] - 1, "row"))
            column += 2
    return out


_LAYOUT: Final = _layout()


def _why(code: str) -> tuple[str, str]:
    """What is wrong with one code string, and how to fix it (for the error message)."""
    lengths = ", ".join(str(n) for n in CODE_LENGTH[1:-1]) + f" or {CODE_LENGTH[-1]}"
    if len(code) not in CODE_LENGTH[1:]:
        return (
            f"has {len(code)} characters",
            f"a 北斗 2-D code has {lengths} characters (levels 1 to 10), e.g. N50J47539B82",
        )
    if code[0].upper() not in "NS":
        return f"starts with {code[0]!r}", "the first character is N or S (the hemisphere)"
    if code[1:4] == "000":
        return (
            "is a polar-cap code (§5.3)",
            "cells north of 88°N and south of 88°S are not supported",
        )
    if not (code[1:3].isdigit() and 1 <= int(code[1:3]) <= 60):
        return (
            f"has sheet column {code[1:3]!r}",
            "characters 2-3 are the 1:1,000,000 sheet column, 01 to 60",
        )
    if not ("A" <= code[3].upper() <= "V"):
        return f"has band {code[3]!r}", "character 4 is the 4° band from the equator, A to V"
    for column, lev, largest, what in _LAYOUT:
        if column < len(code):
            value = int(code[column], 16) if code[column] in "0123456789ABCDEFabcdef" else -1
            if not 0 <= value <= largest:
                return (
                    f"has {code[column]!r} at character {column + 1}",
                    f"the level-{lev} {what} is 0 to {'0123456789ABCDEF'[largest]}",
                )
    return "is malformed", "check it against GB/T 39409-2020 figure 1"


def from_strings(codes: npt.ArrayLike | Iterable[str]) -> IntArray:
    """Packed cells of the standard's code strings (any of the levels 1 to 10).

    Letters may be either case; ``''`` gives :data:`~grids.beidou.lattice.NO_CELL`.

    Raises
    ------
    BeidouError
        Listing each malformed code by its 1-based row (the first 20), with what is
        wrong and how to fix it.
    """
    arr = np.asarray(codes, dtype=np.str_).reshape(-1)
    width = CODE_LENGTH[LEVELS]
    length = np.char.str_len(arr).astype(np.int64)
    too_long = length > width
    fixed = (np.where(too_long, "", arr) if too_long.any() else arr).astype(f"U{width}")
    points = fixed.view(np.uint32).reshape(arr.size, width)
    # one row per character position, contiguous, as bytes (non-ASCII becomes 0: invalid)
    chars = np.where(points < 128, points, 0).astype(np.uint8).T.copy()
    value = _VALUE[chars].astype(np.int64)
    level = np.where(too_long, -1, _LEVEL_OF_LENGTH[np.minimum(length, width)])
    empty = length == 0
    hemisphere = chars[0] & 0xDF  # upper case
    band = (chars[3] & 0xDF).astype(np.int64) - ord("A")
    bad = ~empty & (level < 1)
    bad |= ~empty & (hemisphere != ord("N")) & (hemisphere != ord("S"))
    tens, ones = value[1], value[2]
    sheet = tens * 10 + ones - 1
    bad |= ~empty & ((tens < 0) | (tens > 9) | (ones < 0) | (ones > 9) | (sheet < 0) | (sheet > 59))
    bad |= ~empty & ((band < 0) | (band >= SPLIT_LAT[1]))
    pos = np.where(hemisphere == ord("S"), 1, 0) * RADIX[1] + sheet * SPLIT_LAT[1] + band
    layout = iter(_LAYOUT)
    for lev in range(2, LEVELS + 1):
        present = level >= lev
        if lev in Z_ORDER_LEVELS:
            column, _, largest, _ = next(layout)
            d = value[column]
            bad |= present & ((d < 0) | (d > largest))
        else:
            column, _, largest_col, _ = next(layout)
            _, _, largest_row, _ = next(layout)
            a, b = value[column], value[column + 1]
            bad |= present & ((a < 0) | (a > largest_col) | (b < 0) | (b > largest_row))
            d = a * SPLIT_LAT[lev] + b
        pos = pos * RADIX[lev] + np.where(present, d, 0)
    if bad.any():
        _refuse(arr, np.flatnonzero(bad))
    level = np.where(empty, LEVELS, level)
    pos = np.where(empty, 0, pos // np.asarray(SPAN, dtype=np.int64)[level])
    return np.where(empty, NO_CELL, pack(pos, level))


def _refuse(codes: npt.NDArray[np.str_], bad: IntArray) -> None:
    problems = []
    for i in bad[:_MAX_PROBLEMS].tolist():
        what, fix = _why(str(codes[i]))
        problems.append(
            Problem(
                layer="北斗 codes",
                row=i + 1,
                record_id=None,
                field="code",
                message=f"{str(codes[i])!r} {what}",
                fix=fix,
            )
        )
    shown = "\n".join(f"  - {p}" for p in problems)
    more = f"\n  … and {bad.size - _MAX_PROBLEMS} more" if bad.size > _MAX_PROBLEMS else ""
    error = BeidouError(f"{bad.size} of {codes.size} 北斗 codes are malformed:\n{shown}{more}")
    error.problems = problems
    raise error


# --------------------------------------------------------------------------- family


def parent(cells: npt.ArrayLike, level: int | None = None) -> IntArray:
    """The cell of a coarser level holding each cell.

    Parameters
    ----------
    cells
        Packed cells, of any levels.
    level
        The parents' level; by default each cell's own level minus one.

    Raises
    ------
    BeidouError
        When a cell is not finer than ``level`` (or is of level 1 with no ``level``).
    """
    arr, own, pos = checked(cells)
    target = own - 1 if level is None else np.full(arr.shape, check_level(level))
    if np.any(target < 1) or np.any(target > own):
        raise BeidouError(
            f"a parent must be of a level from 1 to the cell's own; asked for level {level} "
            f"of cells of levels {sorted(set(own.tolist()))}"
        )
    span = np.asarray(SPAN, dtype=np.int64)
    return pack((pos * span[own]) // span[target], target)


def _one_level(own: IntArray) -> int:
    levels = np.unique(own)
    if levels.size != 1:
        raise BeidouError(
            f"pass cells of one level at a time; these are of levels {levels.tolist()}"
        )
    return int(levels[0])


def children(cells: npt.ArrayLike, level: int | None = None) -> IntArray:
    """The cells of a finer level inside each cell, origin-side first (in code order).

    Parameters
    ----------
    cells
        Packed cells, all of one level.
    level
        The children's level; by default the next one.

    Returns
    -------
    numpy.ndarray
        ``(n, k)`` ``int64``: row ``i`` holds the ``k`` cells of ``level`` in ``cells[i]``.

    Raises
    ------
    BeidouError
        When the cells mix levels, the level is not finer, or there would be more than
        100 million children.
    """
    arr, own, pos = checked(cells)
    if arr.size == 0:
        return np.zeros((0, 0), dtype=np.int64)
    lev = _one_level(own)
    target = lev + 1 if level is None else check_level(level)
    if target <= lev:
        raise BeidouError(f"children must be of a finer level than {lev}, not {target}")
    k = SPAN[lev] // SPAN[target]
    if k * arr.size > 100_000_000:
        raise BeidouTooLarge(
            f"{arr.size} cells of level {lev} hold {k * arr.size:,} cells of level "
            f"{target}; ask for fewer cells or a coarser level"
        )
    return pack(pos[:, None] * k + np.arange(k, dtype=np.int64)[None, :], target)


def neighbours(cells: npt.ArrayLike) -> IntArray:
    """The eight cells of the same level around each cell.

    Columns wrap around the antimeridian and cross the prime meridian and the equator;
    there is no neighbour beyond 88°N/S (the polar caps).

    Returns
    -------
    numpy.ndarray
        ``(n, 8)`` ``int64``, columns in :data:`NEIGHBOUR_OFFSETS` order (N, NE, E, SE,
        S, SW, W, NW); :data:`~grids.beidou.lattice.NO_CELL` where there is none.
    """
    arr, own, pos = checked(cells)
    out = np.full((arr.size, len(NEIGHBOUR_OFFSETS)), NO_CELL, dtype=np.int64)
    for lev in np.unique(own).tolist():
        at = np.flatnonzero(own == lev)
        x, y, east, north = corner(pos[at], own[at])
        col, row = signed_index(x, y, east, north, lev)
        half, top = columns(lev) // 2, rows(lev)
        for k, (dx, dy) in enumerate(NEIGHBOUR_OFFSETS):
            c = (col + dx + half) % (2 * half) - half
            r = row + dy
            inside = (r >= -top) & (r < top)
            nx, ny, ne, nn = from_signed_index(c, np.where(inside, r, 0), lev)
            found = pack(position(nx, ny, ne, nn, lev), lev)
            out[at, k] = np.where(inside, found, NO_CELL)
    return out


def compact(cells: npt.ArrayLike) -> IntArray:
    """The same area with fewer cells: every complete set of siblings becomes its parent.

    Parameters
    ----------
    cells
        Packed cells that do not overlap (none inside another).

    Returns
    -------
    numpy.ndarray
        Sorted ``int64`` cells of mixed levels.
    """
    current, _, _ = checked(np.unique(np.asarray(cells, dtype=np.int64)))
    for lev in range(LEVELS, 1, -1):
        here = checked(current)[1] == lev
        if not here.any():
            continue
        up = parent(current[here])
        family, count = np.unique(up, return_counts=True)
        whole = family[count == RADIX[lev]]
        if whole.size:
            merged = np.isin(up, whole)
            current = np.concatenate([current[~here], current[here][~merged], whole])
    return np.sort(current)


def uncompact(cells: npt.ArrayLike, level: int) -> IntArray:
    """Every cell of ``level`` inside the given cells (of that level or coarser), sorted.

    Raises
    ------
    BeidouError
        When a cell is finer than ``level`` or the answer would exceed 100 million cells.
    """
    arr, own, _ = checked(cells)
    level = check_level(level)
    if np.any(own > level):
        raise BeidouError(f"cells finer than level {level} cannot be uncompacted to it")
    parts = [children(arr[own == lev], level).reshape(-1) for lev in np.unique(own) if lev < level]
    parts.append(arr[own == level])
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def cells_in_box(west: float, south: float, east: float, north: float, level: int) -> IntArray:
    """Every cell of ``level`` whose closed box meets the box ``[west, east] × [south, north]``.

    Degrees, ``west <= east`` (no antimeridian crossing), latitudes within ±88°.
    """
    level = check_level(level)
    lo = np.array([west, south])
    hi = np.array([east, north])
    col0, row0 = _signed_at(lo[0], lo[1], level, low=True)
    col1, row1 = _signed_at(hi[0], hi[1], level, low=False)
    n_cols, n_rows = col1 - col0 + 1, row1 - row0 + 1
    if n_cols * n_rows > 100_000_000:
        raise BeidouTooLarge(
            f"the box holds {n_cols * n_rows:,} cells of level {level}; choose a coarser level"
        )
    col = np.repeat(np.arange(col0, col1 + 1, dtype=np.int64), n_rows)
    row = np.tile(np.arange(row0, row1 + 1, dtype=np.int64), n_cols)
    x, y, e, n = from_signed_index(col, row, level)
    return pack(position(x, y, e, n, level), level)


def _signed_at(lon: float, lat: float, level: int, *, low: bool) -> tuple[int, int]:
    """Signed column and row of the cell whose closed box holds ``(lon, lat)``.

    On an edge, the lower cell when ``low`` (west/south side), else the upper one, so
    a box's cells include those that only touch it.
    """
    x, y, east, north = lattice(np.array([lon]), np.array([lat]))
    col, row = signed_index(x, y, east, north, level)
    c, r = int(col[0]), int(row[0])
    box = decode(pack(position(*from_signed_index(col, row, level), level), level))
    if low:
        c -= int(box.west[0] == lon)
        r -= int(box.south[0] == lat)
    else:
        c += int(box.east[0] == lon)
        r += int(box.north[0] == lat)
    half, top = columns(level) // 2, rows(level)
    return max(-half, min(half - 1, c)), max(-top, min(top - 1, r))


def valid(cells: npt.ArrayLike) -> BoolArray:
    """Tell which values are 北斗 cells (``NO_CELL`` and other integers are not)."""
    return levels_of(cells) > 0
