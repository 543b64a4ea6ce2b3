"""The statements of a bulk load (etl.load), run on the loader's own cursor.

A load holds one psycopg cursor inside one transaction (COPY needs the raw driver), so
these functions take that cursor rather than an Engine; what the loader asks of the
database besides COPY itself is here: the ids of keys the files name, the grids to place
records in, emptying tables and moving sequences past explicit ids.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pandas as pd
import psycopg

import shapely

from gis.store import incident_ids, partition_store

#: Table → (its natural key column, the rows a file may refer to).
_KEYS = {
    "admin_area": ("code", ""),
    "app_user": ("username", ""),
    "grid": ("code", " WHERE valid_to IS NULL"),
}


def ids_by_key(cur: psycopg.Cursor, table: str) -> dict:
    """Natural key → id of ``admin_area`` (code), ``app_user`` (username) or current ``grid``."""
    column, where = _KEYS[table]
    cur.execute(f"SELECT {column}, id FROM {table}{where}")
    return dict(cur.fetchall())


def current_grid_shapes(cur: psycopg.Cursor) -> tuple[np.ndarray, np.ndarray]:
    """Ids and geometries of the current grids, sorted by code (the locator's tie rule)."""
    cur.execute("SELECT id, ST_AsBinary(geom) FROM grid WHERE valid_to IS NULL ORDER BY code")
    rows = cur.fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return ids, shapely.from_wkb([bytes(r[1]) for r in rows])


def building_places(cur: psycopg.Cursor) -> pd.DataFrame:
    """Every stored building's grid, H3 and 北斗 cell (households take their building's)."""
    cur.execute("SELECT id, grid_id, h3_cell, beidou_cell FROM building")
    return pd.DataFrame(cur.fetchall(), columns=["id", "grid_id", "h3_cell", "beidou_cell"])


def household_grids(cur: psycopg.Cursor, ids: np.ndarray) -> pd.Series:
    """The grid of each stored household among ``ids`` (their residents carry it), by id."""
    cur.execute(
        "SELECT id, grid_id FROM household WHERE id = ANY(%s)", (ids.tolist(),), binary=True
    )
    rows = cur.fetchall()
    return pd.Series(
        pd.array([r[1] for r in rows], dtype="Int64"),
        index=np.array([r[0] for r in rows], dtype=np.int64),
    )


def has_categories(cur: psycopg.Cursor) -> bool:
    """Whether the incident categories were loaded already."""
    cur.execute("SELECT EXISTS (SELECT 1 FROM incident_category)")
    return bool(cur.fetchone()[0])


def begin_if_idle(conn: psycopg.Connection) -> None:
    """Start the transaction of a connection whose caller began one that has sent nothing yet.

    SQLAlchemy's ``begin()`` sends its BEGIN with the first statement; until then psycopg
    sees the connection idle, and a ``transaction()`` block on it would commit on its own.
    """
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        conn.execute("SELECT 1")


#: Times a TRUNCATE that lost a deadlock is tried again (see :func:`empty_tables`).
TRUNCATE_ATTEMPTS = 5


def empty_tables(cur: psycopg.Cursor, tables: list[str], *, restart: bool = False) -> None:
    """TRUNCATE ``tables`` (with ``restart``: reset their ids and cascade).

    TRUNCATE takes its tables' locks one after another; a running server's job that reads
    two of them in the other order meanwhile makes a deadlock, which PostgreSQL ends by
    failing one side — often the load, a whole district's replace refused for a moment's
    bad luck.  The TRUNCATE runs in a savepoint and, having lost, lets go of what it held
    (the job goes on) and tries again a little later.
    """
    tail = " RESTART IDENTITY CASCADE" if restart else ""
    for attempt in range(1, TRUNCATE_ATTEMPTS + 1):
        try:
            with cur.connection.transaction():
                cur.execute(f"TRUNCATE {', '.join(tables)}{tail}")
            return
        except psycopg.errors.DeadlockDetected:
            if attempt == TRUNCATE_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)


def incident_months(cur: psycopg.Cursor) -> list[date]:
    """The months that have their partition of ``incident`` (a case's number carries it)."""
    cur.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'public.incident'::regclass"
    )
    return partition_store.months_named("incident", (str(r[0]) for r in cur.fetchall()))


def advance_identities(cur: psycopg.Cursor) -> None:
    """Move each id sequence past the ids a load wrote explicitly, so new rows never collide.

    Integer primary keys are identity or serial columns; a load that gives ids
    (buildings, incidents …) leaves their sequences behind.
    """
    cur.execute("""
        SELECT c.table_name, c.column_name FROM information_schema.columns c
        WHERE c.table_schema = 'public'
          AND (c.is_identity = 'YES' OR c.column_default LIKE 'nextval(%')""")
    for table, column in cur.fetchall():
        # a case's number carries its month: its sequence gave the serial part
        drawn = incident_ids.SERIAL_SQL if table == "incident" else column
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
            f"greatest(coalesce(max({drawn}), 0), 1), max({drawn}) IS NOT NULL) FROM {table}"
        )


def stored_keys(
    cur: psycopg.Cursor, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], pd.Index]:
    """Keys already in the database that a file may refer to (current grids only)."""
    known: dict[tuple[str, str], pd.Index] = {}
    for table, column in sorted(pairs):
        where = " WHERE valid_to IS NULL" if table == "grid" else ""
        cur.execute(f"SELECT {column} FROM {table}{where}")
        known[(table, column)] = pd.Index([row[0] for row in cur.fetchall()])
    return known
