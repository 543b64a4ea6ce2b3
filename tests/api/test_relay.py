"""The relay against the real RabbitMQ: each outbox message reaches the broker once.

Each test has its own database (no server of another test module relays its rows) and
its own exchange and queue, deleted afterwards.  The relay is killed mid-batch, stopped
and started again, and has its broker connection closed under it; a consumer reads the
queue and counts the message ids.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import aio_pika
import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from api.services.relay import Relay, RelayConfig, retry_failed
from gis.settings import get_settings
from gis.store import relay_store
from gis.store.awareness_store import OutboxMessage, outbox, write_outbox
from tests.conftest import REPO, LiveServer, run_wangge, throwaway_database

BROKER_URL = get_settings().broker_url


def _broker_answers() -> bool:
    url = urlparse(BROKER_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 5672), 2):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not _broker_answers(),
    reason=f"no RabbitMQ answers at {urlparse(BROKER_URL).netloc.split('@')[-1]} "
    "(scripts/setup.sh installs and starts one; WANGGE_BROKER_URL points elsewhere)",
)


@pytest.fixture(scope="module")
def relay_db() -> Iterator[tuple[str, Engine]]:
    """A database of this module's own, so that no test server relays its outbox."""
    with throwaway_database("wangge_relay") as url:
        engine = create_engine(url)
        yield url, engine
        engine.dispose()


@pytest.fixture
def db(relay_db: tuple[str, Engine]) -> tuple[str, Engine]:
    """The module's database with an empty outbox."""
    with relay_db[1].begin() as conn:
        conn.execute(text("TRUNCATE outbox RESTART IDENTITY"))
    return relay_db


@pytest.fixture
def names() -> Iterator[str]:
    """An exchange and queue of this test's own, deleted afterwards."""
    name = f"wangge.test.{uuid.uuid4().hex[:10]}"
    yield name

    async def drop() -> None:
        connection = await aio_pika.connect(BROKER_URL)
        channel = await connection.channel()
        await channel.queue_delete(name)
        await channel.exchange_delete(name)
        await connection.close()

    asyncio.run(drop())


def _write(engine: Engine, n: int, keys: list[str | None] | None = None) -> list[int]:
    messages = [OutboxMessage(f"household:{i}", f"台风预警 {i}") for i in range(n)]
    with engine.begin() as conn:
        return write_outbox(conn, "outbox", messages, dedupe_keys=keys)


def _consume(queue: str) -> list[dict]:
    """Every message in the queue (acknowledged): its message id and JSON body."""

    async def read() -> list[dict]:
        connection = await aio_pika.connect(BROKER_URL)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        q = await channel.declare_queue(queue, durable=True)
        got = []
        while (m := await q.get(no_ack=True, fail=False, timeout=5)) is not None:
            got.append({"message_id": m.message_id, **json.loads(m.body)})
        await connection.close()
        return got

    return asyncio.run(read())


def _config(name: str, **changes: object) -> RelayConfig:
    return RelayConfig.from_settings(get_settings(), exchange=name, queue=name, **changes)


def _counts(engine: Engine) -> relay_store.OutboxCounts:
    return relay_store.counts(engine)


def _start_relay(url: str, name: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=url, WANGGE_RELAY_INTERVAL_S="0.2")
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "relay", "--exchange", name, "--queue", name, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(
    check: Callable[[], bool],
    timeout: float = 60,
    what: str = "the relay",
    process: subprocess.Popen | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what} stopped: {process.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not get there in {timeout} s")
        time.sleep(0.02)


def _assert_all_sent_once(engine: Engine, got: list[dict], *, raw_duplicates_at_most: int) -> None:
    rows = outbox(engine)
    ids = Counter(m["message_id"] for m in got)
    assert set(ids) == set(rows["message_id"]), "a message was lost or is foreign"
    assert sum(ids.values()) - len(ids) <= raw_duplicates_at_most
    assert rows["status"].eq("sent").all()
    assert _counts(engine).pending == 0


def test_each_pending_message_is_published_once_with_its_id_and_recorded(
    db: tuple[str, Engine], names: str
) -> None:
    _, engine = db
    written = _write(engine, 250)
    stats = asyncio.run(Relay(engine, _config(names, batch=100)).drain())
    assert (stats.sent, stats.retried, stats.failed, stats.batches) == (250, 0, 0, 3)
    got = _consume(names)
    _assert_all_sent_once(engine, got, raw_duplicates_at_most=0)
    rows = outbox(engine).set_index("message_id")
    first = got[0]
    assert first["outbox_id"] in written
    assert rows.loc[first["message_id"], "recipient"] == first["recipient"]
    assert first["body"].startswith("台风预警")
    assert rows["attempts"].eq(1).all() and rows["sent_at"].notna().all()
    # nothing pending: a second run publishes nothing
    assert asyncio.run(Relay(engine, _config(names)).drain()).sent == 0
    assert _consume(names) == []


def test_a_refused_message_is_retried_then_failed_and_can_be_queued_again(
    db: tuple[str, Engine], names: str
) -> None:
    _, engine = db
    _write(engine, 20)

    async def refused() -> None:
        relay = Relay(engine, _config(names, max_attempts=2, retry_s=0))
        await relay.connect()
        # nothing bound: the broker returns every (mandatory) message as unroutable
        queue = await relay._channel.get_queue(names)
        await queue.unbind(names, "message.#")
        while await relay.relay_batch():
            pass
        await relay.close()
        assert (relay.stats.sent, relay.stats.failed) == (0, 20)

    asyncio.run(refused())
    c = _counts(engine)
    assert (c.pending, c.sent, c.failed, c.retried) == (0, 0, 20, 20)
    rows = outbox(engine)
    assert rows["attempts"].eq(2).all()
    assert rows["last_error"].str.contains("refused by the broker").all()

    assert retry_failed(engine) == 20
    asyncio.run(Relay(engine, _config(names)).drain())  # declares the binding again
    _assert_all_sent_once(engine, _consume(names), raw_duplicates_at_most=0)


def test_a_relay_killed_mid_batch_loses_nothing_and_a_stopped_one_duplicates_nothing(
    db: tuple[str, Engine], names: str
) -> None:
    url, engine = db
    total = 6000
    _write(engine, total)

    # SIGTERM: the batch in hand is finished and recorded, so nothing is sent twice
    relay = _start_relay(url, names, "--batch", "200")
    _wait_for(lambda: _counts(engine).sent >= 600, process=relay)
    relay.send_signal(signal.SIGTERM)
    assert relay.wait(timeout=30) == 0, relay.stderr.read()
    stopped_at = _counts(engine).sent
    assert 0 < stopped_at < total
    first = _consume(names)
    assert len(first) == stopped_at  # exactly the recorded ones, no more
    rows = outbox(engine)
    assert {m["message_id"] for m in first} == set(
        rows.loc[rows["status"].eq("sent"), "message_id"]
    )

    # SIGKILL mid-batch: published but unrecorded messages stay pending
    relay = _start_relay(url, names, "--batch", "200")
    _wait_for(lambda: _counts(engine).sent >= stopped_at + 1000, process=relay)
    relay.kill()
    relay.wait(timeout=10)
    assert _counts(engine).pending > 0, "the relay finished before it was killed"

    done = run_wangge(url, "relay", "--once", "--exchange", names, "--queue", names)
    assert done.returncode == 0, done.stderr
    rest = _consume(names)
    c = _counts(engine)
    assert (c.pending, c.sent, c.failed) == (0, total, 0)
    # nothing lost; a copy twice only for what the killed relay published and could not
    # record (the batches in flight: two), with the same message id for the consumer to drop
    _assert_all_sent_once(engine, first + rest, raw_duplicates_at_most=2 * 200)


def _close_connection(name: str) -> bool:
    """Close the broker connection of this name (rabbitmqctl); False when none is found."""
    listed = subprocess.run(
        [
            "rabbitmqctl",
            "list_connections",
            "pid",
            "client_properties",
            "-q",
            "--formatter",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    for connection in json.loads(listed.stdout or "[]"):
        props = connection.get("client_properties") or []
        named = (
            any(
                (p[0] if isinstance(p, list) else p.get("key")) == "connection_name"
                and name in str(p)
                for p in props
            )
            if isinstance(props, list)
            else props.get("connection_name") == name
        )
        if named:
            subprocess.run(
                ["rabbitmqctl", "close_connection", connection["pid"], "test closes it"],
                capture_output=True,
                timeout=60,
            )
            return True
    return False


@pytest.mark.skipif(
    subprocess.run(["which", "rabbitmqctl"], capture_output=True).returncode != 0,
    reason="rabbitmqctl is not installed here, so the broker connection cannot be closed",
)
def test_the_broker_closing_the_connection_loses_nothing(
    db: tuple[str, Engine], names: str
) -> None:
    url, engine = db
    total = 6000
    _write(engine, total)
    name = f"relay-{uuid.uuid4().hex[:8]}"
    relay = _start_relay(url, names, "--batch", "100", "--name", name)
    try:
        _wait_for(lambda: _counts(engine).sent >= 300, process=relay)
        assert _close_connection(name), "the relay's connection is not listed by the broker"
        _wait_for(lambda: _counts(engine).pending == 0, timeout=120, process=relay)
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(timeout=30) == 0
    finally:
        if relay.poll() is None:
            relay.kill()
    err = relay.stderr.read()
    assert "sent" in err
    got = _consume(names)
    # the unconfirmed messages of the batch cut off are sent again (same message ids)
    _assert_all_sent_once(engine, got, raw_duplicates_at_most=2 * 100)
    assert _counts(engine).failed == 0


def test_the_same_key_is_queued_once_and_a_failed_one_again(db: tuple[str, Engine]) -> None:
    _, engine = db
    keys = ["alert:1:all:household:1:x", "alert:1:all:household:2:x", None]
    assert len(_write(engine, 3, keys)) == 3
    again = _write(engine, 3, keys)  # only the message without a key
    assert len(again) == 1 and outbox(engine).set_index("id").loc[again[0], "recipient"] == (
        "household:2"
    )
    assert _write(engine, 2, [keys[0], keys[0]]) == []  # a repeat within one batch too
    with engine.begin() as conn:
        conn.execute(text("UPDATE outbox SET status = 'failed' WHERE id = 1"))
    assert _write(engine, 1, keys[:1]) == [1]
    assert outbox(engine).set_index("id").loc[1, "status"] == "pending"


def test_status_names_the_broker_counts_and_unconfigured_gateways(
    db: tuple[str, Engine],
) -> None:
    url, engine = db
    _write(engine, 3)
    done = run_wangge(url, "relay", "status")
    assert done.returncode == 0, done.stderr
    assert "outbox: 3 pending" in done.stderr
    assert "reachable" in done.stderr
    assert "gateway sms: not configured: set WANGGE_SMS_GATEWAY_URL" in done.stderr
    assert "gateway wechat: not configured" in done.stderr

    down = run_wangge(
        url, "relay", "--once", env={"WANGGE_BROKER_URL": "amqp://guest:secret@127.0.0.1:1/"}
    )
    assert down.returncode == 1
    assert "cannot be reached" in down.stderr and "secret" not in down.stderr
    assert _counts(engine).pending == 3


def test_the_server_relays_the_outbox_while_it_runs(
    db: tuple[str, Engine], names: str, tmp_path: Path
) -> None:
    url, engine = db
    settings = get_settings().model_copy(
        update={
            "relay_interval_s": 0.2,
            "broker_exchange": names,
            "broker_queue": names,
            "escalation_interval_s": 0,
        }
    )
    with LiveServer(url, settings):
        _write(engine, 40)
        _wait_for(lambda: _counts(engine).sent == 40, timeout=30, what="the server's relay")
    _assert_all_sent_once(engine, _consume(names), raw_duplicates_at_most=0)


def test_a_server_whose_broker_is_down_serves_and_says_so_once(
    db: tuple[str, Engine], caplog: pytest.LogCaptureFixture
) -> None:
    url, engine = db
    _write(engine, 5)
    settings = get_settings().model_copy(
        update={
            "relay_interval_s": 0.1,
            "broker_url": "amqp://guest:secret@127.0.0.1:1/",
            "escalation_interval_s": 0,
        }
    )
    with caplog.at_level(logging.INFO), LiveServer(url, settings) as server:
        assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200
        time.sleep(1.5)  # several reconnection attempts
    told = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(told) == 1 and "cannot be reached" in told[0] and "secret" not in told[0], told
    assert _counts(engine).pending == 5


def test_the_sms_gateway_gets_each_message_once_and_unconfigured_says_so(
    db: tuple[str, Engine], names: str
) -> None:
    url, engine = db
    _write(engine, 30)
    asyncio.run(Relay(engine, _config(names)).drain())
    first = outbox(engine).iloc[0]

    async def again() -> None:  # a second copy, as a relay killed before recording sends
        connection = await aio_pika.connect(BROKER_URL)
        channel = await connection.channel()
        body = json.dumps({"message_id": first["message_id"], "body": first["body"]})
        message = aio_pika.Message(body.encode(), message_id=first["message_id"])
        await channel.default_exchange.publish(message, routing_key=names)
        await connection.close()

    asyncio.run(again())

    unset = run_wangge(url, "relay", "gateways", "--once", "--queue", names)
    assert unset.returncode == 1
    assert "no gateway is configured" in unset.stderr
    assert "WANGGE_SMS_GATEWAY_URL" in unset.stderr and "WANGGE_WECHAT_APP_ID" in unset.stderr

    received: list[dict] = []

    class Provider(BaseHTTPRequestHandler):
        """A stand-in SMS provider on the loopback: records each message, answers an id."""

        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            answer = json.dumps({"id": f"sms-{len(received)}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    provider = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    try:
        sms = f"http://127.0.0.1:{provider.server_address[1]}/send"
        done = run_wangge(
            url,
            "relay",
            "gateways",
            "--once",
            "--queue",
            names,
            env={"WANGGE_SMS_GATEWAY_URL": sms},
        )
    finally:
        provider.shutdown()
    assert done.returncode == 0, done.stderr
    assert "[gateway sms] 30 sent, 1 duplicate(s) dropped, 0 failure(s)" in done.stderr
    assert sorted(m["message_id"] for m in received) == sorted(outbox(engine)["message_id"])
    assert all(m["body"].startswith("台风预警") for m in received)
    assert _consume(names) == []
