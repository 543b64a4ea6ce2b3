"""The 北斗 3-D grid code (GB/T 39409-2020 §6 and annex C): height layers, vectorised.

Heights are geodetic (ellipsoidal, 大地高), metres.  Annex C counts layers ``n`` at the
finest level so that a layer is as high as a level-10 cell is wide at its own height::

    n = floor(θ0/θ · log(1 + H/r0) / log(1 + θ0))     (C.12)
    H(n) = r0 · ((1 + θ0) ** (n · θ/θ0) - 1)         (C.8, the layer's lower face)

with ``θ0 = π/180`` (1°), ``θ = 1/2048″`` (so ``θ0/θ = 7,372,800``) and ``r0 =
6,378,137 m``.  ``n`` is a 32-bit integer whose bits, from the top, are the code's
characters ``a0`` (1 bit: 0 above the ellipsoid, 1 below), ``a1a2`` (6 bits, written
00-63), ``a3`` (3 bits), ``a4`` (1), ``a5`` (4), ``a6`` (4), ``a7`` (1), ``a8``-``a11``
(3 bits each) (C.14): level ``m`` keeps ``a0`` to its own character, so a layer of level
``m`` is ``n >> (bits below it)``.

Two readings of the text, stated where we choose:

* ``n`` below the ellipsoid is the 32-bit two's complement integer (C.14 "n 为 32bit
  整数"), so ``a0`` is its sign bit and a coarser layer is ``floor(n / 2**k)``.  Only
  this makes §6.1's "2**(m-1) layers below and 2**(m-1) above" exact, C.2's range
  ``-256..255`` at 1°, and C.5/C.6's "the layer above is code + 1, the upper face is
  its lower face" true below ground.  (Two open implementations write ``|n|`` after
  the sign bit instead; they agree with this module at and above the ellipsoid.)
* ``a5`` and ``a6`` hold 4 bits each, so they run 0-F, not the 0-E that §6.2 and
  figure 12 print (copied from the 2-D levels 4 and 5, which split in 15).

The 3-D code string interleaves each level's height characters after its 2-D ones
(figure 12, table 1): ``N036J0093000780B30100105204301400`` is ``N36J93078B3101524314``
at height layer 0.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

from grids.beidou.codec import _code_bytes, encode, from_strings
from grids.beidou.lattice import (
    CODE_LENGTH,
    LEVELS,
    UNITS_PER_DEGREE,
    BeidouError,
    FloatArray,
    IntArray,
    check_level,
)

__all__ = [
    "EARTH_SEMI_MAJOR_M",
    "HEIGHT_BITS",
    "encode_3d",
    "from_strings_3d",
    "height_layers",
    "layer_bounds",
    "layer_strings",
    "to_strings_3d",
]

EARTH_SEMI_MAJOR_M: Final = 6_378_137.0
"""r0: the semi-major axis of CGCS2000 (GB 22021-2008), metres."""
HEIGHT_BITS: Final = (1, 6, 3, 1, 4, 4, 1, 3, 3, 3, 3)
"""Bits of ``n`` each level adds (index 0: ``a0``, the sign), 32 in all (C.14)."""

_THETA0: Final = math.pi / 180.0
_LAYERS_PER_THETA0: Final = float(UNITS_PER_DEGREE)  # θ0/θ at level 10
_LOG_BASE: Final = math.log1p(_THETA0)
_N_MIN: Final = -(2**31)
_N_MAX: Final = 2**31 - 1
#: bits of n that a layer of each level keeps (sign included), and those below it
_KEPT: Final = tuple(sum(HEIGHT_BITS[: m + 1]) for m in range(LEVELS + 1))
_SHIFT: Final = tuple(32 - kept for kept in _KEPT)
#: characters of the height part at each level (a0, a1a2, then one a level)
_HEIGHT_CHARS: Final = tuple(1 if m == 0 else m + 2 for m in range(LEVELS + 1))
#: (width in characters, radix) of each height field a0, a1a2, a3 … a11
_FIELDS: Final = ((1, 2), (2, 10), (1, 8), (1, 2), (1, 16), (1, 16), (1, 2)) + ((1, 8),) * 4


def _interleave() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Columns of the 32-character 3-D code holding the 2-D and the height characters."""
    two_d: list[int] = []
    height: list[int] = []
    column = 0
    for m in range(LEVELS + 1):
        start_2d = 0 if m == 0 else CODE_LENGTH[m - 1]
        for _ in range(start_2d, CODE_LENGTH[m]):
            two_d.append(column)
            column += 1
        start_h = 0 if m == 0 else _HEIGHT_CHARS[m - 1]
        for _ in range(start_h, _HEIGHT_CHARS[m]):
            height.append(column)
            column += 1
    return tuple(two_d), tuple(height)


_COLS_2D, _COLS_HEIGHT = _interleave()
CODE_LENGTH_3D: Final = tuple(CODE_LENGTH[m] + _HEIGHT_CHARS[m] for m in range(LEVELS + 1))
"""Characters of a 3-D code of each level (32 at level 10)."""


def _heights(height_m: npt.ArrayLike) -> FloatArray:
    h = np.ascontiguousarray(height_m, dtype=np.float64).reshape(-1)
    low, high = _face(np.array([_N_MIN, _N_MAX + 1]))
    bad = ~(np.isfinite(h) & (h >= low) & (h < high))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise BeidouError(
            f"{int(bad.sum())} heights are not finite or outside the 3-D grid's "
            f"{low / 1000:,.0f} km to {high / 1000:,.0f} km (the first at index {first}: "
            f"{h[first]}); heights are geodetic (ellipsoidal) metres"
        )
    return h


def _face(n: IntArray) -> FloatArray:
    """Height of the lower face of finest-level layer ``n``, metres (C.8)."""
    return EARTH_SEMI_MAJOR_M * np.expm1(
        np.asarray(n, dtype=np.float64) / _LAYERS_PER_THETA0 * _LOG_BASE
    )


def height_layers(height_m: npt.ArrayLike, level: int = LEVELS) -> IntArray:
    """Height layer of each height at ``level``: 0 is the first layer above the ellipsoid.

    Parameters
    ----------
    height_m
        Geodetic (ellipsoidal) heights, metres.
    level
        1 to 10; a layer of level ``m`` is ``floor(n / 2**k)`` of the finest layer ``n``.

    Returns
    -------
    numpy.ndarray
        ``int64`` signed layers: negative below the ellipsoid.

    Raises
    ------
    BeidouError
        When a height is not finite or beyond the grid (about -6,336 km to 977,000 km).
    """
    level = check_level(level)
    h = _heights(height_m)
    n = np.floor(_LAYERS_PER_THETA0 * np.log1p(h / EARTH_SEMI_MAJOR_M) / _LOG_BASE)
    n = np.clip(n, _N_MIN, _N_MAX).astype(np.int64)
    # C.12 is rounded in floats; settle a height next to a face by the faces themselves,
    # so that a layer's faces (layer_bounds) always hold its heights
    n -= h < _face(n)
    n += (h >= _face(n + 1)) & (n < _N_MAX)
    return n >> _SHIFT[level]


def layer_bounds(layers: npt.ArrayLike, level: int = LEVELS) -> tuple[FloatArray, FloatArray]:
    """Lower and upper face of height layers of ``level``, geodetic metres.

    A layer holds the heights ``low <= h < high``.
    """
    level = check_level(level)
    k = _checked_layers(layers, level)
    return _face(k << _SHIFT[level]), _face((k + 1) << _SHIFT[level])


def _checked_layers(layers: npt.ArrayLike, level: int) -> IntArray:
    k = np.ascontiguousarray(layers, dtype=np.int64).reshape(-1)
    half = 1 << (_KEPT[level] - 1)
    bad = (k < -half) | (k >= half)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise BeidouError(
            f"height layer {int(k[first])} (index {first}) does not exist at level {level}: "
            f"layers run from {-half} to {half - 1}"
        )
    return k


def _height_bytes(layers: IntArray, level: IntArray) -> npt.NDArray[np.uint8]:
    """``(n, 12)`` ASCII height characters of layers (of per-row levels), level-10 width."""
    shift = np.asarray(_SHIFT, dtype=np.int64)[level]
    word = (layers << shift) & 0xFFFFFFFF  # the 32 bits of n, below the level zero
    out = np.zeros((layers.size, _HEIGHT_CHARS[LEVELS]), dtype=np.uint8)
    below = 32
    column = 0
    for bits, (width, radix) in zip(HEIGHT_BITS, _FIELDS, strict=True):
        below -= bits
        value = (word >> below) & ((1 << bits) - 1)
        if width == 2:
            out[:, column] = ord("0") + value // radix
            out[:, column + 1] = ord("0") + value % radix
        else:
            out[:, column] = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)[value]
        column += width
    return out


def layer_strings(layers: npt.ArrayLike, level: int = LEVELS) -> npt.NDArray[np.str_]:
    """The height part of 3-D codes (``a0a1a2…``, ``level + 2`` characters) of layers."""
    level = check_level(level)
    k = _checked_layers(layers, level)
    chars = _height_bytes(k, np.full(k.shape, level, dtype=np.int64))
    chars[:, _HEIGHT_CHARS[level] :] = 0
    return chars.view("S12").reshape(-1).astype("U12")


def encode_3d(
    lon: npt.ArrayLike, lat: npt.ArrayLike, height_m: npt.ArrayLike, level: int = LEVELS
) -> tuple[IntArray, IntArray]:
    """3-D cells of points: the 2-D cell and the height layer, both at ``level``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(cells, layers)``: packed 2-D cells (as :func:`~grids.beidou.codec.encode`)
        and signed height layers (as :func:`height_layers`); store them as a
        ``bigint`` and an ``integer``.  :func:`to_strings_3d` writes the standard's code.
    """
    cells = encode(lon, lat, level)
    layers = height_layers(height_m, level)
    if layers.size != cells.size:
        raise BeidouError(f"{cells.size} points but {layers.size} heights; pass one per point")
    return cells, layers


def to_strings_3d(cells: npt.ArrayLike, layers: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """The standard's 3-D code strings (figure 12: height characters interleaved), ``<U32``.

    Each layer is of its cell's level.  A cell of ``NO_CELL`` gives ``''``.
    """
    two_d, length_2d = _code_bytes(cells)
    k = np.ascontiguousarray(layers, dtype=np.int64).reshape(-1)
    if k.size != length_2d.size:
        raise BeidouError(f"{length_2d.size} cells but {k.size} layers; pass one per cell")
    level = np.searchsorted(np.asarray(CODE_LENGTH), length_2d)
    for m in np.unique(level[length_2d > 0]).tolist():
        _checked_layers(k[level == m], m)
    height = _height_bytes(k, np.maximum(level, 1))
    width = CODE_LENGTH_3D[LEVELS]
    out = np.zeros((k.size, width), dtype=np.uint8)
    out[:, list(_COLS_2D)] = two_d
    out[:, list(_COLS_HEIGHT)] = height
    length = np.where(length_2d > 0, np.asarray(CODE_LENGTH_3D)[level], 0)
    out[np.arange(width) >= length[:, None]] = 0
    return out.view(f"S{width}").reshape(-1).astype(f"U{width}")


def from_strings_3d(codes: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """``(cells, layers)`` of 3-D code strings (any level; letters in either case).

    Raises
    ------
    BeidouError
        When a code's length is not a 3-D code's, or its 2-D or height characters are
        out of range (the 2-D part is reported as such).
    """
    arr = np.asarray(codes, dtype=np.str_).reshape(-1)
    width = CODE_LENGTH_3D[LEVELS]
    length = np.char.str_len(arr)
    level = np.array(
        [CODE_LENGTH_3D.index(n) if n in CODE_LENGTH_3D[1:] else -1 for n in length.tolist()],
        dtype=np.int64,
    )
    bad = np.flatnonzero(level < 1)
    if bad.size:
        i = int(bad[0])
        sizes = ", ".join(str(n) for n in CODE_LENGTH_3D[1:])
        raise BeidouError(
            f"{bad.size} 3-D codes have a wrong length (the first, row {i + 1}: {str(arr[i])!r}, "
            f"{int(length[i])} characters); a 北斗 3-D code has {sizes} characters"
        )
    points = arr.astype(f"U{width}").view(np.uint32).reshape(arr.size, width)
    chars = np.where(points < 128, points, ord("?")).astype(np.uint8)
    two_d = chars[:, list(_COLS_2D)].copy()
    two_d[np.arange(CODE_LENGTH[LEVELS]) >= np.asarray(CODE_LENGTH)[level][:, None]] = 0
    cells = from_strings(two_d.view("S20").reshape(-1).astype("U20"))
    layers = np.zeros(arr.size, dtype=np.int64)
    height = chars[:, list(_COLS_HEIGHT)]
    for m in np.unique(level).tolist():
        rows_m = np.flatnonzero(level == m)
        layers[rows_m] = _parse_height(height[rows_m], m, arr[rows_m], rows_m)
    return cells, layers


def _parse_height(
    chars: npt.NDArray[np.uint8], level: int, codes: npt.NDArray[np.str_], rows: IntArray
) -> IntArray:
    """Signed layers of one level from the height characters (``(n, 12)`` bytes)."""
    digits = np.full(256, 99, dtype=np.int64)
    for i, c in enumerate("0123456789ABCDEF"):
        digits[ord(c)] = digits[ord(c.lower())] = i
    word = np.zeros(chars.shape[0], dtype=np.int64)
    bad = np.zeros(chars.shape[0], dtype=bool)
    column = 0
    for m, (bits, (width, radix)) in enumerate(zip(HEIGHT_BITS, _FIELDS, strict=True)):
        if m > level:
            break
        if width == 2:
            tens, ones = digits[chars[:, column]], digits[chars[:, column + 1]]
            value = tens * 10 + ones
            bad |= (tens > 9) | (ones > 9)
        else:
            value = digits[chars[:, column]]
            bad |= value >= radix
        bad |= value >= (1 << bits)
        word = (word << bits) | np.where(bad, 0, value)
        column += width
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BeidouError(
            f"{int(bad.sum())} 3-D codes have height characters out of range (the first, "
            f"row {int(rows[i]) + 1}: {str(codes[i])!r}); after the hemisphere letter comes "
            "a0 (0 or 1), after the sheet a1a2 (00-63), then per level 0-7, 0-1, 0-F, 0-F, "
            "0-1, then 0-7 for levels 7 to 10"
        )
    kept = _KEPT[level]
    return np.where(word >= 1 << (kept - 1), word - (1 << kept), word)
