"""Counts the database keeps up to date itself, by statement-level triggers.

What migrations 0038 (households per building) and 0039 (people per grid) share.  A
count table holds, per key (a building, a grid), sums over the rows of a source table
(``household``, ``resident``) that carry that key: each statement that inserts, deletes
or updates source rows adds its change (transition tables: new rows counted +1, old rows
-1, so an update that moves nothing adds 0 and is skipped), and a ``TRUNCATE`` of the
source empties its counts.  Readers then look a key's row up instead of counting the
source's rows at every read — the published views the OGC API pages by ``OFFSET`` paid
that for every skipped row too.

The trigger functions run as their owner (``SECURITY DEFINER``): every writer's
statement counts, whatever row-level security lets it see.  Kept rows are locked in key
order before they change (two statements touching the same keys cannot deadlock); keys
without a row are inserted (a concurrent insert of the same key adds on conflict).  Not
one ``INSERT … ON CONFLICT``: a CHECK is tried on the proposed row (-1) first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

OPERATIONS = ("inserted", "deleted", "moved", "emptied")


@dataclass(frozen=True)
class KeptCounts:
    """Counts in ``table`` per ``key``, summed over the rows of ``source``.

    ``counts``: each count column of ``table`` this source feeds, and the expression on a
    source row it adds (``1``, ``disabled::int``).  ``whole``: the source feeds every
    count column of the table (its ``TRUNCATE`` deletes the rows, else zeroes its columns).
    """

    table: str
    key: str
    source: str
    counts: Mapping[str, str]
    whole: bool = True

    def _name(self, operation: str) -> str:
        return f"wangge_{self.table}_{self.source}_{operation}"

    def _rows(self, relation: str, sign: str) -> str:
        exprs = ", ".join(f"{sign}({expr})::bigint AS {col}" for col, expr in self.counts.items())
        return f"SELECT {self.key}, {exprs} FROM {relation} WHERE {self.key} IS NOT NULL"

    def _apply(self, rows: str) -> str:
        cols = list(self.counts)
        sums = ", ".join(f"sum({c}) AS {c}" for c in cols)
        changed = " OR ".join(f"sum({c}) <> 0" for c in cols)
        add = ", ".join(f"{c} = c.{c} + d.{c}" for c in cols)
        excluded = ", ".join(f"{c} = c.{c} + EXCLUDED.{c}" for c in cols)
        k = self.key
        return f"""
    WITH d AS (
        SELECT {k}, {sums} FROM ({rows}) x GROUP BY {k} HAVING {changed}
    ), locked AS (
        SELECT c.{k} FROM {self.table} c JOIN d USING ({k})
        ORDER BY c.{k} FOR UPDATE OF c
    ), changed AS (
        UPDATE {self.table} c SET {add}
        FROM locked l JOIN d USING ({k})
        WHERE c.{k} = l.{k}
        RETURNING c.{k}
    )
    INSERT INTO {self.table} AS c ({k}, {", ".join(cols)})
    SELECT d.{k}, {", ".join(f"d.{c}" for c in cols)} FROM d
    WHERE NOT EXISTS (SELECT 1 FROM changed WHERE changed.{k} = d.{k})
    ORDER BY d.{k}
    ON CONFLICT ({k}) DO UPDATE SET {excluded};"""

    def create_sql(self) -> str:
        """The trigger functions and the triggers on ``source``."""
        new, old = self._rows("counted_new", ""), self._rows("counted_old", "-")
        emptied = (
            f"DELETE FROM {self.table};"
            if self.whole
            else f"UPDATE {self.table} SET " + ", ".join(f"{c} = 0" for c in self.counts) + ";"
        )
        bodies = {
            "inserted": self._apply(new),
            "deleted": self._apply(old),
            "moved": self._apply(f"{new} UNION ALL {old}"),
            "emptied": emptied,
        }
        events = {
            "inserted": ("INSERT", "REFERENCING NEW TABLE AS counted_new"),
            "deleted": ("DELETE", "REFERENCING OLD TABLE AS counted_old"),
            "moved": ("UPDATE", "REFERENCING OLD TABLE AS counted_old NEW TABLE AS counted_new"),
            "emptied": ("TRUNCATE", ""),
        }
        out = []
        for op in OPERATIONS:
            name = self._name(op)
            out.append(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
                f"SET search_path = public, pg_temp AS $$\nBEGIN\n{bodies[op]}\n"
                "    RETURN NULL;\nEND $$;\n"
                f"CREATE TRIGGER {name} AFTER {events[op][0]} ON {self.source} "
                f"{events[op][1]} FOR EACH STATEMENT EXECUTE FUNCTION {name}();"
            )
        return "\n".join(out)

    def backfill_sql(self) -> str:
        """Counts of the rows ``source`` holds now, added to the table."""
        return self._apply(self._rows(self.source, ""))

    def drop_sql(self) -> str:
        """The triggers and their functions dropped."""
        return "\n".join(
            f"DROP TRIGGER {self._name(op)} ON {self.source}; DROP FUNCTION {self._name(op)}();"
            for op in OPERATIONS
        )
