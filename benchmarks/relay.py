"""The relay: 10,000 alert messages from the outbox to RabbitMQ, timed, none lost or doubled.

A scratch PostGIS database gets ``--messages`` alert messages in its outbox (the text an
alert writes: the warning and a safe shelter, ~120 characters of Chinese); the relay
publishes them to the real RabbitMQ of ``WANGGE_BROKER_URL`` (persistent messages on a
durable queue, publisher confirms) and a consumer then reads the queue and counts the
message ids.  Three runs, each on a fresh outbox and its own exchange and queue:

in-process
    :meth:`api.services.relay.Relay.drain` in this process: the relay's own speed.
restart
    ``wangge relay`` as a process, stopped (SIGTERM) once a third is sent, then
    ``wangge relay --once`` for the rest: what an operator's restart does.  Timed from
    the first process's start to the second's end (two interpreter starts included) and,
    apart, the span between the first and the last confirmed message.
kill
    the same with SIGKILL mid-batch: nothing may be lost; the messages the killed relay
    published but could not record reach the broker twice with the same message id
    (counted raw, and after the consumer's dedupe on the id).

Usage::

    .venv/bin/python benchmarks/relay.py                  # 10,000 messages, batches of 500

Prints a summary to stderr and one final line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import aio_pika
from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.services.relay import Relay, RelayConfig
from benchmarks._common import log, scratch_database
from gis.db.migrate import upgrade
from gis.settings import get_settings
from gis.store import relay_store
from gis.store.awareness_store import OutboxMessage, write_outbox

REPO = Path(__file__).resolve().parent.parent
BENCH_DB = "wangge_bench_relay"
BODY = (
    "【台风预警】台风海葵影响您所在区域，请做好防范，必要时前往避难场所。"
    "最近的安全避难场所：东湖社区避难场所，步行约{}分钟（已避开危险区域）。"
)


def fresh_database() -> str:
    return scratch_database(BENCH_DB)[0]


def fill(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE outbox RESTART IDENTITY"))
        messages = [
            OutboxMessage(f"household:{100_000 + i}", BODY.format(3 + i % 12)) for i in range(n)
        ]
        write_outbox(conn, "outbox", messages, dedupe_keys=[f"bench:{i}" for i in range(n)])


def consume(name: str, expect: int) -> list[str]:
    """The message ids in the queue, in order, then the queue and exchange deleted."""

    async def read() -> list[str]:
        connection = await aio_pika.connect(get_settings().broker_url)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=2000)
        queue = await channel.declare_queue(name, durable=True)
        ids: list[str] = []
        try:
            async with queue.iterator(timeout=5) as messages:
                async for m in messages:
                    await m.ack()
                    ids.append(str(m.message_id))
        except TimeoutError:
            pass
        await channel.queue_delete(name)
        await channel.exchange_delete(name)
        await connection.close()
        return ids

    ids = asyncio.run(read())
    if len(ids) < expect:
        log(f"  consumer read {len(ids)} of {expect} expected")
    return ids


def outbox_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT message_id::text FROM outbox")).scalars())


def check(engine: Engine, ids: list[str]) -> dict:
    """Lost, raw duplicates and duplicates after dedupe on the message id."""
    want = outbox_ids(engine)
    seen = Counter(ids)
    c = relay_store.counts(engine)
    return {
        "at_broker": len(ids),
        "lost": len(want - set(seen)),
        "foreign": len(set(seen) - want),
        "duplicated_raw": sum(seen.values()) - len(seen),
        "distinct_at_broker": len(seen),
        "outbox_sent": c.sent,
        "outbox_pending": c.pending,
        "outbox_failed": c.failed,
    }


def span_s(engine: Engine) -> float:
    with engine.connect() as conn:
        return float(
            conn.execute(
                text("SELECT extract(epoch FROM max(sent_at) - min(sent_at)) FROM outbox")
            ).scalar()
            or 0.0
        )


def relay_process(url: str, name: str, batch: int, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=url, WANGGE_RELAY_INTERVAL_S="0.2")
    command = ["relay", "--exchange", name, "--queue", name, "--batch", str(batch), *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *command],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def relay_seconds(proc: subprocess.Popen) -> float | None:
    """The seconds a relay process reported in its last line (None: killed, no line)."""
    text_ = proc.stderr.read() if proc.stderr else ""
    found = re.findall(r"batch\(es\), ([0-9.]+) s", text_)
    return float(found[-1]) if found else None


def wait_sent(engine: Engine, at_least: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while relay_store.counts(engine).sent < at_least:
        if proc.poll() is not None:
            raise SystemExit(f"the relay stopped: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise SystemExit(f"the relay sent fewer than {at_least} in {timeout} s")
        time.sleep(0.05)


def in_process(engine: Engine, n: int, batch: int) -> dict:
    fill(engine, n)
    name = f"wangge.bench.{uuid.uuid4().hex[:8]}"
    config = RelayConfig.from_settings(get_settings(), exchange=name, queue=name, batch=batch)
    start = time.perf_counter()
    stats = asyncio.run(Relay(engine, config).drain())
    seconds = time.perf_counter() - start
    out = {"seconds": round(seconds, 3), "per_s": round(n / seconds), "batches": stats.batches}
    out |= check(engine, consume(name, n))
    return out


def restart(engine: Engine, url: str, n: int, batch: int, sig: signal.Signals) -> dict:
    fill(engine, n)
    name = f"wangge.bench.{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    first = relay_process(url, name, batch)
    wait_sent(engine, n // 3, first)
    first.send_signal(sig)
    first.wait(timeout=60)
    stopped_at = relay_store.counts(engine).sent
    second = relay_process(url, name, batch, "--once")
    second.wait(timeout=300)
    seconds = time.perf_counter() - start
    ids = consume(name, n)
    busy = [relay_seconds(p) for p in (first, second)]
    out = {
        "signal": sig.name,
        "stopped_after_sent": stopped_at,
        "wall_s_with_two_process_starts": round(seconds, 3),
        "first_to_last_confirm_s": round(span_s(engine), 3),
        # what each relay process reports from its start to its end (connect included);
        # a killed one reports nothing: its share is the span of its confirms
        "relay_busy_s": round(sum(b for b in busy if b is not None), 3)
        if None not in busy
        else None,
    }
    out |= check(engine, ids)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=get_settings().relay_batch)
    args = parser.parse_args()

    url = fresh_database()
    engine = create_engine(url)
    upgrade(engine)
    results = {"messages": args.messages, "batch": args.batch}
    log(f"[relay] {args.messages} messages, batches of {args.batch}")
    results["in_process"] = one = in_process(engine, args.messages, args.batch)
    log(f"  in-process: {one}")
    results["restart"] = two = restart(engine, url, args.messages, args.batch, signal.SIGTERM)
    log(f"  restart (SIGTERM): {two}")
    results["kill"] = three = restart(engine, url, args.messages, args.batch, signal.SIGKILL)
    log(f"  kill (SIGKILL): {three}")
    engine.dispose()
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main()
