"""Monthly partitions (按月分区) of the tables that grow without bound: create, list, drop.

``audit_log`` and ``incident_event`` are partitioned by RANGE of their time ``at``, one
partition a calendar month of local time (Asia/Shanghai), plus a DEFAULT partition that
takes any row no month partition holds, so that no insert ever fails for want of one
(migrations 0031 and 0037).  ``incident`` is partitioned by RANGE of its number, which
carries its month (:mod:`gis.store.incident_ids`, migration 0042): each month's partition
holds that month's numbers, with a CHECK rule that their ``reported_at`` lies in it; its
DEFAULT partition holds the plain numbers (cases stored before 0042, or filed for a
month without a partition), which never move.  The partitions live in the schema
``wangge_partitions``, on which the server's role has no privilege: rows are read and
written through the parent, where its grants, row-level security and triggers apply; a
partition cannot be named directly.

Every statement here is DDL on the owner's tables: run it on the owner's connection (the
CLI's, the migrations', :func:`gis.db.engine.get_engine`), not the server's role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, tzinfo

import numpy as np
import pandas as pd
import sqlalchemy.exc
from sqlalchemy import Connection, Engine, text

from gis.clock import LOCAL_TZ, add_months, month_of, month_start
from gis.store import incident_ids

__all__ = ["LOCAL_TZ", "add_months", "month_of"]  # re-exported: the partitions' months

#: Where the partitions live (no privilege for the server's role).
SCHEMA = "wangge_partitions"
#: The partitioned tables and their partition key: a ``timestamptz`` column for the audit
#: log (migration 0031) and the incidents' events (migration 0037, once every read of them
#: carried its case's span, report to last step, as time bounds, :mod:`gis.store.event_bound`);
#: the number, which carries its month, for the incidents (migration 0042, :data:`CODED`).
TABLES: dict[str, str] = {"audit_log": "at", "incident_event": "at", "incident": "id"}
#: The tables partitioned by a number that carries its month, and the time it is coded
#: from (:mod:`gis.store.incident_ids`).
CODED: dict[str, str] = {"incident": "reported_at"}


@dataclass(frozen=True)
class MonthPartition:
    """One month partition: the table, the month (its first day) and its rows.

    With ``plain``: the rows of a coded table's DEFAULT partition (plain numbers, which
    carry no month) reported before ``month``, which its retention removes with it.
    """

    table: str
    month: date
    rows: int
    plain: bool = False


def partition_name(table: str, month: date) -> str:
    """``audit_log_2026_12``: the partition of ``table`` for ``month``."""
    return f"{table}_{month:%Y_%m}"


def default_name(table: str) -> str:
    """``audit_log_default``: the partition taking rows of months without their own."""
    return f"{table}_default"


def _instant(month: date, tz: tzinfo) -> str:
    return month_start(month, tz).isoformat()


def _bound(month: date, tz: tzinfo) -> str:
    return f"'{_instant(month, tz)}'"


def _check(table: str) -> None:
    if table not in TABLES:
        raise ValueError(f"{table!r} is not a partitioned table; one of {sorted(TABLES)}")


def months(conn: Connection, table: str) -> list[date]:
    """The months that have their own partition of ``table``, oldest first."""
    _check(table)
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:parent)"
        ),
        {"parent": f"public.{table}"},
    ).scalars()
    return months_named(table, names)


def months_named(table: str, names: Iterable[str]) -> list[date]:
    """The months of those of ``names`` that are month partitions of ``table``, oldest first."""
    pattern = re.compile(rf"^{table}_(\d{{4}})_(\d{{2}})$")
    found = [pattern.match(n) for n in names]
    return sorted(date(int(m[1]), int(m[2]), 1) for m in found if m)


def months_in_default(conn: Connection, table: str, tz: tzinfo = LOCAL_TZ) -> dict[date, int]:
    """The local months of the rows the DEFAULT partition of ``table`` holds, and how many.

    Of a coded table, only the numbers that carry a month count (the plain ones stay).
    """
    _check(table)
    if table in CODED:
        rows = conn.execute(
            text(
                f"SELECT id / {incident_ids.FACTOR}, count(*) FROM "
                f"{SCHEMA}.{default_name(table)} WHERE id >= {incident_ids.FIRST_CODED} "
                "GROUP BY 1 ORDER BY 1"
            )
        ).all()
        return {incident_ids.month_of_code(int(c)): int(n) for c, n in rows}
    rows = conn.execute(
        text(
            f"SELECT date_trunc('month', {TABLES[table]} AT TIME ZONE :tz)::date, count(*) "
            f"FROM {SCHEMA}.{default_name(table)} GROUP BY 1 ORDER BY 1"
        ),
        {"tz": str(tz)},
    ).all()
    return {m: int(n) for m, n in rows}


def rows_in_default(conn: Connection, table: str) -> int:
    """How many rows of ``table`` no month partition holds."""
    _check(table)
    return int(
        conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.{default_name(table)}")).scalar_one()
    )


def create_schema(conn: Connection) -> None:
    """The partitions' schema, with no privilege for anyone but its owner."""
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    conn.execute(text(f"REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC"))


def create_default(conn: Connection, table: str) -> None:
    """The DEFAULT partition of ``table`` (when it has none)."""
    _check(table)
    name = f"{SCHEMA}.{default_name(table)}"
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} DEFAULT"))


#: How long a partition's DDL waits for the table's lock before it gives up (seconds).
#: Waiting, it would hold up every request that audits behind it; giving up, the job
#: tries again at its next run, and rows meanwhile land in DEFAULT, never refused.
LOCK_TIMEOUT_S = 5.0


def _lock_timeout(conn: Connection, seconds: float) -> None:
    conn.execute(
        text("SELECT set_config('lock_timeout', :t, true)"), {"t": f"{int(seconds * 1000)}ms"}
    )


def create_months(
    conn: Connection,
    table: str,
    wanted: list[date],
    tz: tzinfo = LOCAL_TZ,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
) -> tuple[list[date], int]:
    """Give each month of ``wanted`` its partition of ``table``; (months created, rows moved).

    Rows of those months already in the DEFAULT partition (the job did not run for a
    while, or older records were imported) move into their month: the DEFAULT partition
    is detached, the months created, a new DEFAULT attached and the old one's rows
    inserted again through the parent, then it is dropped — never an UPDATE or DELETE,
    which the audit log refuses.  All in the caller's transaction, under an exclusive
    lock of the table (taken only when a month is missing; a few milliseconds when no
    row moves).
    """
    _check(table)
    if not set(wanted) - set(months(conn, table)):
        return [], 0
    if table in CODED:  # no row waits in DEFAULT: a plain number stays there
        return _make_coded_months(conn, wanted), 0
    # creating a partition locks the table anyway; locked first, no row of a new month
    # slips into DEFAULT before the CREATE (which would then fail), and no other run
    # (the CLI beside the server's job) creates the same month meanwhile
    _lock_timeout(conn, lock_timeout_s)
    conn.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
    have = set(months(conn, table))
    new = sorted({m for m in wanted if m not in have})
    if not new:
        return [], 0
    key = TABLES[table]
    ranges = " OR ".join(
        f"({key} >= {_bound(m, tz)} AND {key} < {_bound(add_months(m, 1), tz)})" for m in new
    )
    waiting = conn.execute(
        text(f"SELECT count(*) FROM {SCHEMA}.{default_name(table)} WHERE {ranges}")
    ).scalar_one()
    old = f"{default_name(table)}_old"
    if waiting:
        conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {SCHEMA}.{default_name(table)}"))
        conn.execute(text(f"ALTER TABLE {SCHEMA}.{default_name(table)} RENAME TO {old}"))
    for m in new:
        conn.execute(
            text(
                f"CREATE TABLE {SCHEMA}.{partition_name(table, m)} PARTITION OF {table} "
                f"FOR VALUES FROM ({_bound(m, tz)}) TO ({_bound(add_months(m, 1), tz)})"
            )
        )
    moved = 0
    if waiting:
        create_default(conn, table)
        moved = conn.execute(text(f"INSERT INTO {table} SELECT * FROM {SCHEMA}.{old}")).rowcount
        conn.execute(text(f"DROP TABLE {SCHEMA}.{old}"))
    return new, int(moved)


def _make_coded_months(conn: Connection, wanted: list[date]) -> list[date]:
    """Make the cases' months of ``wanted`` (``wangge_make_incident_months``, 0042)."""
    made = conn.execute(
        text("SELECT wangge_make_incident_months(CAST(:m AS date[]))"), {"m": sorted(set(wanted))}
    ).scalar_one()
    return sorted(made or [])


def make_case_months(engine: Engine, reported_at: Iterable[object]) -> None:
    """Give the months of cases reported at ``reported_at`` their partition of ``incident``.

    Before a load or an import files them, in a transaction of its own (the filing's
    would otherwise hold every reader of the cases for as long as it runs); the server's
    role may call it too (the function makes them as the owner, migration 0042).  Empty
    partitions left by a filing that then fails cost nothing.  When the table's lock
    cannot be had within :data:`LOCK_TIMEOUT_S`, the cases of months without a partition
    are filed under plain numbers.
    """
    times = pd.to_datetime(pd.Series(list(reported_at)), utc=True, errors="coerce").dropna()
    if times.empty:
        return
    codes = np.unique(incident_ids.local_month_codes(times))
    wanted = [incident_ids.month_of_code(int(c)) for c in codes]
    try:
        with engine.begin() as conn:
            create_months(conn, "incident", wanted)
    except sqlalchemy.exc.OperationalError:  # lock timeout: busy, filed under plain numbers
        pass


def partitions_before(conn: Connection, table: str, keep_from: date) -> list[MonthPartition]:
    """The month partitions of ``table`` wholly before the month ``keep_from``, with rows."""
    out = []
    for m in months(conn, table):
        if m >= keep_from:
            break
        rows = conn.execute(
            text(f"SELECT count(*) FROM {SCHEMA}.{partition_name(table, m)}")
        ).scalar_one()
        out.append(MonthPartition(table, m, int(rows)))
    return out


def plain_before(conn: Connection, table: str, keep_from: date) -> MonthPartition:
    """The rows of a coded table's DEFAULT partition reported before the month ``keep_from``.

    Plain numbers carry no month, so no month's drop takes them: the retention deletes
    them by their time (:func:`delete_plain_before`).
    """
    rows = conn.execute(
        text(f"SELECT count(*) FROM {SCHEMA}.{default_name(table)} WHERE {CODED[table]} < :before"),
        {"before": month_start(keep_from)},
    ).scalar_one()
    return MonthPartition(table, keep_from, int(rows), plain=True)


def delete_plain_before(
    conn: Connection, table: str, keep_from: date, lock_timeout_s: float = LOCK_TIMEOUT_S
) -> int:
    """Delete what :func:`plain_before` counts (the keys' actions take what refers to it)."""
    _lock_timeout(conn, lock_timeout_s)
    return conn.execute(
        text(f"DELETE FROM {SCHEMA}.{default_name(table)} WHERE {CODED[table]} < :before"),
        {"before": month_start(keep_from)},
    ).rowcount


def drop_month(
    conn: Connection, table: str, month: date, lock_timeout_s: float = LOCK_TIMEOUT_S
) -> None:
    """Drop the partition of ``table`` for ``month`` with its rows.

    No row trigger fires — but a coded table's rows are referred to by others' keys
    (a case's steps, photos …): they are deleted first, as the keys say (CASCADE, SET
    NULL), and the emptied partition detached before it is dropped.
    """
    _check(table)
    _lock_timeout(conn, lock_timeout_s)
    name = f"{SCHEMA}.{partition_name(table, month)}"
    if table in CODED:
        conn.execute(text(f"DELETE FROM {name}"))
        conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
    conn.execute(text(f"DROP TABLE {name}"))
