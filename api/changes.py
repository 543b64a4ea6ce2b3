"""Incident changes pushed live: one ``LISTEN`` per server process, fanned out to every stream."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from gis.errors import Unavailable
from gis.store import awareness_store

#: Seconds between keep-alive comments on a quiet live stream.
HEARTBEAT_S = 15.0
#: The last event of a stream whose credential ended (a token revoked, a sign-out, the
#: account disabled): the browser's reconnection is then refused (401) and it stops.
SIGNED_OUT = 'event: ended\ndata: {"reason": "signed_out"}\n\n'
#: Changes a slow page may fall behind by before it is told to fetch everything again.
QUEUE_MAX = 1000
log = logging.getLogger("wangge.live")


class ChangeHub:
    """One ``LISTEN`` connection per server process, fanned out to every open stream.

    However many wall screens are open, the database sees one listening connection.
    It opens with the first subscriber, closes within a heartbeat of the last one
    leaving, and reconnects after a lost connection (subscribers then get a ``bulk``
    message: whatever happened meanwhile is fetched again).  A subscriber whose queue
    overflows (a stalled page) gets one ``bulk`` message instead of the backlog.
    """

    def __init__(self, dsn: str) -> None:
        """A hub for the database at ``dsn`` (libpq conninfo); nothing opens until asked."""
        self.dsn = dsn
        self.queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def _publish(self, change: dict[str, Any]) -> None:
        for queue in list(self.queues):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait({"op": "bulk", "count": None})

    async def _run(self) -> None:
        lost = False
        try:
            while self.queues:
                stream = awareness_store.incident_change_stream(self.dsn, heartbeat_s=HEARTBEAT_S)
                try:
                    async for change in stream:
                        if change is None:
                            if not self.queues:
                                break
                        elif change.get("op") == "listening":
                            self.ready.set()
                            if lost:
                                self._publish({"op": "bulk", "count": None})
                        else:
                            self._publish(change)
                except (psycopg.Error, OSError):
                    log.warning("the incident LISTEN connection was lost; reconnecting")
                    lost = True
                    await asyncio.sleep(1.0)
                finally:
                    self.ready.clear()
                    await stream.aclose()
        finally:
            self.task = None

    async def subscribe(self, timeout_s: float = 10.0) -> asyncio.Queue[dict[str, Any]]:
        """A queue of every change committed from now on (``LISTEN`` is in force)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_MAX)
        self.queues.add(queue)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run())
        try:
            await asyncio.wait_for(self.ready.wait(), timeout_s)
        except TimeoutError:
            self.queues.discard(queue)
            raise Unavailable("the database does not answer LISTEN; retry") from None
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop delivering to ``queue``."""
        self.queues.discard(queue)


#: Changes on the channel that are no incident: a notice or an alert stored (for residents).
NEWS_OPS = ("notice", "alert")
