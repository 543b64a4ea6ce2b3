"""The 北斗 grid code (GB/T 39409-2020) on every located record, beside its H3 cell.

Every located table (buildings, households, facilities, road nodes, incidents) gets
``beidou_cell``: the 北斗 2-D grid cell of the record's point at the configured level
(``WANGGE_BEIDOU_LEVEL``, 5 by default: 4″ × 4″, the nearest in area to H3 resolution
10), packed as a ``bigint`` by :mod:`grids.beidou` (a cell's descendants are one range, so
"everything in this cell" is one ``BETWEEN``).  Existing rows are filled here from their
points (a building's representative point, as its grid and H3 cell are placed; a household
takes its building's cell).

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import sqlalchemy as sa
from alembic import op

from gis.settings import get_settings
from grids.beidou import NO_CELL, encode

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

#: Located tables and the SQL of the point that places each record.
POINTS = {
    "building": "ST_PointOnSurface(geom)",
    "facility": "geom",
    "road_node": "geom",
    "incident": "geom",
}
TABLES = (*POINTS, "household")
BATCH = 200_000


def _fill(bind: sa.Connection, table: str, point: str, level: int) -> None:
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                f"SELECT id, ST_X({point}), ST_Y({point}) FROM {table} "
                "WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        cells = encode(
            np.array([r[1] for r in rows], dtype=np.float64),
            np.array([r[2] for r in rows], dtype=np.float64),
            level,
        )
        keep = cells != NO_CELL
        bind.execute(
            sa.text(
                f"UPDATE {table} t SET beidou_cell = v.cell "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:cells AS bigint[])) AS v(id, cell) "
                "WHERE t.id = v.id"
            ),
            {"ids": ids[keep].tolist(), "cells": cells[keep].tolist()},
        )
        last = int(ids[-1])


@contextmanager
def _unchecked(bind: sa.Connection, table: str) -> Iterator[None]:
    """Lift the table's NOT VALID constraints while its rows get their cell, then restore them.

    An UPDATE checks every constraint on the row it writes, validated or not: a row kept
    from before a NOT VALID check (an incident of year 9999, see 0009) would stop this
    migration.  Filling a cell changes no value those checks are about.
    """
    kept = bind.execute(
        sa.text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND NOT convalidated"
        ),
        {"t": table},
    ).all()
    for name, _ in kept:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    yield
    for name, definition in kept:  # the definition ends with NOT VALID
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("beidou_cell", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    level = get_settings().beidou_level
    for table, point in POINTS.items():
        with _unchecked(bind, table):
            _fill(bind, table, point, level)
    with _unchecked(bind, "household"):
        bind.execute(
            sa.text(
                "UPDATE household h SET beidou_cell = b.beidou_cell "
                "FROM building b WHERE b.id = h.building_id"
            )
        )
    for table in TABLES:
        op.create_index(op.f(f"ix_{table}_beidou_cell"), table, ["beidou_cell"], unique=False)


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(op.f(f"ix_{table}_beidou_cell"), table_name=table)
        op.drop_column(table, "beidou_cell")
