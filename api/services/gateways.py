"""The gateways behind the broker (短信 SMS, 微信 WeChat): adapters, and whether each is set up.

The relay (:mod:`api.services.relay`) publishes every outbox message to the broker;
a gateway consumes the broker's queue and hands each message to its provider.  A
gateway is an adapter with a ``name``, a :meth:`Gateway.state` (configured or not, and
what to set) and :meth:`Gateway.send`.  Neither provider is configured in this
deployment unless its settings are given; an unconfigured gateway says so and sends
nothing (:class:`GatewayNotConfigured`), so the messages wait, durable, in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from gis.errors import ServiceError, Unavailable
from gis.settings import Settings

log = logging.getLogger("wangge.gateways")


class GatewayNotConfigured(ServiceError, Unavailable):
    """A gateway was asked to send but its provider is not configured; says what to set."""


@dataclass(frozen=True)
class GatewayState:
    """Whether a gateway can send, and if not, what to set."""

    name: str
    configured: bool
    detail: str


class Gateway(Protocol):
    """An adapter from the broker's messages to a provider (SMS, WeChat)."""

    name: str

    def state(self) -> GatewayState:
        """Configured or not, with what to set."""
        ...

    def send(self, message: dict) -> str:
        """Hand one relayed message (the relay's JSON) over; the provider's id."""
        ...


class SmsGateway:
    """SMS through an HTTP gateway (``WANGGE_SMS_GATEWAY_URL``), which looks up the phone."""

    name = "sms"

    def __init__(self, settings: Settings) -> None:
        self.url = settings.sms_gateway_url

    def state(self) -> GatewayState:
        """Configured when the gateway URL is set."""
        if not self.url:
            return GatewayState(
                self.name, False, "not configured: set WANGGE_SMS_GATEWAY_URL to the SMS gateway"
            )
        return GatewayState(self.name, True, f"posts to {self.url}")

    def send(self, message: dict) -> str:
        """POST the message to the gateway; its answer's ``id``."""
        if not self.url:
            raise GatewayNotConfigured(self.state().detail)
        import httpx

        answer = httpx.post(self.url, json=message, timeout=10)
        answer.raise_for_status()
        return str(json.loads(answer.text or "{}").get("id", message["message_id"]))


class WechatGateway:
    """WeChat template messages of an official account (``WANGGE_WECHAT_APP_ID``)."""

    name = "wechat"

    def __init__(self, settings: Settings) -> None:
        self.app_id = settings.wechat_app_id

    def state(self) -> GatewayState:
        """Not configured until an app id is set; even then no sender is built in yet."""
        if not self.app_id:
            return GatewayState(
                self.name, False, "not configured: set WANGGE_WECHAT_APP_ID (official account)"
            )
        return GatewayState(
            self.name, False, "app id set, but no WeChat sender is built into this deployment"
        )

    def send(self, message: dict) -> str:
        """Always refuses here: there is no WeChat sender yet."""
        raise GatewayNotConfigured(self.state().detail)


def gateways(settings: Settings) -> list[Gateway]:
    """The gateways of this deployment, in the order they are tried."""
    return [SmsGateway(settings), WechatGateway(settings)]


def gateway_states(settings: Settings) -> list[GatewayState]:
    """Each gateway's state."""
    return [g.state() for g in gateways(settings)]


def configured_gateway(settings: Settings) -> Gateway:
    """The first configured gateway; :class:`GatewayNotConfigured` naming what to set."""
    for gateway in gateways(settings):
        if gateway.state().configured:
            return gateway
    states = "; ".join(f"{s.name}: {s.detail}" for s in gateway_states(settings))
    raise GatewayNotConfigured(
        f"no gateway is configured ({states}); the relayed messages wait, durable, in the "
        f"broker's queue {settings.broker_queue!r} until one is"
    )


@dataclass
class GatewayStats:
    """What a gateway consumer did: messages sent, duplicates dropped, failures."""

    sent: int = 0
    duplicates: int = 0
    failed: int = 0


async def consume(
    broker_url: str,
    queue_name: str,
    gateway: Gateway,
    stop: asyncio.Event,
    *,
    idle_stop_s: float | None = None,
    remember: int = 100_000,
) -> GatewayStats:
    """Hand the queue's messages to ``gateway`` until ``stop`` (or ``idle_stop_s`` idle).

    A message is acknowledged once the gateway took it; one whose ``message_id`` was
    sent already (the relay may publish a message twice after a crash) is acknowledged
    and dropped; one the gateway fails on goes back to the queue and the consumer pauses.
    The last ``remember`` message ids are kept for that check.
    """
    import aio_pika

    stats = GatewayStats()
    seen: OrderedDict[str, None] = OrderedDict()
    connection = await aio_pika.connect(
        broker_url, client_properties={"connection_name": f"wangge-gateway-{gateway.name}"}
    )
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=100)
        queue = await channel.declare_queue(queue_name, durable=True)
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        while not stop.is_set():
            message = await queue.get(no_ack=False, fail=False, timeout=10)
            if message is None:
                if idle_stop_s is not None and loop.time() - idle_since >= idle_stop_s:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=0.2)
                continue
            idle_since = loop.time()
            message_id = str(message.message_id)
            if message_id in seen:
                stats.duplicates += 1
                await message.ack()
                continue
            try:
                await asyncio.to_thread(gateway.send, json.loads(message.body))
            except Exception as exc:  # the provider failed: back to the queue, try later
                stats.failed += 1
                log.error("the %s gateway failed on %s: %s", gateway.name, message_id, exc)
                await message.nack(requeue=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                continue
            await message.ack()
            stats.sent += 1
            seen[message_id] = None
            if len(seen) > remember:
                seen.popitem(last=False)
    finally:
        await connection.close()
    return stats
