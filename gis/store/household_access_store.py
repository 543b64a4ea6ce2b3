"""Households' walking access (``household_access``): the SQL that replaces and sums it.

A run's rows are checked (:func:`check_access_rows`, the loader's checks of
:mod:`gis.validate`: every problem by row and field), staged by binary COPY
(:func:`gis.db.bulk.copy_frame`) and written with their households' grids, in one
transaction that first deletes the kind's previous rows: readers see the old run or
the new one, never both or a half.
Row-level security (migration 0036) is the households' own: read through the server's
role, a user sees the rows of the households they may see, no others.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import Connection, Engine, text

from gis.db.bulk import copy_frame
from gis.db.models import FACILITY_KINDS
from gis.errors import GisError, Problem, ValidationError
from gis.validate import check_allowed, check_required, check_unique

LAYER: Final = "household_access"
#: The columns a run writes (``grid_id`` is set from the household by a trigger).
ACCESS_COLUMNS: Final = (
    "household_id",
    "kind",
    "minutes",
    "facility_id",
    "served",
    "standard_minutes",
    "computed_at",
)
_REQUIRED: Final = ("household_id", "kind", "served", "standard_minutes", "computed_at")


#: The run's rows are staged by COPY, then written with their households' grids in one
#: statement (a join, not the insert trigger's lookup per row: a run of 200,000 rows took
#: 3.3 s with the lookup, 2.1 s so, the previous rows deleted included).
STAGE = (
    "CREATE TEMP TABLE _household_access (LIKE household_access INCLUDING DEFAULTS) ON COMMIT DROP"
)
WRITE = f"""
INSERT INTO household_access (grid_id, {", ".join(ACCESS_COLUMNS)})
SELECT h.grid_id, {", ".join(f"a.{c}" for c in ACCESS_COLUMNS)}
FROM _household_access a LEFT JOIN household h ON h.id = a.household_id
"""


class AccessStoreError(GisError):
    """The database refused a run's rows (e.g. a household deleted meanwhile); nothing written."""


def check_access_rows(rows: pd.DataFrame, kind: str) -> list[Problem]:
    """Every problem of a run's rows: columns, kinds, one row per household, minutes."""
    problems = check_required(rows, LAYER, _REQUIRED, id_column="household_id")
    if problems:
        return problems
    problems += check_allowed(rows, LAYER, "kind", FACILITY_KINDS, id_column="household_id")
    other = np.flatnonzero((rows["kind"] != kind).to_numpy())
    problems += [
        Problem(LAYER, int(p) + 1, str(rows["household_id"].iloc[p]), "kind",
                f"a row of kind {rows['kind'].iloc[p]!r} in a run of {kind!r}",
                "store one kind per run")
        for p in other
    ]  # fmt: skip
    problems += check_unique(rows, LAYER, "household_id")
    minutes = pd.to_numeric(rows["minutes"], errors="coerce").to_numpy(np.float64)
    given = rows["minutes"].notna().to_numpy()
    bad = np.flatnonzero(given & ~(np.isfinite(minutes) & (minutes >= 0)))
    problems += [
        Problem(LAYER, int(p) + 1, str(rows["household_id"].iloc[p]), "minutes",
                f"minutes {rows['minutes'].iloc[p]!r} is not a finite number ≥ 0",
                "leave minutes empty when no facility is reachable")
        for p in bad
    ]  # fmt: skip
    standard = pd.to_numeric(rows["standard_minutes"], errors="coerce").to_numpy(np.float64)
    problems += [
        Problem(LAYER, int(p) + 1, str(rows["household_id"].iloc[p]), "standard_minutes",
                "the standard's minutes must be positive", "check the standards file")
        for p in np.flatnonzero(~(standard > 0))
    ]  # fmt: skip
    return problems


def replace_access(engine: Engine, kind: str, rows: pd.DataFrame) -> int:
    """Replace the stored access of ``kind`` by ``rows`` (:data:`ACCESS_COLUMNS`); rows written.

    One transaction: the kind's previous rows deleted, the new ones copied in.

    Raises
    ------
    gis.errors.ValidationError
        The rows' problems, before anything is written.
    AccessStoreError
        The database refused a row; the stored rows are left as they were.
    """
    problems = check_access_rows(rows, kind)
    if problems:
        raise ValidationError(problems)
    frame = rows[list(ACCESS_COLUMNS)].copy()
    frame["household_id"] = frame["household_id"].astype(np.int64)
    frame["facility_id"] = pd.array(frame["facility_id"], dtype="Int64")
    frame["served"] = frame["served"].astype(bool)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert isinstance(conn, psycopg.Connection)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("DELETE FROM household_access WHERE kind = %s", (kind,))
            cur.execute(STAGE)
            copy_frame(cur, "_household_access", frame)
            cur.execute(WRITE)
    except psycopg.errors.IntegrityError as exc:
        raise AccessStoreError(
            f"the database refused the access of {kind}: {exc.diag.message_primary} "
            "(households or facilities changed during the run? run it again)"
        ) from exc
    finally:
        raw.close()
    return len(frame)


def stored_access(conn: Connection, kind: str) -> pd.DataFrame:
    """The stored rows of ``kind`` the connection may see, by household id."""
    rows = conn.execute(
        text(
            "SELECT household_id, kind, grid_id, minutes, facility_id, served, "
            "standard_minutes, computed_at FROM household_access WHERE kind = :k "
            "ORDER BY household_id"
        ),
        {"k": kind},
    )
    frame = pd.DataFrame(rows.all(), columns=list(rows.keys()))
    for col in ("grid_id", "facility_id"):
        frame[col] = pd.array(frame[col], dtype="Int64")
    return frame


ACCESS_BY_GRID = """
SELECT a.grid_id, g.code AS grid_code, g.name AS grid_name, count(*) AS households,
       count(*) FILTER (WHERE a.served) AS served,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.minutes) AS median_minutes,
       max(a.standard_minutes) AS standard_minutes, max(a.computed_at) AS computed_at
FROM household_access a LEFT JOIN grid g ON g.id = a.grid_id
WHERE a.kind = :k AND (:all OR a.grid_id = ANY(CAST(:grids AS int[])))
GROUP BY a.grid_id, g.code, g.name
ORDER BY count(*) FILTER (WHERE NOT a.served) DESC, g.code
"""


def access_by_grid(
    conn: Connection, kind: str, grid_ids: Collection[int] | None = None
) -> pd.DataFrame:
    """Per grid: households, those served, median minutes, of the rows the connection sees.

    ``grid_ids``: only these grids' (the caller's, :mod:`grids.access`); None: every grid.
    The households' row security decides the same again when the server acts as the app
    role; this filter holds when it does not (``WANGGE_DB_APP_ROLE`` empty).
    """
    params = {"k": kind, "all": grid_ids is None, "grids": sorted(grid_ids or ())}
    rows = conn.execute(text(ACCESS_BY_GRID), params)
    frame = pd.DataFrame(rows.all(), columns=list(rows.keys()))
    frame["grid_id"] = pd.array(frame["grid_id"], dtype="Int64")
    return frame
