"""The gateways behind the broker (短信 SMS, 微信 WeChat): adapters, and whether each is set up.

The relay (:mod:`api.services.relay`) publishes every outbox message to the broker;
a gateway consumes the broker's queue and hands each message to its provider.  A
gateway is an adapter with a ``name``, a :meth:`Gateway.state` (configured or not, and
what to set) and :meth:`Gateway.send`.  Neither provider is configured in this
deployment unless its settings are given; an unconfigured gateway says so and sends
nothing (:class:`GatewayNotConfigured`), so the messages wait, durable, in the queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from gis.errors import ServiceError, Unavailable
from gis.settings import Settings


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
