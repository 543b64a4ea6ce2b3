"""``wangge relay``: deliver the outbox to the message broker, on its own or once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from api.commands.common import console, fail, ready_engine, say

if TYPE_CHECKING:
    from api.services.relay import RelayConfig

relay_app = typer.Typer(
    help="The relay: publish pending outbox messages to the broker (RabbitMQ).",
    invoke_without_command=True,
)


def _config(
    batch: int | None, exchange: str | None, queue: str | None, name: str | None = None
) -> RelayConfig:
    from api.services.relay import RelayConfig
    from gis.settings import get_settings

    return RelayConfig.from_settings(
        get_settings(), batch=batch, exchange=exchange, queue=queue, name=name
    )


@relay_app.callback()
def relay_command(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is pending, then stop.")
    ] = False,
    batch: Annotated[
        int | None, typer.Option(min=1, max=50_000, help="Messages per batch (default: setting).")
    ] = None,
    exchange: Annotated[str | None, typer.Option(help="Exchange (default: setting).")] = None,
    queue: Annotated[str | None, typer.Option(help="Queue (default: setting).")] = None,
    name: Annotated[
        str | None, typer.Option(help="Connection name the broker shows (default: wangge-relay).")
    ] = None,
) -> None:
    """Run the relay until interrupted (SIGINT/SIGTERM finish the batch in hand)."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio
    import signal
    import time

    from api.services.relay import BrokerUnavailable, Relay, redact_url

    config = _config(batch, exchange, queue, name)
    engine = ready_engine()
    relay = Relay(engine, config)

    async def main() -> None:
        if once:
            await relay.drain()
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        say(f"[relay] publishing the outbox to {redact_url(config.broker_url)} ({config.exchange})")
        await relay.run(stop)

    started = time.perf_counter()
    try:
        asyncio.run(main())
    except BrokerUnavailable as exc:
        fail(str(exc))
    s = relay.stats
    say(
        f"[relay] {s.sent} sent, {s.retried} to retry, {s.failed} failed in {s.batches} "
        f"batch(es), {time.perf_counter() - started:.2f} s"
    )


@relay_app.command("status")
def status_command() -> None:
    """The outbox by delivery status, the broker, and the SMS / WeChat gateways."""
    import asyncio

    from api.services.gateways import gateway_states
    from api.services.relay import broker_reachable, outbox_counts, redact_url
    from gis.settings import get_settings

    config = _config(None, None, None)
    c = outbox_counts(ready_engine())
    oldest = (
        "" if c.oldest_pending_at is None else f" (oldest {c.oldest_pending_at:%Y-%m-%d %H:%M})"
    )
    console.print(
        f"outbox: {c.pending} pending{oldest}, {c.sent} sent, {c.failed} failed, "
        f"{c.retried} retried",
        markup=False,
    )
    problem = asyncio.run(broker_reachable(config))
    console.print(f"broker {redact_url(config.broker_url)}: {problem or 'reachable'}", markup=False)
    for state in gateway_states(get_settings()):
        console.print(f"gateway {state.name}: {state.detail}", markup=False)


@relay_app.command("gateways")
def gateways_command(
    once: Annotated[
        bool, typer.Option("--once", help="Stop when the queue has been empty for 2 s.")
    ] = False,
    queue: Annotated[str | None, typer.Option(help="Queue (default: setting).")] = None,
) -> None:
    """Hand the broker's queue to the configured SMS / WeChat gateway (none: says so)."""
    import asyncio
    import signal

    from api.services.gateways import GatewayNotConfigured, configured_gateway, consume
    from gis.settings import get_settings

    settings = get_settings()
    try:
        gateway = configured_gateway(settings)
    except GatewayNotConfigured as exc:
        fail(str(exc))

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await consume(
            settings.broker_url,
            queue or settings.broker_queue,
            gateway,
            stop,
            idle_stop_s=2.0 if once else None,
        )

    stats = asyncio.run(main())
    say(
        f"[gateway {gateway.name}] {stats.sent} sent, {stats.duplicates} duplicate(s) "
        f"dropped, {stats.failed} failure(s)"
    )


@relay_app.command("retry")
def retry_command(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Outbox ids (default: all failed).")
    ] = None,
) -> None:
    """Queue failed messages again."""
    from api.services.relay import retry_failed

    n = retry_failed(ready_engine(), ids or None)
    if ids and n == 0:
        fail(f"none of outbox messages {ids} has failed: 'wangge relay status' counts them")
    say(f"[relay] {n} failed message(s) queued again")
