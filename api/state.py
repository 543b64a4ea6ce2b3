"""The application's one state: the engine, the settings and every cache, built and refreshed here.

Each cache holds a value built from the database and the data versions it was built
at (:func:`gis.store.queries.data_version`, sequences moved by triggers on every
change); before answering from it, the versions are read again (one small statement)
and the value is rebuilt when they moved.  So a grid import, a new category, a
revoked token or a new hazard is seen by the very next request, in every server
process, with no message between them.  High-rate lookups (a grid by point, a
resident's nearest shelter or services nearby) may skip that reading for up to
:data:`LOOKUP_TRUST_S` after the last one, unless this process committed anything since
(:func:`gis.store.queries.local_commits`): what this server wrote counts at once, what
another process wrote within that second.

The caches here are built from the whole deployment (the grids, the walking network,
the counts per grid, the overview page) and follow every change; only the map tiles
follow the data versions of the offices they cross (:class:`TileCache`), so that one
office's import leaves the tiles of another's area as they were.  The impacts of a
hazard stay whole too: its routes to safety cross offices.

Routes reach the state through :data:`api.deps.StateDep`; services never see it: the
doors hand them what they need (the engine, the current grids, the walking network).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

import numpy as np
from sqlalchemy import Engine

from analysis.aggregates import IncidentCube
from analysis.walking import SheltersNow, Walking
from api.changes import ChangeHub
from api.replica import ReplicaReads
from api.services import accounts
from api.services.awareness import NoGrids
from api.services.district import overview_html
from api.services.glyphs import LABEL_TABLES, label_glyphs
from api.services.grids import load_current_grids
from api.services.walking import load_walking
from gis import clock
from gis.db.principal import as_system
from gis.settings import Settings
from gis.store import access_store, awareness_store, grid_store, queries, tile_store
from gis.store.access_store import SessionRow
from grids.access import Principal
from grids.locate import CurrentGrids, cover_cells
from maps.cells import CellShapes
from maps.glyphs import GlyphSet, installed_label_fonts
from maps.live import FINISHED_STATES

T = TypeVar("T")
V = TypeVar("V")
log = logging.getLogger("wangge")

#: Seconds a lookup (not a write) may answer from the current grids without asking
#: whether they changed: a burst of lookups costs no extra query.
LOOKUP_TRUST_S = 1.0
#: Tables whose changes can change who a token belongs to or what they may see.
#: ``admin_area``: a street's, district's or city's staff cover the grids under their area.
ACCOUNT_TABLES = ("app_user", "api_token", "grid_assignment", "grid_worker", "grid", "admin_area")
#: The same for a browser session: its own table instead of the tokens'.
SESSION_TABLES = (
    "app_user",
    "app_session",
    "grid_assignment",
    "grid_worker",
    "grid",
    "admin_area",
)
#: Columns the incident cube is indexed by: where, and how it can be split.
CUBE_PLACES = ("h3_cell", "beidou_cell", "grid_id", "community_id")
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
        self._commits = -1

    def get(self, engine: Engine, *, trust_s: float = 0.0) -> T:
        """The value for the data as it is now.

        ``trust_s`` > 0 answers from the value without reading the versions when they
        were read less than that many seconds ago and this process committed nothing
        since (:func:`gis.store.queries.local_commits`): for lookups only, never for
        writes.  A change this server wrote counts at once; one written by another
        process, within ``trust_s``.
        """
        now = time.monotonic()
        commits = queries.local_commits()
        if (
            self._value is not None
            and trust_s > 0
            and now - self._checked < trust_s
            and commits == self._commits
        ):
            return self._value
        version = queries.data_version(engine, self.tables)
        self._checked, self._commits = now, commits
        with self._lock:
            if self._value is not None and self._version == version:
                return self._value
            # shared by every user: built as the system, not as whoever asked first
            with as_system():
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
        with as_system():
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


class TileCache:
    """Built vector tiles, each kept with the data versions it was built at.

    A tile is answered from here while its versions stand still (those of the offices
    whose records may lie in it, :meth:`api.services.tiles.LayerVersions.at`: another
    office's import keeps it); the versions of a layer are read at most once per
    ``trust_s`` seconds (a page asks for dozens of tiles at once), so a change shows in
    the tiles asked for a moment later.  The least recently used tiles go first when the
    tiles held pass ``max_bytes``.
    """

    def __init__(self, max_bytes: int, *, trust_s: float = 1.0) -> None:
        self.max_bytes = max_bytes
        self.trust_s = trust_s
        self._lock = threading.Lock()
        self._tiles: OrderedDict[Hashable, tuple[tuple, bytes]] = OrderedDict()
        self._bytes = 0
        self._versions: dict[str, tuple[float, Any]] = {}
        self.hits = 0
        self.misses = 0

    def version(self, layer: str, read: Callable[[V | None], V]) -> V:
        """The layer's data versions, read again when older than ``trust_s``.

        ``read(previous)``: the versions now, given the last ones read (None: none yet).
        """
        now = time.monotonic()
        with self._lock:
            seen = self._versions.get(layer)
        if seen is not None and now - seen[0] < self.trust_s:
            return seen[1]
        got = read(None if seen is None else seen[1])
        with self._lock:
            self._versions[layer] = (now, got)
        return got

    def get(self, key: Hashable, version: tuple, build: Callable[[], bytes]) -> bytes:
        """The tile of ``key`` at ``version``, built by ``build()`` when missing or stale."""
        body = self.lookup(key, version)
        if body is not None:
            return body
        # shared by every user who may read the tile (its key says whose area it is)
        with as_system():
            body = build()
        self.keep(key, version, body)
        return body

    def lookup(self, key: Hashable, version: tuple) -> bytes | None:
        """The tile of ``key`` if it is held at ``version``, else None."""
        with self._lock:
            hit = self._tiles.get(key)
            if hit is not None and hit[0] == version:
                self._tiles.move_to_end(key)
                self.hits += 1
                return hit[1]
        return None

    def keep(self, key: Hashable, version: tuple, body: bytes) -> None:
        """Hold the tile of ``key`` built at ``version`` (the oldest go past the bound)."""
        with self._lock:
            self.misses += 1
            old = self._tiles.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            if len(body) <= self.max_bytes:
                self._tiles[key] = (version, body)
                self._bytes += len(body)
            while self._bytes > self.max_bytes and self._tiles:
                _, (_, dropped) = self._tiles.popitem(last=False)
                self._bytes -= len(dropped)

    def forget(self) -> None:
        """Drop every tile and every version read."""
        with self._lock:
            self._tiles.clear()
            self._versions.clear()
            self._bytes = 0


@dataclass(frozen=True)
class _HeldShelters:
    """The nearest-shelter index of :meth:`AppState.shelters_now` and when it was checked.

    ``checked`` (monotonic seconds) and ``commits`` (:func:`gis.store.queries.local_commits`)
    when its key was last read; ``since`` (the clock then) to ``until`` (the next moment
    a stored hazard starts or ends, None: none): the span it holds for.
    """

    key: tuple
    value: SheltersNow
    checked: float
    commits: int
    since: datetime
    until: datetime | None


@dataclass
class AppState:
    """Everything the doors share in one server process: engine, settings, caches."""

    engine: Engine
    settings: Settings
    hub: ChangeHub
    #: a streaming replica's engine (``WANGGE_DATABASE_REPLICA_URL``), None without one
    replica: Engine | None = None
    #: where reads that tolerate lag go (:mod:`api.replica`)
    reads: ReplicaReads = field(init=False)
    grids: Cached[CurrentGrids] = field(init=False)
    walking: Cached[Walking] = field(init=False)
    cube: Cached[IncidentCube] = field(init=False)
    study_cells: Cached[np.ndarray] = field(init=False)
    impacts: KeyedCache[Any] = field(init=False)
    tokens: KeyedCache[tuple[Principal | None, datetime | None]] = field(init=False)
    sessions: KeyedCache[SessionRow | None] = field(init=False)
    people: Cached[tile_store.PeopleCounts] = field(init=False)
    people_cells: Cached[CellShapes] = field(init=False)
    incident_cells: Cached[CellShapes] = field(init=False)
    tiles: TileCache = field(init=False)
    overview_page: Cached[str] = field(init=False)
    #: the basemap labels' glyphs; None without a CJK font to draw them from
    glyphs: Cached[GlyphSet] | None = field(init=False, default=None)
    _shelters: _HeldShelters | None = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        settings = self.settings
        self.reads = ReplicaReads(self.engine, self.replica)
        self.grids = Cached(
            ("grid",),
            lambda engine, version: load_current_grids(engine, settings, version),
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
        self.tokens = KeyedCache(ACCOUNT_TABLES, max_age_s=30.0, most=10_000)
        self.sessions = KeyedCache(SESSION_TABLES, max_age_s=30.0, most=10_000)
        # the people and incident counts the map tiles show, per grid and per H3 cell;
        # the people's per grid and per cell from one read (the warm-up builds both)
        people_tables = ("grid", "household", "resident")
        self.people = Cached(
            people_tables, lambda engine, version: tile_store.people_counts(engine)
        )
        self.people_cells = Cached(
            people_tables,
            lambda engine, version: CellShapes.from_frame(
                self.people.get(engine).by_cell, settings.h3_resolution
            ),
        )
        self.incident_cells = Cached(
            ("incident",),
            lambda engine, version: CellShapes.from_frame(
                tile_store.open_incidents_by_cell(engine, FINISHED_STATES),
                settings.h3_resolution,
            ),
        )
        self.tiles = TileCache(int(settings.tile_cache_mb * 1024 * 1024))
        # the district overview (/map) is the same page for everyone: built once per
        # data version instead of rendered by folium on every request
        self.overview_page = Cached(
            # road_edge: the tile layers' bounds take in the roads' extent
            ("grid", "household", "resident", "building", "facility", "shelter", "road_edge"),
            lambda engine, version: overview_html(
                engine, settings, self.people.get(engine).by_grid
            ),
        )
        fonts = installed_label_fonts()
        if fonts is not None:
            self.glyphs = Cached(
                LABEL_TABLES, lambda engine, version: label_glyphs(engine, settings, fonts)
            )

    # ------------------------------------------------------------------ the maps

    def warm_maps(self) -> None:
        """Build the district overview and the labels' glyphs unless current (the data versions).

        Called as the server starts and every ``map_warm_interval_s`` (:func:`keep_maps_warm`):
        the first ``/map`` after a start or a data change no longer waits for folium
        (0.1-0.35 s), the counts per grid and per H3 cell (2 s at 2,000,000 households:
        the first H3 tile after a data change waited 4.3 s for them) or the glyphs.  A
        district without grids has no overview yet: nothing is built.
        """
        if self.glyphs is not None:
            self.glyphs.get(self.engine)
        with contextlib.suppress(NoGrids):
            self.overview_page.get(self.engine)
        # the H3 layer's counts come from the same read as the overview's per grid
        self.people_cells.get(self.engine)

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

    def walking_now(self, *, for_lookup: bool = False) -> Walking:
        """The walking network and every shelter, as loaded now.

        A resident's lookup (``for_lookup``) may answer from a network whose versions
        were read up to :data:`LOOKUP_TRUST_S` ago (see :meth:`Cached.get`).
        """
        return self.walking.get(self.engine, trust_s=LOOKUP_TRUST_S if for_lookup else 0.0)

    def shelters_now(self, *, for_lookup: bool = False) -> SheltersNow:
        """The nearest-shelter index for now: the hazards in force closed off.

        Which hazards are in force changes with the clock as much as with the table,
        so their ids and row versions are read (one small statement), with the next
        moment a stored hazard starts or ends.  A resident's lookup (``for_lookup``)
        skips that reading for up to :data:`LOOKUP_TRUST_S` after the last one, unless
        this process committed anything since (a hazard posted to this server counts
        in the very next answer) or the clock left the span in which the hazards in
        force stay the same (one starts or ends: it counts at that moment).  The
        database's round trips were most of the slowest answers on a busy machine
        (``benchmarks/residents.py``).
        """
        now = clock.now()
        held = self._shelters
        if (
            for_lookup
            and held is not None
            and time.monotonic() - held.checked < LOOKUP_TRUST_S
            and held.commits == queries.local_commits()
            and held.since <= now
            and (held.until is None or now < held.until)
        ):
            return held.value
        checked, commits = time.monotonic(), queries.local_commits()
        walking = self.walking_now()
        with self.engine.connect() as conn:
            in_force = awareness_store.hazard_versions(conn, active_at=now)
            until = awareness_store.next_hazard_change(conn, after=now)
        key = (walking.version, in_force)
        with self._lock:
            if self._shelters is not None and self._shelters.key == key:
                self._shelters = replace(
                    self._shelters, checked=checked, commits=commits, since=now, until=until
                )
                return self._shelters.value
        hazards = awareness_store.hazards(self.engine, active_at=now)
        built = SheltersNow.build(walking, hazards, key)
        with self._lock:
            self._shelters = _HeldShelters(key, built, checked, commits, now, until)
        return built

    # --------------------------------------------------------------------- accounts

    def user_for_token(self, token: str) -> Principal | None:
        """The user a token belongs to; None when unknown, expired or revoked.

        Kept while no account, token, assignment or grid changed (and for half a
        minute at most), so a burst of requests costs one small query each; the
        token's end is checked against the clock on every request, cached or not.
        """
        digest = access_store.token_digest(token)

        def read() -> tuple[Principal | None, datetime | None]:
            with self.engine.connect() as conn:
                row = access_store.user_by_token(conn, token)
                ends = None if row is None else access_store.token_expires_at(conn, token)
            return (None, None) if row is None else (Principal.of(row), ends)

        user, ends = self.tokens.get(self.engine, digest, read)
        if user is None or ends is None or clock.utcnow() >= ends:
            return None
        return user

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


async def keep_maps_warm(state: AppState, interval_s: float) -> None:
    """Run :meth:`AppState.warm_maps` now and every ``interval_s`` seconds while the server runs.

    In a worker thread: requests go on meanwhile (one asking for the page while it is
    being built waits for that build, not a second one).  A failure is logged and tried
    again at the next interval.
    """
    while True:
        try:
            await asyncio.to_thread(state.warm_maps)
        except Exception as exc:  # the next round tries again; the requests build on demand
            log.warning("building the overview map ahead failed: %s", type(exc).__name__)
        await asyncio.sleep(interval_s)
