"""Who is asking, told to PostgreSQL so that its row-level security decides what rows exist.

Migration 0022 puts row-level security on every table with personal or area-scoped data
(households, residents and their identities, incidents and their contacts, photos,
events and check-ins, alert recipients, the outbox, the audit log) for the unprivileged
role ``wangge_app``.  The server's engine (:func:`install`) does ``SET ROLE wangge_app``
on each new connection and, at the start of every transaction, one
``SELECT set_config(…, true), …`` with the transaction-local settings the policies read:

================  ===============================================================
``wangge.role``   the user's role, ``anonymous`` (a request without a credential)
                  or ``system`` (the server's own jobs and shared caches: all rows)
``wangge.user_id``    ``app_user.id`` ('' when none)
``wangge.worker_id``  ``grid_worker.id`` of a grid worker ('' when none)
``wangge.grid_ids``   the grids the user covers, comma-separated; ``*``: every grid
================  ===============================================================

The principal is a context variable: set to anonymous by :class:`api.principal` at the
start of every request, to the user by :mod:`api.auth` once the credential is resolved;
outside any request (the escalation loop, the relay) it is unset, which means
``system``.  Starlette's ``run_in_threadpool`` copies the context to the worker thread,
so a synchronous route's statements carry the user of its request.

The CLI and the migrations connect as the database owner, without ``SET ROLE``: the
policies do not apply to them.  The API's own filters (:mod:`grids.access`) stay as
the first line; the policies are the second, for the query that forgets one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import Engine, event

#: The role the system uses for itself (all rows) and for a request without credential.
SYSTEM = "system"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class DbPrincipal:
    """What the policies are told about who asks (plain values).

    ``grid_ids`` None means every grid (an admin, the system).
    """

    role: str
    user_id: int | None = None
    worker_id: int | None = None
    grid_ids: frozenset[int] | None = frozenset()

    @classmethod
    def of(cls, user: Any) -> DbPrincipal:
        """From a :class:`grids.access.Principal` (duck-typed: gis does not import grids)."""
        return cls(
            role=user.role,
            user_id=user.user_id,
            worker_id=user.worker_id,
            grid_ids=None if user.grid_ids is None else frozenset(user.grid_ids),
        )

    def settings(self) -> dict[str, str]:
        """The values of the four ``wangge.*`` settings."""
        grids = "*" if self.grid_ids is None else ",".join(str(g) for g in sorted(self.grid_ids))
        return {
            "r": self.role,
            "u": "" if self.user_id is None else str(self.user_id),
            "w": "" if self.worker_id is None else str(self.worker_id),
            "g": grids,
        }


SYSTEM_PRINCIPAL = DbPrincipal(SYSTEM, grid_ids=None)
ANONYMOUS_PRINCIPAL = DbPrincipal(ANONYMOUS)

_current: ContextVar[DbPrincipal | None] = ContextVar("wangge_db_principal", default=None)

#: One statement for the four settings (transaction-local: ``is_local`` true).
SET_PRINCIPAL = (
    "SELECT set_config('wangge.role', %(r)s, true), set_config('wangge.user_id', %(u)s, true), "
    "set_config('wangge.worker_id', %(w)s, true), set_config('wangge.grid_ids', %(g)s, true)"
)
#: :data:`SET_PRINCIPAL` for values quoted already (``%`` of bytes takes a dict of bytes).
_SET_PRINCIPAL_BYTES = SET_PRINCIPAL.replace(")s", ")b").encode()
#: How many principals' statements a connection keeps (then it forgets them all).
KEPT_STATEMENTS = 256


def current() -> DbPrincipal:
    """Who asks now: the principal set in this context, else the system."""
    return _current.get() or SYSTEM_PRINCIPAL


def set_principal(principal: DbPrincipal | None) -> None:
    """Set who asks for the rest of this context (a request's task, its threads)."""
    _current.set(principal)


def set_user(user: Any) -> None:
    """Set the signed-in user (a :class:`grids.access.Principal`), or anonymous for None."""
    _current.set(ANONYMOUS_PRINCIPAL if user is None else DbPrincipal.of(user))


@contextmanager
def as_system() -> Iterator[None]:
    """Run the block as the system (all rows): for values shared by every user (caches)."""
    token = _current.set(SYSTEM_PRINCIPAL)
    try:
        yield
    finally:
        _current.reset(token)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _begin_with_principal(dbapi_connection: Any, kept: dict[Any, bytes] | None = None) -> bool:
    """Open the transaction and set who asks in one round trip; False when it cannot.

    psycopg would send ``BEGIN`` on its own before the settings' statement (two round
    trips, which cost the policies' reads most of their overhead on a busy server); here
    both go as one simple query, and psycopg, finding the transaction open, sends no
    ``BEGIN`` of its own (it commits or rolls back as usual).  Only on an idle psycopg
    connection outside autocommit; the transaction's options (isolation level, read
    only) are psycopg's own.

    ``kept``: the connection's statements by principal, reused (a request's transactions
    ask as the same user; building the statement took a good part of the settings' cost).
    """
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None or dbapi_connection.autocommit:
        return False
    if pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    start = getattr(dbapi_connection, "_get_tx_start_command", None)
    begin = start() if start is not None else b"BEGIN"
    who = current()
    key = (who, begin, pgconn.parameter_status(b"client_encoding"))
    query = None if kept is None else kept.get(key)
    if query is None:
        # libpq quotes the values as this server reads them (its encoding, its rules)
        quote = pq.Escaping(pgconn).escape_literal
        encoding = dbapi_connection.info.encoding
        literals = {k.encode(): quote(v.encode(encoding)) for k, v in who.settings().items()}
        query = begin + b"; " + _SET_PRINCIPAL_BYTES % literals
        if kept is not None:
            if len(kept) >= KEPT_STATEMENTS:
                kept.clear()
            kept[key] = query
    result = pgconn.exec_(query)
    if result.status != pq.ExecStatus.TUPLES_OK:
        message = (result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"").decode(
            errors="replace"
        )
        if pgconn.transaction_status != pq.TransactionStatus.IDLE:
            pgconn.exec_(b"ROLLBACK")
        raise psycopg.OperationalError(f"could not set who asks: {message}")
    return True


def install(engine: Engine, role: str) -> Engine:
    """Make ``engine``'s connections act as ``role`` with the current principal's settings.

    Each new connection runs ``SET ROLE role``; each transaction begins with the
    settings of :func:`current`, sent with its ``BEGIN`` in one round trip
    (:func:`_begin_with_principal`).  An empty ``role`` leaves the engine as it is.
    """
    if not role:
        return engine
    set_role = f"SET ROLE {_quote_ident(role)}"

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cur:
            cur.execute(set_role)
        dbapi_connection.autocommit = autocommit

    def on_begin(conn: Any) -> None:
        pooled = conn.connection
        kept = pooled.info.setdefault("wangge_set_principal", {})
        if _begin_with_principal(pooled.dbapi_connection, kept):
            return
        dbapi_connection = pooled.dbapi_connection
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(SET_PRINCIPAL, current().settings())
        finally:
            cursor.close()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine
