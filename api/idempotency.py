"""Idempotency keys (幂等键): a create retried with the same key is done once.

A client that sends ``Idempotency-Key: <up to 255 printable characters>`` with a POST
gets, on every retry with that key, the answer of the first request that succeeded —
not a second report, alert, hazard or photo — marked ``Idempotent-Replayed: true``.
The key is the caller's own (keyed by the SHA-256 of their token, session or, without
one, address) and kept for :data:`KEEP`.  The same key with another body is a 422; a
retry while the first still runs is a 409 with ``Retry-After``.  Only answers below
400 are kept: a refused request (422, 409, 429 …) leaves the key free for the
corrected retry.

Written as ASGI middleware because it wraps the route's whole answer, for every create
at once, rather than each service knowing about retries.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from fastapi.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import SESSION_COOKIE
from api.errors import problem
from gis import clock
from gis.store import idempotency_store

HEADER = "idempotency-key"
#: How long a key is remembered.
KEEP = timedelta(hours=24)
#: Largest body of a request sent with a key (the hotline file limit fits), bytes.
MAX_BODY = 32 * 1024 * 1024
#: Largest answer kept for replay; a bigger one leaves the key free.
MAX_ANSWER = 1024 * 1024
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
#: Headers of an answer kept for its replay (what describes the answer, not the exchange:
#: no cookies, dates or lengths).
KEPT_HEADERS = frozenset({"content-type", "location", "content-disposition", "cache-control"})


def _caller(scope: Scope) -> str:
    """Whose key it is: the SHA-256 of the caller's token, session or address."""
    conn = HTTPConnection(scope)
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        who = "token:" + value.strip()
    elif session := conn.cookies.get(SESSION_COOKIE):
        who = "session:" + session
    else:
        who = "address:" + (conn.client.host if conn.client else "unknown")
    return hashlib.sha256(who.encode("utf-8", "surrogatepass")).hexdigest()


class Idempotency:
    """The middleware (see the module's docstring)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a POST with a known key again; run one with a new key and keep its answer."""
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.decode("latin-1") == HEADER),
            None,
        )
        state = getattr(scope["app"].state, "wangge", None) if "app" in scope else None
        if key is None or state is None:
            await self.app(scope, receive, send)
            return
        if not _VALID_KEY.match(key):
            await problem(
                422,
                "Invalid request",
                "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces "
                "(a UUID is a good key)",
            )(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                await problem(
                    413,
                    "Too large",
                    f"a request with an Idempotency-Key may be at most {MAX_BODY // 2**20} MB",
                )(scope, receive, send)
                return
        fingerprint = hashlib.sha256()
        for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode()):
            fingerprint.update(part.encode("utf-8", "surrogatepass") + b"\0")
        fingerprint.update(bytes(body))
        caller, engine = _caller(scope), state.engine
        stored = await run_in_threadpool(
            idempotency_store.claim, engine, caller, key, fingerprint.hexdigest(), clock.now(), KEEP
        )
        if stored is not None:
            await self._answer_again(stored, fingerprint.hexdigest(), scope, receive, send)
            return
        await self._run(scope, bytes(body), send, engine, caller, key)

    async def _answer_again(
        self,
        stored: idempotency_store.Stored,
        fingerprint: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        if stored.request_sha256 != fingerprint:
            response = problem(
                422,
                "Idempotency-Key reused",
                "this Idempotency-Key was sent before with another request; use a new key "
                "for a new request",
            )
        elif stored.status is None:
            response = problem(
                409,
                "Still running",
                "the first request with this Idempotency-Key is still running; try again "
                "in a moment",
            )
            response.headers["Retry-After"] = "1"
        else:
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
            headers += [
                (b"content-length", str(len(stored.body or b"")).encode()),
                (b"idempotent-replayed", b"true"),
            ]
            await send({"type": "http.response.start", "status": stored.status, "headers": headers})
            await send({"type": "http.response.body", "body": stored.body or b""})
            return
        await response(scope, self._no_body, send)

    @staticmethod
    async def _no_body() -> Message:
        return {"type": "http.disconnect"}

    async def _run(
        self, scope: Scope, body: bytes, send: Send, engine: object, caller: str, key: str
    ) -> None:
        sent_body = False

        async def replay() -> Message:
            nonlocal sent_body
            if sent_body:
                return {"type": "http.disconnect"}
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 500
        kept: list[tuple[str, str]] = []
        answer = bytearray()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                kept.extend(
                    (name.decode("latin-1").lower(), value.decode("latin-1"))
                    for name, value in message.get("headers", [])
                    if name.decode("latin-1").lower() in KEPT_HEADERS
                )
            elif message["type"] == "http.response.body" and len(answer) <= MAX_ANSWER:
                answer.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay, capture)
        finally:
            if status < 400 and len(answer) <= MAX_ANSWER:
                await run_in_threadpool(
                    idempotency_store.finish,
                    engine,
                    caller,
                    key,
                    status,
                    kept,
                    bytes(answer),
                )
            else:
                await run_in_threadpool(idempotency_store.release, engine, caller, key)
