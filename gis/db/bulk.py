"""Bulk writes: COPY from frames, and index/foreign-key deferral for loads into empty tables.

Why defer: a row-by-row index insert and a per-row foreign-key trigger cost more than
building the index once from sorted data and checking the foreign key with one join
afterwards — the same reason ``pg_restore`` creates indexes and constraints last.  The
definitions are read from the catalogue, dropped, and re-created in the same
transaction, so the schema after a load is exactly the schema before it, and a
violation found when re-creating still aborts the whole load.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

CHUNK_ROWS = 100_000
_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


def copy_frame(
    cursor: psycopg.Cursor,
    table: str,
    frame: pd.DataFrame,
    *,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Stream ``frame`` into ``table`` (columns matched by name) with ``COPY … CSV``.

    The CSV is written by Arrow's C++ writer, and a queue hands it to a sending thread,
    so the next chunk is encoded while the server parses the last one.
    """
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table), columns
    )
    table_arrow = pa.Table.from_pandas(frame, preserve_index=False)
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        for batch in table_arrow.to_batches(max_chunksize=CHUNK_ROWS):
            buffer = io.BytesIO()
            pa_csv.write_csv(batch, buffer, write_options=_CSV_OPTIONS)
            copy.write(buffer.getbuffer())
            if progress is not None:
                progress(batch.num_rows)
    return len(frame)


_SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY(%(tables)s::regclass[])
  AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""

# foreign keys first (they depend on unique constraints), re-created last
_CONSTRAINTS = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE (c.contype = 'f'
       AND (c.conrelid = ANY(%(tables)s::regclass[])
            OR c.confrelid = ANY(%(tables)s::regclass[])))
   OR (c.contype = 'u' AND c.conrelid = ANY(%(tables)s::regclass[]))
ORDER BY c.contype = 'u', c.conname
"""


@contextmanager
def deferred_indexes(cursor: psycopg.Cursor, tables: Sequence[str]) -> Iterator[None]:
    """Drop the secondary indexes, unique and foreign keys of ``tables``; re-create on exit.

    Use only inside a transaction on tables being filled from empty: other sessions
    are locked out until commit (the tables are locked ACCESS EXCLUSIVE).
    """
    names = list(tables)
    cursor.execute(_SECONDARY_INDEXES, {"tables": names})
    indexes = cursor.fetchall()
    cursor.execute(_CONSTRAINTS, {"tables": names})
    constraints = cursor.fetchall()
    for table, name, _ in constraints:
        cursor.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.SQL(table), sql.Identifier(name)
            )
        )
    for index, _ in indexes:
        cursor.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(index)))
    yield
    for _, definition in indexes:
        cursor.execute(definition)
    for table, name, definition in reversed(constraints):
        cursor.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                sql.SQL(table), sql.Identifier(name), sql.SQL(definition)
            )
        )
