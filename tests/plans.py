"""Which partitions a read's statements scanned: the plans PostgreSQL ran, as a user would
read them in EXPLAIN ANALYZE (a partition pruned, or never started, is not read)."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import Connection, event


def partitions_read(conn: Connection, table: str, read: Callable[[Connection], object]) -> set[str]:
    """The partitions of ``table`` that ``read``'s statements on it scanned.

    Each named by what follows the table's name: ``2026_12``, or ``default``.
    """
    seen: list[tuple[str, object]] = []

    def keep(_c, _cur, statement, parameters, _ctx, _many) -> None:
        if re.search(rf"\b{table}\b", statement) and not statement.startswith("EXPLAIN"):
            seen.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", keep)
    try:
        read(conn)
    finally:
        event.remove(conn, "before_cursor_execute", keep)
    assert seen, f"no statement read {table}"
    found: set[str] = set()
    for statement, parameters in seen:
        plan = conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + statement, parameters
        ).scalars()
        for line in plan:
            if "never executed" not in line:
                found.update(re.findall(rf"\b{table}_(\d{{4}}_\d{{2}}|default)\b", line))
    return found
