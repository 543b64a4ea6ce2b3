"""The relay (消息中继): delivers the outbox to the message broker, each message once.

Alerts and reminders are written to the ``outbox`` table in the transaction that makes
them (:mod:`api.services.alerts`); the relay takes them from there to a real broker
(RabbitMQ, ``WANGGE_BROKER_URL``), where the SMS and WeChat gateways
(:mod:`api.services.gateways`) consume them.  It runs in the server (``wangge serve``,
``WANGGE_RELAY_INTERVAL_S``) or on its own (``wangge relay``); several may run at once.

Method
------
One batch is one database transaction:

1. claim up to ``batch`` pending rows, oldest first, ``FOR UPDATE SKIP LOCKED`` (a
   second relay takes the next rows, never these);
2. publish each as a persistent message on a channel in publisher-confirm mode, all at
   once, and wait for the broker's confirms (a confirmed persistent message on a durable
   queue survives a broker restart);
3. in the same transaction, mark the confirmed rows ``sent``; a message the broker
   refused (nack, or returned as unroutable) is retried after ``retry_s`` and marked
   ``failed`` after ``max_attempts``; a message unconfirmed because the connection to
   the broker dropped stays pending for the next batch on a new connection; commit.

``concurrency`` batches run at once (each claims other rows), so that one batch's
database round trips overlap another's wait for confirms.

A relay killed between (2) and (3) leaves its rows pending (the database rolls the
transaction back when the connection goes) and they are published again: so a message
is never lost, and in that window only a message may reach the broker twice, with the
same AMQP ``message-id`` (the outbox's ``message_id``), on which the consumers dedupe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from sqlalchemy import Connection, Engine

from gis import clock
from gis.errors import ServiceError, Unavailable
from gis.settings import Settings
from gis.store import relay_store as store
from gis.store.relay_store import OutboxCounts, PendingMessage

log = logging.getLogger("wangge.relay")


class _OncePerOutage(logging.Filter):
    """Drops aiormq's own line for each failed connection attempt: the relay says it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("error when creating transport")


logging.getLogger("aiormq.connection").addFilter(_OncePerOutage())

#: Routing keys are ``message.<outbox channel>``; the gateways' queue takes them all.
ROUTING_PREFIX = "message."
#: The broker's answers that refuse one message (nack, returned as unroutable).
REFUSALS = (aio_pika.exceptions.DeliveryError, aio_pika.exceptions.PublishError)


class BrokerUnavailable(ServiceError, Unavailable):
    """The broker cannot be reached or dropped the connection; the message says where."""


@dataclass(frozen=True)
class RelayConfig:
    """Where and how the relay publishes (see the settings of the same names)."""

    broker_url: str
    exchange: str = "wangge.messages"
    queue: str = "wangge.messages"
    batch: int = 500
    max_attempts: int = 5
    retry_s: float = 30.0
    interval_s: float = 1.0
    concurrency: int = 2
    name: str = "wangge-relay"

    @classmethod
    def from_settings(cls, settings: Settings, **changes: object) -> RelayConfig:
        """The configuration the settings describe, with ``changes`` over it."""
        values: dict[str, object] = {
            "broker_url": settings.broker_url,
            "exchange": settings.broker_exchange,
            "queue": settings.broker_queue,
            "batch": settings.relay_batch,
            "max_attempts": settings.relay_max_attempts,
            "retry_s": settings.relay_retry_s,
            "interval_s": settings.relay_interval_s or 1.0,
            "concurrency": settings.relay_concurrency,
        }
        values.update({k: v for k, v in changes.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class RelayStats:
    """What a relay did since it started."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    batches: int = 0
    connects: int = 0
    errors: list[str] = field(default_factory=list)


def redact_url(url: str) -> str:
    """The broker URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def message_body(m: PendingMessage) -> bytes:
    """The JSON a gateway receives for one outbox message."""
    return json.dumps(
        {
            "message_id": m.message_id,
            "outbox_id": m.id,
            "channel": m.channel,
            "recipient": m.recipient,
            "body": m.body,
            "alert_recipient_id": m.alert_recipient_id,
            "created_at": m.created_at.isoformat(),
        },
        ensure_ascii=False,
    ).encode()


class Relay:
    """Publishes the outbox of the database behind ``engine`` to the broker."""

    def __init__(self, engine: Engine, config: RelayConfig) -> None:
        self.engine = engine
        self.config = config
        self.stats = RelayStats()
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._connecting = asyncio.Lock()

    # ------------------------------------------------------------ the broker

    async def connect(self) -> None:
        """Open the connection and a confirming channel; declare exchange, queue, binding.

        Raises
        ------
        BrokerUnavailable
            When the broker cannot be reached.
        """
        await self.close()
        try:
            connection = await aio_pika.connect(
                self.config.broker_url,
                client_properties={"connection_name": self.config.name},
                timeout=10,
            )
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await channel.declare_exchange(
                self.config.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(self.config.queue, durable=True)
            await queue.bind(exchange, ROUTING_PREFIX + "#")
        except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
            raise BrokerUnavailable(
                f"the message broker at {redact_url(self.config.broker_url)} cannot be "
                f"reached ({type(exc).__name__}: {exc}): start RabbitMQ "
                "(scripts/setup.sh installs and starts it) or set WANGGE_BROKER_URL"
            ) from exc
        self._connection, self._channel, self._exchange = connection, channel, exchange
        self.stats.connects += 1

    @property
    def connected(self) -> bool:
        """Whether the connection and channel are open."""
        return (
            self._connection is not None
            and not self._connection.is_closed
            and self._channel is not None
            and not self._channel.is_closed
        )

    async def close(self) -> None:
        """Close the connection to the broker (no-op when closed)."""
        connection, self._connection = self._connection, None
        self._channel = self._exchange = None
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception as exc:  # closing a broken connection: nothing left to do
                log.debug("closing the broker connection: %s", exc)

    async def _publish(self, m: PendingMessage) -> None:
        assert self._exchange is not None
        message = aio_pika.Message(
            message_body(m),
            message_id=m.message_id,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type="wangge.outbox",
        )
        await self._exchange.publish(message, ROUTING_PREFIX + m.channel, mandatory=True)

    # ------------------------------------------------------------ one batch

    async def relay_batch(self) -> int:
        """Claim, publish and record one batch; returns how many messages it claimed.

        Raises
        ------
        BrokerUnavailable
            When the connection dropped during the batch (the unconfirmed messages stay
            pending; reconnect and go on).
        """
        async with self._connecting:
            if not self.connected:
                await self.connect()
        conn = await asyncio.to_thread(self.engine.connect)
        try:
            claimed = await asyncio.to_thread(self._claim, conn)
            if not claimed:
                await asyncio.to_thread(conn.rollback)
                return 0
            results = await asyncio.gather(
                *(self._publish(m) for m in claimed), return_exceptions=True
            )
            sent, refused, dropped = [], {}, {}
            for m, result in zip(claimed, results, strict=True):
                if result is None:
                    sent.append(m.id)
                elif isinstance(
                    result, aio_pika.exceptions.DeliveryError | aio_pika.exceptions.PublishError
                ):
                    refused[m.id] = f"refused by the broker: {result}"
                elif isinstance(result, Exception):
                    dropped[m.id] = f"not confirmed, connection lost: {type(result).__name__}"
                else:  # CancelledError and the like: leave the batch to the rollback
                    raise result
            await asyncio.to_thread(self._record, conn, sent, refused, dropped)
        finally:
            await asyncio.to_thread(conn.close)
        self.stats.batches += 1
        if dropped:
            await self.close()
            raise BrokerUnavailable(
                f"the connection to the broker at {redact_url(self.config.broker_url)} "
                f"dropped: {len(dropped)} message(s) stay pending and are sent again"
            )
        return len(claimed)

    def _claim(self, conn: Connection) -> list[PendingMessage]:
        conn.begin()
        return store.claim(conn, self.config.batch, clock.now())

    def _record(
        self, conn: Connection, sent: list[int], refused: dict[int, str], dropped: dict[int, str]
    ) -> None:
        now = clock.now()
        store.mark_sent(conn, sent, now)
        retry, failed = store.mark_retry(
            conn,
            refused,
            now,
            now + timedelta(seconds=self.config.retry_s),
            max_attempts=self.config.max_attempts,
        )
        again, _ = store.mark_retry(conn, dropped, now, now, max_attempts=None)
        conn.commit()
        self.stats.sent += len(sent)
        self.stats.retried += retry + again
        self.stats.failed += failed
        if failed:
            log.error(
                "%d message(s) refused by the broker %d times: failed",
                failed,
                self.config.max_attempts,
            )

    # ------------------------------------------------------------ loops

    async def _batches(self) -> int:
        """``concurrency`` batches at once (each its own claim and transaction); claimed.

        Raises the first error of any of them once all have finished, so none is left
        running.
        """
        results = await asyncio.gather(
            *(self.relay_batch() for _ in range(self.config.concurrency)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(int(r) for r in results)  # type: ignore[arg-type]

    async def drain(self) -> RelayStats:
        """Relay batches until no message is due; then close.  Returns the counts."""
        try:
            while await self._batches():
                pass
        finally:
            await self.close()
        return self.stats

    async def run(self, stop: asyncio.Event) -> RelayStats:
        """Relay until ``stop`` is set: a batch while there are due messages, else wait.

        A broker that is down is retried with a growing pause (up to a minute), logged
        once per outage; the batch in hand when ``stop`` is set is finished first.
        """
        pause = self.config.interval_s
        down_since = None
        try:
            while not stop.is_set():
                try:
                    claimed = await self._batches()
                except BrokerUnavailable as exc:
                    if down_since is None:
                        log.error("%s", exc)
                        down_since = clock.now()
                    self.stats.errors.append(str(exc))
                    del self.stats.errors[:-20]
                    await _wait(stop, pause)
                    pause = min(60.0, pause * 2)
                    continue
                if down_since is not None:
                    log.info("the message broker answers again; relaying")
                    down_since, pause = None, self.config.interval_s
                if claimed < self.config.batch * self.config.concurrency:
                    await _wait(stop, self.config.interval_s)
        finally:
            await self.close()
        return self.stats


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def outbox_counts(engine: Engine) -> OutboxCounts:
    """How the outbox stands (pending, sent, failed, retried)."""
    return store.counts(engine)


def retry_failed(engine: Engine, ids: list[int] | None = None) -> int:
    """Queue failed messages again (all, or these outbox ids); returns how many."""
    with engine.begin() as conn:
        return store.requeue_failed(conn, ids)


async def broker_reachable(config: RelayConfig) -> str | None:
    """None when the broker answers, else why not (one sentence)."""
    relay = Relay(None, config)  # type: ignore[arg-type]
    try:
        await relay.connect()
    except BrokerUnavailable as exc:
        return str(exc)
    finally:
        await relay.close()
    return None
