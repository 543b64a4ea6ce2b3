"""Typed columns for frames read from the database, exact for 64-bit H3 cells.

``pandas.read_sql`` turns a ``bigint`` column that holds a NULL into ``float64``, which
keeps 53 bits: an H3 cell (about 6.2e17) then loses its last digits and is no cell at
all.  Queries therefore read a nullable cell as ``coalesce(h3_cell, 0)`` (0 is never a
cell) and :func:`nullable_cells` turns it into an exact nullable ``Int64`` column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def nullable_cells(values: pd.Series) -> pd.Series:
    """H3 cells read as ``coalesce(h3_cell, 0)`` → ``Int64`` with NA where there was none."""
    raw = values.to_numpy(dtype=np.int64)
    return pd.Series(pd.arrays.IntegerArray(raw, raw == 0), index=values.index, name=values.name)
