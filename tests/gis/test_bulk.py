"""Binary COPY: every column type the loader writes reads back as it was given, NULLs included."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pandas as pd
import psycopg
import pytest
from sqlalchemy import Engine

from gis.db.bulk import copy_frame

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
