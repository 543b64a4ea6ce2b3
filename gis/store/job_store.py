"""Claiming the servers' periodic jobs (``job_run``): one server runs each per interval.

Several app servers behind one address each run the same timers; the first to claim a
job's row in an interval runs it, the others find it claimed and skip.  The claim is one
conditional ``UPDATE`` (row locks make it atomic without holding anything while the job
runs), so a server that stops mid-run blocks nobody for long: its claim goes stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class Claim:
    """A claimed run: when it started and where the last successful run left off."""

    name: str
    started_at: datetime
    covered_until: datetime | None


def claim(
    conn: Connection,
    name: str,
    now: datetime,
    interval: timedelta,
    stale_after: timedelta,
    holder: str,
) -> Claim | None:
    """Claim job ``name`` for a run starting at ``now``; None when it is not due here.

    Due when it never ran, when the last run finished and started at least nine tenths
    of ``interval`` ago (timers drift), when a run started ``stale_after`` ago and never
    finished (its server stopped), or when the last start lies more than ``interval``
    ahead of ``now`` (the clock was set back).  Two servers claiming at once: the second
    waits for the first's row lock, then finds the row claimed (its reading of the clock,
    a moment older than the first's, is no clock set back).
    """
    conn.execute(
        text("INSERT INTO job_run (name) VALUES (:name) ON CONFLICT (name) DO NOTHING"),
        {"name": name},
    )
    row = conn.execute(
        text(
            "UPDATE job_run SET started_at = :now, finished_at = NULL, holder = :holder "
            "WHERE name = :name AND (started_at IS NULL OR started_at > :ahead "
            "OR (finished_at IS NOT NULL AND started_at <= :due) "
            "OR started_at <= :stale) "
            "RETURNING covered_until"
        ),
        {
            "name": name,
            "now": now,
            # a start more than an interval ahead: the clock was set back (a server whose
            # reading of the clock is a moment older than the last claim is not)
            "ahead": now + interval,
            "due": now - interval * 0.9,
            "stale": now - stale_after,
            "holder": holder,
        },
    ).first()
    return None if row is None else Claim(name, now, row.covered_until)


def finish(conn: Connection, done: Claim, now: datetime, covered_until: datetime | None) -> None:
    """Record the end of ``done``'s run; ``covered_until`` None keeps the last one (failed)."""
    conn.execute(
        text(
            "UPDATE job_run SET finished_at = :now, runs = runs + 1, "
            "covered_until = coalesce(:covered, covered_until) "
            "WHERE name = :name AND started_at = :started"
        ),
        {"name": done.name, "now": now, "covered": covered_until, "started": done.started_at},
    )


def runs(conn: Connection, name: str) -> int:
    """How many runs of ``name`` finished (all servers together)."""
    return int(
        conn.execute(
            text("SELECT coalesce(max(runs), 0) FROM job_run WHERE name = :name"), {"name": name}
        ).scalar_one()
    )
