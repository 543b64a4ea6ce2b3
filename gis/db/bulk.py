"""Bulk writes: binary COPY from frames, and index/foreign-key deferral for loads into empty tables.

Why defer: a row-by-row index insert and a per-row foreign-key trigger cost more than
building the index once from sorted data and checking the foreign key with one join
afterwards — the same reason ``pg_restore`` creates indexes and constraints last.  The
definitions are read from the catalogue, dropped, and re-created in the same
transaction, so the schema after a load is exactly the schema before it, and a
violation found when re-creating still aborts the whole load.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

import shapely

CHUNK_ROWS = 100_000


def copy_frame(
    cursor: psycopg.Cursor,
    table: str,
    frame: pd.DataFrame,
    *,
    progress: Callable[[int], object] | None = None,
    freeze: bool = False,
) -> int:
    """Stream ``frame`` into ``table`` (columns matched by name) with binary ``COPY``.

    The rows are encoded column by column with numpy into PostgreSQL's binary COPY
    format (:func:`encode_rows`), so the server reads each value as it is stored
    instead of parsing text; a queue hands each chunk to a sending thread, so the next
    chunk is encoded while the server takes in the last one.  Geometry columns take
    EWKB ``bytes`` (or hex EWKB text, or shapely geometries).

    ``freeze``: the rows are written frozen (``COPY … FREEZE``), for a table emptied by
    ``TRUNCATE`` in the same transaction: the index builds and ``ANALYZE`` that follow
    a load then read them without checking each row's transaction, and no vacuum has to
    freeze them later.  Only other sessions' older snapshots could tell (they would see
    the rows once committed), which a replacing load, holding its tables locked, allows.
    """
    types = column_types(cursor, table)
    unknown = [c for c in frame.columns if c not in types]
    if unknown:
        raise ValueError(f"{table} has no column {', '.join(map(str, unknown))}")
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    options = sql.SQL(", FREEZE" if freeze and not _partitioned(cursor, [table]) else "")
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary{})").format(
        sql.Identifier(table), columns, options
    )
    kinds = [types[c] for c in frame.columns]
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        copy.write(_HEADER)
        for start in range(0, len(frame), CHUNK_ROWS):
            part = frame.iloc[start : start + CHUNK_ROWS]
            copy.write(encode_rows(part, kinds, table))
            if progress is not None:
                progress(len(part))
        copy.write(_TRAILER)
    return len(frame)


def column_types(cursor: psycopg.Cursor, table: str) -> dict[str, str]:
    """Column name → type name (``int4``, ``text``, ``geometry`` …) of ``table``."""
    cursor.execute(
        """SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
           WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped""",
        (table,),
    )
    return dict(cursor.fetchall())


# ----------------------------------------------------------------------------- binary COPY

_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_TRAILER = b"\xff\xff"
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds
_PG_EPOCH_DAYS = 10_957
_FIXED = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float4": ">f4", "float8": ">f8"}
_INTS = {"int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64()}
_TEXT = {"text", "varchar", "bpchar", "name", "citext"}


class _Field:
    """One column of a chunk: the length of each value (-1: NULL) and their bytes.

    Fixed-width values (``width``) are one row of ``data`` each (NULL rows included);
    variable ones are concatenated, NULLs taking no bytes.
    """

    __slots__ = ("data", "lengths", "width")

    def __init__(self, lengths: np.ndarray, data: np.ndarray, width: int | None):
        self.lengths = lengths
        self.data = data
        self.width = width


def _arrow(values: pd.Series, table: str) -> pa.Array:
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # mixed Python objects: their text
        array = pa.array(
            [None if v is None or v is pd.NA or v != v else str(v) for v in values],
            type=pa.large_string(),
        )
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array


def _lengths(array: pa.Array, width: int) -> np.ndarray:
    valid = np.ones(len(array), dtype=bool)
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
    return np.where(valid, width, -1).astype(np.int32)


def _fixed(array: pa.Array, numpy_type: str, fill: object = 0) -> _Field:
    lengths = _lengths(array, np.dtype(numpy_type).itemsize)
    values = array.fill_null(fill).to_numpy(zero_copy_only=False)
    data = np.ascontiguousarray(values.astype(numpy_type)).view(np.uint8)
    return _Field(lengths, data, np.dtype(numpy_type).itemsize)


def _bytea_text(value: str) -> bytes:
    r"""A bytea given as text (hex format ``\x…``, as COPY text would read it) as its bytes."""
    if value.startswith("\\x"):
        return bytes.fromhex(value[2:])
    return value.encode()


def _variable(array: pa.Array) -> _Field:
    """Values as a large_binary array: their bytes back to back, NULL → length -1."""
    array = array.cast(pa.large_binary())
    n = len(array)
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    if buffers[2] is None:
        data = np.zeros(0, dtype=np.uint8)
    else:
        data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    lengths = np.diff(offsets).astype(np.int32)
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
        if lengths[~valid].any():  # a NULL may still span bytes: keep the values' only
            taken = np.where(valid, lengths, 0).astype(np.int64)
            first = np.cumsum(taken) - taken
            starts = offsets[:-1] - offsets[0]
            data = data[np.repeat(starts - first, taken) + np.arange(int(taken.sum()))]
        lengths = np.where(valid, lengths, -1).astype(np.int32)
    return _Field(lengths, data, None)


def _geometry(values: pd.Series) -> _Field:
    raw = np.asarray(values, dtype=object)
    kinds = {type(v) for v in raw[: min(len(raw), 64)] if v is not None}
    if kinds and not kinds <= {bytes}:
        out = np.empty(len(raw), dtype=object)
        for i, v in enumerate(raw):
            if v is None or v is pd.NA or (isinstance(v, float) and v != v):
                out[i] = None
            elif isinstance(v, bytes | bytearray | memoryview):
                out[i] = bytes(v)
            elif isinstance(v, str):
                out[i] = bytes.fromhex(v)
            else:
                out[i] = shapely.to_wkb(v, hex=False, include_srid=True)
        raw = out
    return _variable(pa.array(raw, type=pa.large_binary()))


def _timestamps(values: pd.Series, with_zone: bool) -> _Field:
    """Times as microseconds since 2000-01-01.

    ``timestamptz``: the instant (naive values read as UTC, the session's zone);
    ``timestamp``: the wall time as written, its offset dropped (as PostgreSQL does).
    """
    mixed = {"format": "mixed"} if not pd.api.types.is_datetime64_any_dtype(values) else {}
    if with_zone:
        stamps = pd.to_datetime(values, utc=True, **mixed)
    else:
        try:
            stamps = pd.to_datetime(values, **mixed)
        except ValueError:  # offsets that differ: their wall times
            stamps = pd.Series([pd.Timestamp(v).tz_localize(None) for v in values])
            stamps = pd.to_datetime(stamps)
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_localize(None)
    micros = stamps.dt.as_unit("us")
    missing = micros.isna().to_numpy()
    number = np.asarray(micros.array.asi8, dtype=np.int64) - _PG_EPOCH_US
    lengths = np.where(missing, -1, 8).astype(np.int32)
    return _Field(lengths, np.ascontiguousarray(number.astype(">i8")).view(np.uint8), 8)


def _encode(values: pd.Series, kind: str, table: str) -> _Field:
    name = f"{table}.{values.name}"
    if kind == "geometry" or kind == "geography":
        return _geometry(values)
    if kind == "timestamptz":
        return _timestamps(values, with_zone=True)
    if kind == "timestamp":
        return _timestamps(values, with_zone=False)
    array = _arrow(values, table)
    if kind in _INTS:
        if pa.types.is_floating(array.type):
            array = array.cast(pa.int64())  # a whole float: an error when it is not
        try:
            array = array.cast(_INTS[kind])
        except pa.ArrowInvalid as exc:
            raise ValueError(f"{name}: a value does not fit {kind} ({exc})") from exc
        return _fixed(array, _FIXED[kind])
    if kind in ("float4", "float8"):
        return _fixed(array.cast(pa.float64()), _FIXED[kind])
    if kind == "bool":
        return _fixed(array.cast(pa.bool_()), "?", False)
    if kind in _TEXT:
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            array = array.cast(pa.large_string())
        return _variable(array)
    if kind == "date":
        days = array.cast(pa.date32()).cast(pa.int32())
        return _fixed(pc.subtract(days, _PG_EPOCH_DAYS), ">i4")
    if kind == "bytea":
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            # text as PostgreSQL reads a bytea's text input: "\\x" and hex digits
            raw = [None if v is None else _bytea_text(v) for v in array.to_pylist()]
            array = pa.array(raw, type=pa.large_binary())
        return _variable(array)
    if kind == "jsonb":  # version 1, then the text
        binary = pa.large_binary()
        text = array.cast(pa.large_string()).cast(binary)
        return _variable(
            pc.binary_join_element_wise(pa.scalar(b"\x01", binary), text, pa.scalar(b"", binary))
        )
    if kind == "json":
        return _variable(array.cast(pa.large_string()))
    if kind == "uuid":
        text = pc.replace_substring(array.cast(pa.large_string()), "-", "")
        raw = np.array(
            [bytes.fromhex(v) if v is not None else None for v in text.to_pylist()], dtype=object
        )
        return _variable(pa.array(raw, type=pa.large_binary()))
    raise ValueError(f"{name}: binary COPY of type {kind} is not supported")


def encode_rows(frame: pd.DataFrame, kinds: Sequence[str], table: str = "?") -> bytes:
    """The rows of ``frame`` in PostgreSQL's binary COPY format (no header or trailer).

    Each row is an int16 field count, then per field an int32 length (-1: NULL) and
    the value's bytes in network order.  Each column is encoded whole with numpy, then
    every row's pieces are joined by Arrow in one pass
    (:func:`pyarrow.compute.binary_join_element_wise`, a NULL value adding nothing): the
    joined array's data buffer is the COPY payload.
    """
    n = len(frame)
    if n == 0:
        return b""
    fields = [_encode(frame[c], k, table) for c, k in zip(frame.columns, kinds, strict=True)]
    parts = [_fixed_width(np.full(n, len(fields), dtype=">i2").view(np.uint8), 2, n)]
    for f in fields:
        parts.append(_fixed_width(f.lengths.astype(">i4").view(np.uint8), 4, n))
        valid = f.lengths >= 0
        mask = None if valid.all() else valid
        if f.width is not None:
            parts.append(_fixed_width(f.data, f.width, n, mask))
        else:
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.maximum(f.lengths, 0), out=offsets[1:])
            parts.append(_binary(n, offsets, f.data, mask))
    joined = pc.binary_join_element_wise(
        *parts, pa.scalar(b"", pa.large_binary()), null_handling="skip"
    )
    buffers = joined.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[joined.offset : joined.offset + n + 1]
    return buffers[2][int(offsets[0]) : int(offsets[-1])].to_pybytes()


def _binary(
    n: int, offsets: np.ndarray, data: np.ndarray, valid: np.ndarray | None
) -> pa.LargeBinaryArray:
    """A large_binary array over numpy buffers (no copy); ``valid``: None when all are."""
    bitmap = None if valid is None else pa.array(valid, type=pa.bool_()).buffers()[1]
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        n,
        [
            bitmap,
            pa.py_buffer(np.ascontiguousarray(offsets)),
            pa.py_buffer(np.ascontiguousarray(data)),
        ],
    )


def _fixed_width(
    data: np.ndarray, width: int, n: int, valid: np.ndarray | None = None
) -> pa.LargeBinaryArray:
    """``n`` values of ``width`` bytes each, back to back in ``data``, as a binary array."""
    return _binary(n, np.arange(0, (n + 1) * width, width, dtype=np.int64), data, valid)


_SECONDARY_INDEXES = """
SELECT i.indrelid::regclass::text, pg_get_indexdef(i.indexrelid), i.indexrelid::regclass::text
FROM pg_index i
WHERE i.indrelid = ANY(%(tables)s::regclass[])
  AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""

# foreign keys first (they depend on unique constraints), re-created last; only those
# of the tables themselves: a partition's copy of its parent's key (conparentid) goes and
# comes back with the parent's
_CONSTRAINTS = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid),
       CASE WHEN c.contype = 'f' THEN c.confrelid::regclass::text END
FROM pg_constraint c
WHERE ((c.contype = 'f'
        AND (c.conrelid = ANY(%(tables)s::regclass[])
             OR c.confrelid = ANY(%(tables)s::regclass[])))
    OR (c.contype = 'u' AND c.conrelid = ANY(%(tables)s::regclass[])))
  AND c.conparentid = 0
ORDER BY c.contype = 'u', c.conname
"""


def _add_constraint(table: str, name: str, definition: str) -> sql.Composable:
    return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
        sql.SQL(table), sql.Identifier(name), sql.SQL(definition)
    )


class Deferred:
    """The indexes and constraints :func:`deferred_indexes` dropped, still to re-create.

    A table's own indexes and unique constraints may be re-created as soon as its rows
    are in, and a foreign key as soon as both its tables' are (:meth:`take`, what
    :class:`CopyPipe` does while the next table is encoded); the rest wait for the end
    (:meth:`rest`).
    """

    def __init__(
        self, indexes: list[tuple[str, str]], constraints: list[tuple[str, str, str, str | None]]
    ):
        #: (table, CREATE INDEX …) of the indexes not re-created yet
        self.indexes = list(indexes)
        #: (table, name, definition, referenced table or None: unique) not re-created yet
        self.constraints = list(constraints)
        #: tables whose rows are all in
        self.done: set[str] = set()

    def take(self, table: str) -> list[sql.Composable]:
        """The statements ``table``'s last rows allow: its indexes, unique and foreign keys.

        Foreign keys come after the unique constraints they may rest on, and only those
        between tables that are done.
        """
        self.done.add(table)
        out: list[sql.Composable] = [sql.SQL(d) for t, d in self.indexes if t == table]
        self.indexes = [i for i in self.indexes if i[0] != table]
        unique = [c for c in self.constraints if c[3] is None and c[0] == table]
        foreign = [
            c
            for c in self.constraints
            if c[3] is not None and table in (c[0], c[3]) and {c[0], c[3]} <= self.done
        ]
        out += [_add_constraint(t, n, d) for t, n, d, _ in unique + foreign]
        taken = {(c[0], c[1]) for c in unique + foreign}  # a name is unique per table
        self.constraints = [c for c in self.constraints if (c[0], c[1]) not in taken]
        return out

    def rest(self) -> list[sql.Composable]:
        """Every statement not taken yet: indexes, unique constraints, then foreign keys."""
        out: list[sql.Composable] = [sql.SQL(d) for _, d in self.indexes]
        out += [_add_constraint(t, n, d) for t, n, d, _ in reversed(self.constraints)]
        self.indexes, self.constraints = [], []
        return out


@contextmanager
def deferred_indexes(cursor: psycopg.Cursor, tables: Sequence[str]) -> Iterator[Deferred]:
    """Drop the secondary indexes, unique and foreign keys of ``tables``; re-create on exit.

    Use only inside a transaction on tables being filled from empty: other sessions
    are locked out until commit (the tables are locked ACCESS EXCLUSIVE).  What is
    still to re-create on exit (a :class:`CopyPipe` may have re-created some already)
    is re-created then; a violation found doing so aborts the load.
    """
    names = list(tables)
    cursor.execute(_SECONDARY_INDEXES, {"tables": names})
    indexes = cursor.fetchall()
    cursor.execute(_CONSTRAINTS, {"tables": names})
    constraints = cursor.fetchall()
    for table, name, _, _ in constraints:
        cursor.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.SQL(table), sql.Identifier(name)
            )
        )
    for _, _, index in indexes:
        cursor.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(index)))
    # a partitioned table's index reads "ON ONLY parent": made so, the partitions would
    # get none; made on the parent, each partition gets its own
    deferred = Deferred(
        [(t, d.replace(" ON ONLY ", " ON ", 1)) for t, d, _ in indexes], constraints
    )
    yield deferred
    for statement in deferred.rest():
        cursor.execute(statement)


# ----------------------------------------------------------------------------- the pipe

#: Encoded chunks a copy may hold ahead of the sending thread (each CHUNK_ROWS rows).
PIPE_CHUNKS = 2
_END = object()
_ABORT = object()


class CopyPipe:
    """COPY and statements sent in order by a thread of their own, on the caller's connection.

    Why: a load alternates work in Python (placing records, encoding rows) with work in
    the server (taking rows in, building indexes, ANALYZE).  One at a time, each waits
    for the other; here the caller encodes the next table while the server takes in or
    indexes the last one, and both cores work.  The thread uses a cursor of its own on
    the same connection, so everything stays in the caller's transaction.

    Before the caller reads anything from the database it calls :meth:`sync` (what was
    sent must be in first).  A refusal in the thread (a constraint, a duplicate key) is
    raised in the caller at the next :meth:`copy`, :meth:`sync` or :meth:`close`; the
    jobs after it are dropped.

    With ``deferred``, a table's own indexes and unique constraints are re-created as
    soon as its last rows are in (a table's copies must follow each other), and with
    ``analyze`` its statistics gathered then (tables that received rows only): without
    them the first queries on a freshly loaded district are planned blind (a count of
    households per building estimated at 1,000 rows instead of 48), and the autovacuum
    daemon that would gather them may be minutes away, or off.
    """

    def __init__(
        self,
        cursor: psycopg.Cursor,
        tables: Sequence[str],
        *,
        deferred: Deferred | None = None,
        analyze: bool = False,
        freeze: bool = False,
    ):
        self.cursor = cursor
        self.deferred = deferred
        self.analyze = analyze
        self.freeze = freeze
        self._types = _column_types_of(cursor, tables)
        self._partitioned = _partitioned(cursor, tables)
        self._jobs: queue.Queue = queue.Queue(maxsize=64)
        self._chunks: queue.Queue | None = None
        self._error: BaseException | None = None
        self._current: str | None = None
        self._rows = 0
        self._worker = cursor.connection.cursor()
        self._thread = threading.Thread(target=self._work, name="copy-pipe", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ the caller's side

    def copy(
        self,
        table: str,
        frame: pd.DataFrame,
        *,
        progress: Callable[[int], object] | None = None,
    ) -> int:
        """Encode ``frame`` here and queue its rows for ``table`` (as :func:`copy_frame`)."""
        self._raise()
        if table not in self._types:
            self.sync()
            self._types.update(_column_types_of(self.cursor, [table]))
            self._partitioned |= _partitioned(self.cursor, [table])
        types = self._types[table]
        unknown = [c for c in frame.columns if c not in types]
        if unknown:
            raise ValueError(f"{table} has no column {', '.join(map(str, unknown))}")
        if table != self._current:
            self._finish()
            self._current, self._rows = table, 0
        self._rows += len(frame)
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
        freeze = self.freeze and table not in self._partitioned
        options = sql.SQL(", FREEZE" if freeze else "")
        statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary{})").format(
            sql.Identifier(table), columns, options
        )
        kinds = [types[c] for c in frame.columns]
        chunks: queue.Queue = queue.Queue(maxsize=PIPE_CHUNKS)
        self._chunks = chunks
        self._put(self._jobs, lambda cur: _send(cur, statement, chunks))
        for start in range(0, len(frame), CHUNK_ROWS):
            part = frame.iloc[start : start + CHUNK_ROWS]
            self._put(chunks, encode_rows(part, kinds, table))
            if progress is not None:
                progress(len(part))
        self._put(chunks, _END)
        self._chunks = None
        return len(frame)

    def execute(self, statement: sql.Composable | str) -> None:
        """Queue a statement whose result nobody reads."""
        self._raise()
        self._put(self._jobs, lambda cur: cur.execute(statement))

    def sync(self) -> None:
        """Wait until everything queued is done (before reading the database)."""
        self._jobs.join()
        self._raise()

    def finish(self) -> None:
        """Say that the table being copied is complete: its indexes and statistics may start.

        (Copying into another table says so too; this is for a caller about to wait.)
        """
        self._raise()
        self._finish()
        self._current = None

    def close(self) -> None:
        """Finish the last table, wait for everything, stop the thread; raise a refusal."""
        try:
            self._finish()
            self._current = None
            self.sync()
        finally:
            self._stop()

    def abort(self) -> None:
        """Stop after the job under way (its COPY, if any, is failed); keep nothing queued."""
        self._error = self._error or RuntimeError("load aborted")
        if self._chunks is not None:
            _offer_anyway(self._chunks, _ABORT)
        self._stop()

    # ------------------------------------------------------------ inside

    def _finish(self) -> None:
        table = self._current
        if table is None:
            return
        if self.deferred is not None:
            for statement in self.deferred.take(table):
                self.execute(statement)
        if self.analyze and self._rows:
            self.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))

    def _put(self, target: queue.Queue, item: object) -> None:
        while True:
            self._raise()
            try:
                target.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _stop(self) -> None:
        if self._thread.is_alive():
            _offer_anyway(self._jobs, None)
            self._thread.join()
        self._worker.close()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None:
                    job(self._worker)
            except BaseException as exc:  # handed to the caller, who rolls back
                self._error = exc
            finally:
                self._jobs.task_done()


def _offer_anyway(target: queue.Queue, item: object) -> None:
    """Put ``item``, dropping what is queued when full (the thread must hear it)."""
    while True:
        try:
            target.put_nowait(item)
            return
        except queue.Full:
            try:
                target.get_nowait()
                target.task_done()
            except (queue.Empty, ValueError):
                pass


def _send(cursor: psycopg.Cursor, statement: sql.Composable, chunks: queue.Queue) -> None:
    """One COPY: the header, the chunks as they come, the trailer."""
    with cursor.copy(statement) as copy:
        copy.write(_HEADER)
        while True:
            data = chunks.get()
            if data is _END:
                break
            if data is _ABORT:
                raise RuntimeError("load aborted")
            copy.write(data)
        copy.write(_TRAILER)


def _partitioned(cursor: psycopg.Cursor, tables: Sequence[str]) -> set[str]:
    """Those of ``tables`` that are partitioned, which ``COPY … FREEZE`` refuses.

    Their rows are then copied unfrozen (``incident_event``, migration 0037).
    """
    names = list(tables)
    if not names:
        return set()
    cursor.execute(
        "SELECT n.name FROM unnest(%s::text[]) AS n(name) "
        "JOIN pg_class c ON c.oid = n.name::regclass WHERE c.relkind = 'p'",
        (names,),
    )
    return {r[0] for r in cursor.fetchall()}


def _column_types_of(cursor: psycopg.Cursor, tables: Sequence[str]) -> dict[str, dict[str, str]]:
    """Table → column name → type name, for every table of ``tables`` (one query)."""
    names = list(tables)
    if not names:
        return {}
    cursor.execute(
        """SELECT n.name, a.attname, t.typname
           FROM unnest(%s::text[]) AS n(name)
           JOIN pg_attribute a ON a.attrelid = n.name::regclass
           JOIN pg_type t ON t.oid = a.atttypid
           WHERE a.attnum > 0 AND NOT a.attisdropped""",
        (names,),
    )
    out: dict[str, dict[str, str]] = {name: {} for name in names}
    for table, column, kind in cursor.fetchall():
        out[table][column] = kind
    return out
