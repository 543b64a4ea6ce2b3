"""北斗网格位置码 (BeiDou grid location code, GB/T 39409-2020): a vectorised codec.

The standard divides the Earth between 88°S and 88°N into ten nested levels of
longitude/latitude cells, from a 1:1,000,000 map sheet (6° × 4°) down to 1/2048″
(about 1.5 cm), and names each cell by a code of up to 20 characters: the hemisphere
(``N``/``S``), the sheet (column ``01``-``60``, band ``A``-``V``), then one or two
characters a level (``N50J47539B82553425``).  A 3-D code interleaves a height layer
code (§6, annex C) into it.

Modules: :mod:`~grids.beidou.lattice` (the integer lattice and the packed ``int64``
form), :mod:`~grids.beidou.codec` (points to cells, cells to boxes, codes, parents,
children, neighbours), :mod:`~grids.beidou.height` (the 3-D extension) and
:mod:`~grids.beidou.cover` (polygons to cells).
"""

from grids.beidou.codec import (
    NEIGHBOUR_OFFSETS,
    CellBoxes,
    cell_polygons,
    cells_in_box,
    children,
    compact,
    decode,
    encode,
    from_strings,
    neighbours,
    parent,
    to_strings,
    uncompact,
    valid,
)
from grids.beidou.lattice import (
    LEVELS,
    NO_CELL,
    BeidouError,
    BeidouTooLarge,
    descendant_range,
    levels_of,
)

__all__ = [
    "LEVELS",
    "NEIGHBOUR_OFFSETS",
    "NO_CELL",
    "BeidouError",
    "BeidouTooLarge",
    "CellBoxes",
    "cell_polygons",
    "cells_in_box",
    "children",
    "compact",
    "decode",
    "descendant_range",
    "encode",
    "from_strings",
    "levels_of",
    "neighbours",
    "parent",
    "to_strings",
    "uncompact",
    "valid",
]
