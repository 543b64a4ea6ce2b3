"""The application's one state: the engine, the settings and every cache, built and refreshed here.

Each cache holds a value built from the database and the data versions it was built
at (:func:`gis.store.queries.data_version`, sequences moved by triggers on every
change); before answering from it, the versions are read again (one small statement)
and the value is rebuilt when they moved.  So a grid import, a new category, a
revoked token or a new hazard is seen by the very next request, in every server
process, with no message between them.

Routes reach the state through :data:`api.deps.StateDep`; services never see it: the
doors hand them what they need (the engine, the current grids, the walking network).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
from sqlalchemy import Engine

from analysis.aggregates import IncidentCube
from analysis.walking import SheltersNow, Walking
from api.changes import ChangeHub
from api.services import accounts
from api.services.walking import load_walking
from gis import clock
from gis.settings import Settings
from gis.store import access_store, awareness_store, grid_store, queries
from gis.store.access_store import SessionRow
from grids.access import Principal
from grids.locate import CurrentGrids, cover_cells

T = TypeVar("T")

#: Seconds a lookup (not a write) may answer from the current grids without asking
#: whether they changed: a burst of lookups costs no extra query.
LOOKUP_TRUST_S = 1.0
#: Tables whose changes can change who a token belongs to or what they may see.
ACCOUNT_TABLES = ("app_user", "api_token", "grid_assignment", "grid_worker", "grid")
#: The same for a browser session: its own table instead of the tokens'.
SESSION_TABLES = ("app_user", "app_session", "grid_assignment", "grid_worker", "grid")
#: Columns the incident cube is indexed by: where, and how it can be split.
CUBE_PLACES = ("h3_cell", "grid_id", "community_id")
CUBE_SPLITS = ("category_code", "state", "source")


class Cached(Generic[T]):
    """One value rebuilt whenever the data versions of its tables move.

    Parameters
    ----------
    tables
        The versioned tables the value is built from.
    build
        ``build(engine, version)``: the value, read from the database at ``version``.
    """

    def __init__(self, tables: tuple[str, ...], build: Callable[[Engine, tuple], T]) -> None:
        self.tables = tables
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None
        self._version: tuple | None = None
        self._checked = 0.0

    def get(self, engine: Engine, *, trust_s: float = 0.0) -> T:
        """The value for the data as it is now.

        ``trust_s`` > 0 answers from the value without reading the versions when they
        were read less than that many seconds ago (for lookups only, never for writes).
        """
        now = time.monotonic()
        if self._value is not None and trust_s > 0 and now - self._checked < trust_s:
            return self._value
        version = queries.data_version(engine, self.tables)
        self._checked = now
        with self._lock:
            if self._value is not None and self._version == version:
                return self._value
            value = self._build(engine, version)
            self._value, self._version = value, version
            return value

    def forget(self) -> None:
        """Drop the value: the next :meth:`get` builds it again."""
        with self._lock:
            self._value = self._version = None


class KeyedCache(Generic[T]):
    """Values by key, each kept while its tables' versions stand still and it is young.

    For what is asked with a parameter (the impact of one hazard, the user of one token).
    """

    def __init__(self, tables: tuple[str, ...], *, max_age_s: float, most: int = 64) -> None:
        self.tables = tables
        self.max_age_s = max_age_s
        self.most = most
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[tuple, float, T]] = {}

    def get(self, engine: Engine, key: Hashable, build: Callable[[], T]) -> T:
        """The value of ``key``, built by ``build()`` when missing, stale or old."""
        version = queries.data_version(engine, self.tables)
        now = time.monotonic()
        with self._lock:
            hit = self._values.get(key)
            if hit is not None and hit[0] == version and now - hit[1] < self.max_age_s:
                return hit[2]
        value = build()
        with self._lock:
            if len(self._values) >= self.most:
                self._values.clear()
            self._values[key] = (version, now, value)
        return value

    def forget(self) -> None:
        """Drop every value."""
        with self._lock:
            self._values.clear()

    def drop(self, key: Hashable) -> None:
        """Drop the value of one key: the next :meth:`get` of it builds it again."""
        with self._lock:
            self._values.pop(key, None)


@dataclass
class AppState:
    """Everything the doors share in one server process: engine, settings, caches."""

    engine: Engine
    settings: Settings
    hub: ChangeHub
    grids: Cached[CurrentGrids] = field(init=False)
    walking: Cached[Walking] = field(init=False)
    cube: Cached[IncidentCube] = field(init=False)
    study_cells: Cached[np.ndarray] = field(init=False)
    impacts: KeyedCache[Any] = field(init=False)
    users: KeyedCache[Principal | None] = field(init=False)
    sessions: KeyedCache[SessionRow | None] = field(init=False)
    _shelters: tuple[tuple, SheltersNow] | None = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        settings = self.settings
        self.grids = Cached(
            ("grid",),
            lambda engine, version: CurrentGrids.from_frame(
                grid_store.current_grids(engine), settings.h3_resolution, version
            ),
        )
        self.walking = Cached(
            ("road_node", "road_edge", "facility", "shelter"),
            lambda engine, version: load_walking(engine, settings, version),
        )
        self.cube = Cached(
            ("incident",),
            lambda engine, version: IncidentCube.build(
                awareness_store.incidents_frame(engine),
                columns=[*CUBE_PLACES, *CUBE_SPLITS],
                time_column="reported_at",
            ),
        )
        self.study_cells = Cached(("grid",), self._study_cells)
        self.impacts = KeyedCache(
            ("grid", "building", "household", "facility", "shelter", "road_edge", "hazard_area"),
            # residents carry no data version: an impact is recomputed after a minute
            max_age_s=60.0,
            most=16,
        )
        self.users = KeyedCache(ACCOUNT_TABLES, max_age_s=30.0, most=10_000)
        self.sessions = KeyedCache(SESSION_TABLES, max_age_s=30.0, most=10_000)

    # ------------------------------------------------------------------ the grids

    def current_grids(self, *, for_lookup: bool = False) -> CurrentGrids:
        """The grids in force.

        A report is placed in exactly these; a lookup (``for_lookup``) may answer from
        grids whose version was read up to a second ago.
        """
        return self.grids.get(self.engine, trust_s=LOOKUP_TRUST_S if for_lookup else 0.0)

    def _study_cells(self, engine: Engine, version: tuple) -> np.ndarray:
        """Every H3 cell of the served area (the study area of Gi*)."""
        grids = grid_store.current_grids(engine)
        if not len(grids):
            return np.zeros(0, dtype=np.int64)
        geoms = np.asarray(grids.geometry.array, dtype=object)
        return cover_cells(geoms, self.settings.h3_resolution).cells

    # ------------------------------------------------------------ walking, shelters

    def walking_now(self) -> Walking:
        """The walking network and every shelter, as loaded now."""
        return self.walking.get(self.engine)

    def shelters_now(self) -> SheltersNow:
        """The nearest-shelter index for now: the hazards in force closed off.

        Which hazards are in force changes with the clock as much as with the table,
        so their ids and row versions are read every time (one small statement).
        """
        walking = self.walking_now()
        now = clock.now()
        key = (walking.version, awareness_store.hazard_versions(self.engine, active_at=now))
        with self._lock:
            if self._shelters is not None and self._shelters[0] == key:
                return self._shelters[1]
        hazards = awareness_store.hazards(self.engine, active_at=now)
        built = SheltersNow.build(walking, hazards, key)
        with self._lock:
            self._shelters = (key, built)
        return built

    # --------------------------------------------------------------------- accounts

    def user_for_token(self, token: str) -> Principal | None:
        """The user a token belongs to; None when unknown, expired or revoked.

        Kept while no account, token, assignment or grid changed (and for half a
        minute at most), so a burst of requests costs one small query each.
        """
        digest = access_store.token_digest(token)

        def read() -> Principal | None:
            with self.engine.connect() as conn:
                row = access_store.user_by_token(conn, token)
            return None if row is None else Principal.of(row)

        return self.users.get(self.engine, digest, read)

    def user_for_session(self, session_id: str) -> Principal | None:
        """The user of a browser session; None when unknown, revoked, idle or expired.

        Kept like :meth:`user_for_token`, and the session's revocation or its user's
        disabling moves the data versions, so either is seen by the next request.  Its
        last use is written at most once a minute (that write moves no version); a
        session that looks idle here is read again before it is refused, since another
        server process may have seen it meanwhile.
        """
        digest = accounts.session_digest(session_id)
        row = self.sessions.get(
            self.engine, digest, lambda: accounts.read_session(self.engine, digest)
        )
        if row is None:
            return None
        now = clock.utcnow()
        verdict = accounts.session_verdict(row, now, self.settings)
        if verdict == "idle":
            self.sessions.drop(digest)
            row = accounts.read_session(self.engine, digest)
            if row is None:
                return None
            verdict = accounts.session_verdict(row, now, self.settings)
        if verdict != "live":
            return None
        if accounts.needs_touch(row, now):
            accounts.touch_session(self.engine, digest, now)
            self.sessions.drop(digest)
        return Principal.of(row.user)
