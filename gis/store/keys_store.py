"""The SQL of sealed identity data (:mod:`gis.crypt`): re-sealing in batches, counting stale values.

Used by migration 0027 (which seals the clear values stored before it) and by
``wangge keys rotate`` (which re-seals values under an old key with the current one).
One batch is one statement reading up to ``limit`` rows after a key, and one ``UPDATE``
from arrays: the caller commits between batches when it wants them durable one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, text

from gis import crypt

#: The key column of each sealed table.
KEYS = {"resident_identity": "resident_id", "incident_contact": "incident_id"}


def _stale(columns: list[str]) -> str:
    """Rows with a value not under the current key (``:kid``)."""
    return " OR ".join(f"substring({c} from 2 for 4) <> :kid" for c in columns)


def count_stale(conn: Connection, table: str, kid: bytes) -> int:
    """How many rows of ``table`` hold a value sealed under another key than ``kid``."""
    columns = list(crypt.SEALED[table])
    return int(
        conn.execute(
            text(f"SELECT count(*) FROM {table} WHERE {_stale(columns)}"), {"kid": kid}
        ).scalar_one()
    )


def reseal_batch(
    conn: Connection,
    table: str,
    ring: crypt.Keyring,
    read: Callable[[str, Any], str | None],
    *,
    after: int,
    limit: int,
    stale_only: bool,
) -> tuple[int, int]:
    """Re-seal the next ``limit`` rows of ``table`` after key ``after``; (last key, rows).

    ``read(column, stored)`` gives a stored value's clear text (the migration decodes the
    clear bytes of before; a rotation opens with the old keys).  ``stale_only``: only rows
    with a value under another key than the current one.  The blind indexes
    (:data:`gis.crypt.HASHED`) are written again with the values.  ``(after, 0)`` at the end.
    """
    key = KEYS[table]
    columns = list(crypt.SEALED[table])
    hashed = crypt.HASHED.get(table, ())
    where = f"{key} > :after" + (f" AND ({_stale(columns)})" if stale_only else "")
    rows = conn.execute(
        text(
            f"SELECT {key}, {', '.join(columns)} FROM {table} WHERE {where} "
            f"ORDER BY {key} LIMIT :limit"
        ),
        {"after": after, "limit": limit, "kid": ring.kid},
    ).all()
    if not rows:
        return after, 0
    params: dict[str, Any] = {"k": [int(r[0]) for r in rows]}
    sets, arrays, names = [], ["CAST(:k AS bigint[])"], ["k"]
    for n, column in enumerate(columns, 1):
        clear = [read(column, r[n]) for r in rows]
        params[column] = ring.seal_many(column, clear)
        sets.append(f"{column} = v.{column}")
        arrays.append(f"CAST(:{column} AS bytea[])")
        names.append(column)
        if column in hashed:
            params[f"{column}_hash"] = ring.digest_many(crypt.SEALED[table][column], clear)
            sets.append(f"{column}_hash = v.{column}_hash")
            arrays.append(f"CAST(:{column}_hash AS bytea[])")
            names.append(f"{column}_hash")
    conn.execute(
        text(
            f"UPDATE {table} t SET {', '.join(sets)} "
            f"FROM unnest({', '.join(arrays)}) AS v({', '.join(names)}) WHERE t.{key} = v.k"
        ),
        params,
    )
    return int(rows[-1][0]), len(rows)


def total_rows(conn: Connection, table: str) -> int:
    """The rows of ``table`` (its planner estimate when large: for a progress bar)."""
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
