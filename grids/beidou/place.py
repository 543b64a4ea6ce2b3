"""北斗 codes where records are stored and read: one cell a point, one point a code.

The located tables keep the packed cell (``beidou_cell``, ``bigint``) at the configured
level (``Settings.beidou_level``); people and other systems see the standard's code
string (``N50I90112C5``).  A code sent as a location stands for its cell's centre.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from grids.beidou.codec import _why, decode, encode, from_strings, to_strings
from grids.beidou.lattice import NO_CELL, BeidouError


def stored_beidou(lon: float, lat: float, level: int) -> int | None:
    """The packed 北斗 cell of one point (degrees, WGS84/CGCS2000); None in a polar cap."""
    cell = int(encode([lon], [lat], level)[0])
    return None if cell == NO_CELL else cell


def beidou_code(cell: int | None) -> str | None:
    """The standard's code string of a packed cell (None for none)."""
    if cell is None or cell == NO_CELL:
        return None
    return str(to_strings(np.array([cell], dtype=np.int64))[0])


def beidou_codes(cells: Iterable[object]) -> list[str | None]:
    """Code strings of packed cells (NA, None or 0 give None)."""
    values = [0 if c is None or pd.isna(c) else int(c) for c in cells]  # type: ignore[call-overload]
    texts = to_strings(np.asarray(values, dtype=np.int64)).tolist() if values else []
    return [t or None for t in texts]


def centre_of(code: str, parameter: str = "beidou") -> tuple[float, float]:
    """Longitude and latitude (degrees, CGCS2000 ≈ WGS84) of the centre of a 北斗 code's cell.

    Parameters
    ----------
    code
        A 2-D code of any level, ``N50J47539B82`` (either case).
    parameter
        The name the code was sent under, for the error message.

    Raises
    ------
    BeidouError
        Naming ``parameter``, the code, what is wrong with it and how to fix it.
    """
    text = code.strip()
    if not text:
        what, fix = "is empty", "send a 2-D code such as N50J47539B82"
    else:
        try:
            box = decode(from_strings([text]))
        except BeidouError:
            what, fix = _why(text)
        else:
            return float(box.lon[0]), float(box.lat[0])
    raise BeidouError(
        f"{parameter}={code!r} {what}: it is not a 北斗 grid code (GB/T 39409-2020); "
        f"{fix} (or send lon and lat instead)"
    )
