"""The server's background jobs: the reminder / 督办 job, the retention, partitions, the relay.

Several app servers may run behind one address.  The reminder job and the retention
are claimed per interval in the database (:mod:`gis.store.job_store`): whichever server
claims a job runs it, the others skip it, and the reminders' "since" is where the last
successful run ended, whichever server ran it — so a reminder goes out once, and none
is lost when a server stops.  The relay needs no claim: each relay claims other outbox
rows.  A failed run never stops the server; the next interval retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.exc import StatementError

from gis import clock
from gis.db.engine import describe_error
from gis.settings import Settings
from gis.store import job_store

log = logging.getLogger("wangge")

#: Who holds a claim: this server process (for the operator reading ``job_run``).
HOLDER = f"{socket.gethostname()}:{os.getpid()}"

ESCALATION = "escalation"
RETENTION = "retention"
PARTITIONS = "partitions"


def run_claimed(
    engine: Engine,
    name: str,
    interval_s: float,
    work: Callable[[datetime | None, datetime], None],
    now: datetime | None = None,
) -> bool:
    """Run ``work(since, now)`` if this server claims job ``name`` now; True when it ran.

    ``since`` is where the last successful run of the job ended (None: it never ran).
    A run that raises keeps that point, so the next run covers its window again.
    """
    now = now or clock.now()
    interval = timedelta(seconds=interval_s)
    with engine.begin() as conn:
        got = job_store.claim(
            conn, name, now, interval, interval * 3 + timedelta(minutes=5), HOLDER
        )
    if got is None:
        return False
    covered = None
    try:
        work(got.covered_until, now)
        covered = now
    finally:
        with engine.begin() as conn:
            job_store.finish(conn, got, clock.now(), covered)
    return True


def escalations(engine: Engine, interval_s: float) -> Callable[[datetime | None, datetime], None]:
    """The reminder / 督办 job as a claimed job's work."""
    from api.services.casework import run_escalations

    def work(since: datetime | None, now: datetime) -> None:
        # reminders that fell due since the last run only, so none is sent twice
        run = run_escalations(engine, now, since or now - timedelta(seconds=interval_s))
        if run.escalated or run.reminders:
            log.info("督办: %d escalated, %d reminders", len(run.escalated), len(run.reminders))

    return work


def owner_engine(engine: Engine, settings: Settings) -> Engine:
    """The tables' owner's engine on ``engine``'s database: partitions are DDL.

    The server's engine acts as the unprivileged role (row-level security); creating and
    dropping partitions needs the owner, as the migrations and the CLI connect.
    """
    from gis.db.engine import get_engine

    return get_engine(settings, url=engine.url.render_as_string(hide_password=False))


def retention(engine: Engine, settings: Settings) -> Callable[[datetime | None, datetime], None]:
    """The retention (:mod:`api.services.retention`) as a claimed job's work."""
    from api.services.retention import run

    owner = owner_engine(engine, settings)

    def work(_since: datetime | None, _now: datetime) -> None:
        done = run(engine, settings, by="system:retention", owner=owner)
        if done.removed_anything:
            log.info(
                "retention: history of %d moved-out resident(s), %d worker position(s) removed",
                done.residents,
                done.positions,
            )
        for month in done.months:
            log.info("retention: month %s of %s dropped", f"{month.month:%Y-%m}", month.table)

    return work


def partitions(engine: Engine, settings: Settings) -> Callable[[datetime | None, datetime], None]:
    """The month partitions made ahead (:func:`api.services.partitions.prepare`) as a job."""
    from api.services.partitions import prepare

    owner = owner_engine(engine, settings)

    def work(_since: datetime | None, now: datetime) -> None:
        done = prepare(owner, settings, now)
        for table, months in done.created.items():
            if months:
                log.info("partitions: %s %s created", table, [f"{m:%Y-%m}" for m in months])

    return work


async def periodic(
    engine: Engine,
    name: str,
    interval_s: float,
    work: Callable[[datetime | None, datetime], None],
    first_delay_s: float | None = None,
) -> None:
    """Offer job ``name`` every ``interval_s`` seconds while the server runs."""
    delay = interval_s if first_delay_s is None else first_delay_s
    while True:
        await asyncio.sleep(delay)
        delay = interval_s
        try:
            await run_in_threadpool(run_claimed, engine, name, interval_s, work)
        except (StatementError, psycopg.Error) as exc:
            # its kind only: a database error's message carries the row's values
            log.error("the %s job failed: %s", name, describe_error(exc))
        except Exception:
            log.exception("the %s job failed", name)


def start(engine: Engine, settings: Settings) -> list[asyncio.Task[None]]:
    """Start the claimed jobs the settings ask for (an interval of 0: never)."""
    tasks = []
    if settings.escalation_interval_s > 0:
        interval = settings.escalation_interval_s
        tasks.append(
            asyncio.create_task(
                periodic(engine, ESCALATION, interval, escalations(engine, interval))
            )
        )
    if settings.retention_interval_s > 0:
        interval = settings.retention_interval_s
        # the first run waits five minutes after the start: a restart loop must not purge
        # in a burst
        tasks.append(
            asyncio.create_task(
                periodic(
                    engine, RETENTION, interval, retention(engine, settings), min(300.0, interval)
                )
            )
        )
    if settings.partition_interval_s > 0:
        interval = settings.partition_interval_s
        # soon after the start (a server down over a month's turn catches up at once), not
        # at once: the migration made the coming months already
        tasks.append(
            asyncio.create_task(
                periodic(
                    engine, PARTITIONS, interval, partitions(engine, settings), min(60.0, interval)
                )
            )
        )
    return tasks


async def relay_loop(engine: Engine, settings: Settings, stop: asyncio.Event) -> None:
    """Publish the outbox to the broker while the server runs (:mod:`api.services.relay`).

    Several server processes (and ``wangge relay``) may run it at once: each claims other
    rows.  A broker that is down is logged once and retried; it never stops the server.
    """
    from api.services.relay import Relay, RelayConfig

    relay = Relay(engine, RelayConfig.from_settings(settings, name="wangge-serve-relay"))
    while not stop.is_set():
        try:
            await relay.run(stop)
        except (StatementError, psycopg.Error) as exc:
            log.error("the relay failed: %s", describe_error(exc))
        except Exception:
            log.exception("the relay failed")
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.relay_interval_s * 5)
