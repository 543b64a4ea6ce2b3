"""Binary COPY: every column type the loader writes reads back as it was given, NULLs included."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pandas as pd
import psycopg
import pytest
from sqlalchemy import Engine

from gis.db.bulk import CopyPipe, copy_frame, deferred_indexes

UTC = dt.UTC
POINT_HEX = "0101000020E6100000000000000000F03F0000000000000040"  # SRID=4326;POINT(1 2)


def test_every_type_reads_back_as_given(engine: Engine) -> None:
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert isinstance(conn, psycopg.Connection)
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE t (i8 bigint, i4 integer, i2 smallint, f8 float8, f4 real, "
                "b bool, t text, v varchar(8), ts timestamptz, tn timestamp, d date, "
                "j jsonb, u uuid, y bytea, g geometry(Point, 4326))"
            )
            key = uuid.UUID(int=5)
            frame = pd.DataFrame(
                {
                    "i8": [2**40, None, -1],
                    "i4": pd.array([7, None, -7], dtype="Int64"),
                    "i2": ["3", None, "-3"],  # text a file gave: read as the column's type
                    "f8": [1.25, np.nan, -0.5],
                    "f4": [0.5, None, 2.0],
                    "b": [True, None, False],
                    "t": ["中文，全角", None, ""],
                    "v": ["a", "bb", None],
                    "ts": [
                        dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))),
                        None,
                        dt.datetime(1999, 12, 31, 23, 59, 59, 123456, tzinfo=UTC),
                    ],
                    "tn": pd.to_datetime(["2024-05-01 08:30", None, "1970-01-01 00:00"]),
                    "d": [dt.date(2024, 5, 1), None, dt.date(1900, 1, 1)],
                    "j": ['{"x": [1, 2]}', None, "[]"],
                    "u": [str(key), None, str(key)],
                    "y": [b"\x00\x01\xff", None, b""],
                    "g": [bytes.fromhex(POINT_HEX), None, POINT_HEX],
                }
            )
            assert copy_frame(cur, "t", frame) == 3
            rows = cur.execute(
                "SELECT i8, i4, i2, f8, f4, b, t, v, ts, tn, d, j, u, y, ST_AsEWKT(g) FROM t"
            ).fetchall()
    finally:
        raw.close()
    assert rows[0] == (
        2**40,
        7,
        3,
        1.25,
        0.5,
        True,
        "中文，全角",
        "a",
        dt.datetime(2024, 5, 1, 0, 30, tzinfo=UTC),
        dt.datetime(2024, 5, 1, 8, 30),
        dt.date(2024, 5, 1),
        {"x": [1, 2]},
        key,
        b"\x00\x01\xff",
        "SRID=4326;POINT(1 2)",
    )
    assert rows[1] == (None, None, None, None, None, None, None, "bb") + (None,) * 7
    assert rows[2][:4] == (-1, -7, -3, -0.5)
    assert rows[2][8] == dt.datetime(1999, 12, 31, 23, 59, 59, 123456, tzinfo=UTC)
    assert rows[2][10:14] == (dt.date(1900, 1, 1), [], key, b"")


def test_a_value_that_does_not_fit_its_column_is_named(engine: Engine) -> None:
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert isinstance(conn, psycopg.Connection)
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE t (n smallint)")
            with pytest.raises(ValueError, match=r"t\.n: a value does not fit int2"):
                copy_frame(cur, "t", pd.DataFrame({"n": [1, 70_000]}))
    finally:
        raw.close()


def _driver(engine: Engine):
    raw = engine.raw_connection()
    conn = raw.driver_connection
    assert isinstance(conn, psycopg.Connection)
    return raw, conn


def test_the_pipe_sends_in_order_and_rebuilds_a_table_indexes_as_it_goes(engine: Engine) -> None:
    raw, conn = _driver(engine)
    try:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE a (id int PRIMARY KEY, code text UNIQUE)")
            cur.execute("CREATE TEMP TABLE b (a_id int REFERENCES a (id), n int)")
            cur.execute("CREATE INDEX ix_b_n ON b (n)")
            with deferred_indexes(cur, ["a", "b"]) as deferred:
                pipe = CopyPipe(cur, ["a", "b"], deferred=deferred, freeze=False)
                big = pd.DataFrame(
                    {"id": range(250_000), "code": [f"c{i}" for i in range(250_000)]}
                )
                pipe.copy("a", big.iloc[:100])
                pipe.copy("a", big.iloc[100:])  # the same table again: one table, one rebuild
                pipe.copy("b", pd.DataFrame({"a_id": [0, 7], "n": [1, 2]}))
                pipe.sync()
                # a's own unique constraint is back already; b's index and foreign key wait
                assert cur.execute("SELECT count(*) FROM a").fetchone() == (250_000,)
                assert cur.execute(
                    "SELECT count(*) FROM pg_constraint WHERE conrelid = 'a'::regclass "
                    "AND contype = 'u'"
                ).fetchone() == (1,)
                pipe.close()
            indexes = cur.execute(
                "SELECT count(*) FROM pg_indexes WHERE tablename IN ('a', 'b')"
            ).fetchone()
            keys = cur.execute(
                "SELECT count(*) FROM pg_constraint WHERE conrelid = 'b'::regclass "
                "AND contype = 'f'"
            ).fetchone()
    finally:
        raw.close()
    assert indexes == (3,)  # a's key, a's unique code, b's n
    assert keys == (1,)


def test_a_refusal_in_the_sending_thread_reaches_the_caller(engine: Engine) -> None:
    raw, conn = _driver(engine)
    try:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE t (n int NOT NULL)")
            pipe = CopyPipe(cur, ["t"])
            with pytest.raises(psycopg.errors.NotNullViolation):
                try:
                    pipe.copy("t", pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}))
                    pipe.copy("t", pd.DataFrame({"n": [3]}))  # dropped after the refusal
                    pipe.close()
                except BaseException:
                    pipe.abort()
                    raise
    finally:
        raw.close()


def test_an_error_while_encoding_stops_the_pipe_without_hanging(engine: Engine) -> None:
    raw, conn = _driver(engine)
    try:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE t (n smallint)")
            pipe = CopyPipe(cur, ["t"])
            big = pd.DataFrame({"n": [1] * 150_000 + [70_000]})  # the second chunk fails
            with pytest.raises(ValueError, match=r"t\.n: a value does not fit int2"):
                try:
                    pipe.copy("t", big)
                except BaseException:
                    pipe.abort()
                    raise
    finally:
        raw.close()
