"""All configuration, read once from environment variables (``WANGGE_`` prefix).

``DATABASE_URL`` (no prefix, the common convention) points at any PostGIS.  When it
is unset the system uses a local default that needs no configuration: the local
PostgreSQL server on 127.0.0.1:5432, or, when none answers there, a private cluster
that ``wangge db ensure`` starts in the project's data folder (see
:mod:`gis.db.cluster`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, AwareDatetime, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The longest a bearer token may live, days (``WANGGE_TOKEN_DAYS``, ``users token --days``).
TOKEN_MAX_DAYS = 89


class Settings(BaseSettings):
    """Wangge settings; every field can be set as ``WANGGE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="WANGGE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "WANGGE_DATABASE_URL"),
        description="SQLAlchemy URL of a PostGIS database; unset means the local default.",
    )
    database_replica_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of a PostgreSQL streaming replica (hot standby) of the "
        "database: reads that tolerate a little lag (map tiles) go there; unset: every "
        "read goes to the database.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL (redis://127.0.0.1:6379/0) where every app server keeps the "
        "rate limits' buckets, so that several servers behind one address share each "
        "caller's bound; unset: each server process limits on its own.",
    )
    database_name: str = Field(
        default="wangge", description="Database name used by the local default."
    )
    local_host: str = Field(default="127.0.0.1", description="Host of the local server.")
    local_port: int = Field(default=5432, description="Port of the local server.")
    local_user: str = Field(default="postgres", description="User on the local server.")
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".data",
        description="Where the private cluster, generated data and logs live.",
    )
    private_port: int = Field(default=54329, description="Port of the private cluster.")
    db_pool_size: int = Field(
        default=20,
        ge=1,
        description="Database connections each server process keeps open (as many again "
        "may open in a burst).",
    )
    db_app_role: str = Field(
        default="wangge_app",
        description="The unprivileged database role the server acts as (SET ROLE on each "
        "connection), so that the row-level security of migration 0022 decides which rows "
        "each user's statements see; empty: off (the server acts as the connecting user, "
        "only the API's own filters apply).  The CLI and migrations never use it.",
    )

    h3_resolution: int = Field(
        default=10, ge=0, le=15, description="H3 resolution of every located record."
    )
    beidou_level: int = Field(
        default=5,
        ge=1,
        le=10,
        description="北斗 grid code level (GB/T 39409-2020) of every located record; level 5 "
        "(4″ × 4″, about 107 m × 123 m at 30°N) is the nearest in area to H3 resolution 10.",
    )
    dask_scheduler: str = Field(
        default="",
        description="Address of the Dask scheduler (e.g. 'tcp://10.0.0.5:8786') that bulk "
        "work such as `wangge locate --dask` runs on; empty: a LocalCluster of "
        "dask_workers processes started for the job.  Every worker needs Wangge installed.",
    )
    dask_workers: int = Field(
        default=2, ge=1, description="Worker processes of the LocalCluster (one thread each)."
    )
    dask_worker_memory: str = Field(
        default="2GiB",
        description="Memory limit of each LocalCluster worker (Dask spills, then pauses, "
        "then restarts a worker that passes it).",
    )
    walk_speed_mps: float = Field(default=1.2, gt=0, description="Walking speed, m/s.")
    service_area_bounds: tuple[float, float, float, float] = Field(
        default=(73.0, 18.0, 135.5, 54.0),
        description="lon/lat box (W, S, E, N) in which input points are plausible until "
        "boundaries are imported (then their box and the margin); used to detect swapped "
        "coordinates. Default: mainland China.",
    )
    service_area_margin_m: float = Field(
        default=5000.0,
        ge=0,
        description="Records may lie this far outside the imported boundaries' box, metres.",
    )

    grid_households_min: int = Field(
        default=300, ge=0, description="Fewest households a base grid should hold."
    )
    grid_households_max: int = Field(
        default=500, ge=0, description="Most households a base grid should hold."
    )
    topology_area_tolerance_m2: float = Field(
        default=1.0, ge=0, description="Gaps/overlaps/crossings smaller than this are ignored."
    )
    topology_sliver_area_m2: float = Field(
        default=100.0, ge=0, description="A grid part smaller than this is a sliver."
    )
    incident_outlier_z: float = Field(
        default=3.5, gt=0, description="Robust z-score above which a grid's load is an outlier."
    )

    max_walk_to_road_m: float = Field(
        default=1000.0,
        gt=0,
        description="A point farther than this from every road is outside the area served.",
    )

    near_boundary_m: float = Field(
        default=30.0,
        ge=0,
        description="An incident reported closer than this to its grid's edge is flagged "
        "for the grid to be confirmed.",
    )
    duplicate_radius_m: float = Field(
        default=50.0, ge=0, description="Reports of one category closer than this may be one case."
    )
    duplicate_window_hours: float = Field(
        default=2.0, ge=0, description="…and reported within this many hours of each other."
    )
    duplicate_max_listed: int = Field(
        default=5,
        ge=1,
        description="Likely duplicates listed with a new report (the nearest, then the most "
        "recent; the first is the one it is linked to); all are counted, however many.",
    )
    hotline_max_rows: int = Field(
        default=10_000,
        ge=1,
        description="Most rows of one 12345 hotline file; a longer export is refused and "
        "must be split.",
    )
    hotline_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        gt=0,
        description="Largest 12345 hotline file accepted, in bytes; a bigger one is refused "
        "before it is read.",
    )
    rate_writes_per_min: int = Field(
        default=120,
        ge=0,
        description="Most changing requests (reports, photos, alerts …) one credential may "
        "send a minute, with bursts of as many; then 429 with Retry-After. 0: no limit.",
    )
    rate_public_per_min: int = Field(
        default=600,
        ge=0,
        description="Most requests a minute from one address without a credential (the "
        "resident pages and APIs, Open311 reads and writes, sign-in); then 429. 0: no limit.",
    )
    rate_searches_per_hour: int = Field(
        default=200,
        ge=0,
        description="Most registry searches by text (a name, a phone, an address) one account "
        "may make an hour, in bursts of as many; then 429 with Retry-After. A masked answer "
        "still says whether a guess matched: bounded, guessing a number takes days. 0: no "
        "limit.",
    )
    rate_reports_per_phone_per_hour: int = Field(
        default=10,
        ge=0,
        description="Most anonymous resident reports one call-back phone number may file an "
        "hour (in bursts of as many), besides the limit of the address; then 429 with "
        "Retry-After. The number is kept only as a keyed hash. 0: no limit.",
    )
    import_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        gt=0,
        description="Largest file the admin's import page accepts, in bytes; a bigger upload "
        "is refused with 413 as soon as that is known (use 'wangge import' for bigger files).",
    )
    photo_max_bytes: int = Field(
        default=5 * 1024 * 1024, gt=0, description="Largest photo accepted with a report."
    )
    photo_max_count: int = Field(default=4, ge=0, description="Most photos per incident.")
    checkin_tolerance_m: float = Field(
        default=50.0,
        gt=0,
        description="A worker's check-in counts as presence within this distance of the task.",
    )
    visit_window_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="A household's recent visits (走访) are counted over this many days.",
    )
    visit_position_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Where a worker stood at a visit is kept this long, then erased (the "
        "visit stays, without the position).",
    )
    offline_ttl_hours: float = Field(
        default=72.0,
        gt=0,
        le=24 * 30,
        description="A worker's offline package (its personal data) expires after this long.",
    )
    dispatch_load_penalty_s: float = Field(
        default=600.0,
        ge=0,
        description="Seconds of travel one more open task is worth when choosing a worker.",
    )
    task_identity_radius_m: float = Field(
        default=25.0,
        ge=0,
        description="A worker sees residents' names and phones only in buildings this close "
        "to one of their open tasks (a task needs them); elsewhere they are masked.",
    )
    token_days: int = Field(
        default=30,
        gt=0,
        le=TOKEN_MAX_DAYS,
        description="How long an issued API token is valid, days (at most 89; "
        "'wangge users token NAME --days N' for another length).",
    )
    session_idle_minutes: float = Field(
        default=30.0,
        gt=0,
        description="A signed-in browser session ends after this many minutes without a "
        "request (sign in again).",
    )
    session_max_hours: float = Field(
        default=12.0,
        gt=0,
        description="A browser session ends this many hours after sign-in, however busy.",
    )
    signin_max_failures: int = Field(
        default=5,
        ge=1,
        description="Wrong passwords for one user name within signin_lockout_minutes that "
        "lock the name until the oldest of them is that old.",
    )
    signin_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed sign-ins from one network address (any user names) within "
        "signin_lockout_minutes that lock the address likewise.",
    )
    signin_lockout_minutes: float = Field(
        default=15.0,
        gt=0,
        description="The window in which failed sign-ins are counted, and so how long a "
        "lock lasts.",
    )
    signin_failure_delay_s: float = Field(
        default=0.5,
        ge=0,
        description="Each recent failure for a name or address delays the answer to a wrong "
        "password by this much more (at most signin_max_delay_s).",
    )
    signin_max_delay_s: float = Field(
        default=3.0, ge=0, description="Longest delay before answering a wrong password."
    )
    min_password_length: int = Field(
        default=10, ge=8, description="Shortest password 'wangge users add|passwd' accepts."
    )

    escalation_interval_s: float = Field(
        default=300.0,
        ge=0,
        description="How often the server runs the reminder / 督办 job (0: never; "
        "'wangge incidents escalate' runs it once).",
    )
    workers: int = Field(default=1, ge=1, description="Server processes ('wangge serve').")

    retain_moved_out_days: int = Field(
        default=365,
        ge=1,
        description="Days the register keeps what it recorded of a resident who moved out "
        "(the household history of their move-in, flags and move-out); 'wangge retention "
        "run' deletes it afterwards, with an audit row of the ids.",
    )
    retain_positions_days: int = Field(
        default=30,
        ge=1,
        description="Days grid workers' raw positions (worker_position) are kept; check-ins "
        "on cases are records of work and stay.",
    )
    retain_audit_months: int = Field(
        default=36,
        ge=0,
        description="Whole months of the audit log kept before the current one; older month "
        "partitions are dropped by the retention (0: kept forever).  At least 6 (the "
        "Cybersecurity Law, art. 21: network logs kept no less than six months); 36 by "
        "default, as the Personal Information Protection Law, art. 56, asks of the records "
        "of processing personal information (three years).",
    )
    retain_incident_event_months: int = Field(
        default=0,
        ge=0,
        description="Whole months of the incidents' events (their histories) kept before "
        "the current one; older month partitions are dropped by the retention.  0 (the "
        "default): kept forever, as they are the case record the KPIs and a case's page "
        "read; a case whose early steps were dropped keeps its later ones.",
    )
    retain_incident_months: int = Field(
        default=0,
        ge=0,
        description="Whole months of incidents (cases, by the month their number carries) "
        "kept before the current one; older month partitions are dropped by the retention "
        "with everything of their cases (steps, photos, contacts, check-ins).  0 (the "
        "default): kept forever — closed cases are the record the KPIs and the 12345 "
        "reconciliation read.",
    )
    partition_months_ahead: int = Field(
        default=3,
        ge=1,
        le=36,
        description="Month partitions of the audit log and the incidents' events created "
        "ahead of the current month "
        "(by the migration and the server's partition job).",
    )
    partition_interval_s: float = Field(
        default=86400.0,
        ge=0,
        description="How often the server creates the coming months' partitions (0: never; "
        "'wangge partitions run' does it once).  A row of a month without its partition "
        "lands in the DEFAULT partition, and the next run moves it into its month.",
    )
    retention_interval_s: float = Field(
        default=86400.0,
        ge=0,
        description="How often the server runs the retention ('wangge retention run') in the "
        "background (0: never; run it from cron instead).",
    )

    open311_public_h3_resolution: int = Field(
        default=8,
        ge=0,
        le=15,
        description="Open311 reads without an api_key show a request's place as the centre "
        "of its H3 cell at this resolution (8: cells of about 0.74 km², edges of about "
        "460 m), never the reported point.",
    )

    broker_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        description="AMQP URL of the message broker (RabbitMQ) the relay publishes the "
        "outbox to; scripts/setup.sh installs and starts a local one when absent.",
    )
    broker_exchange: str = Field(
        default="wangge.messages",
        description="Durable topic exchange the relay publishes to (routing key "
        "'message.<channel>').",
    )
    broker_queue: str = Field(
        default="wangge.messages",
        description="Durable queue bound to the exchange ('message.#'), which the SMS and "
        "WeChat gateways consume; messages wait there while no gateway runs.",
    )
    relay_interval_s: float = Field(
        default=1.0,
        ge=0,
        description="How often the server's relay looks for pending outbox messages when "
        "idle (0: the server starts no relay; 'wangge relay' runs one on its own).",
    )
    relay_batch: int = Field(
        default=500, ge=1, le=50_000, description="Messages the relay claims and publishes at once."
    )
    relay_concurrency: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Batches the relay has in flight at once (each its own transaction).",
    )
    relay_max_attempts: int = Field(
        default=5,
        ge=1,
        description="A message the broker refuses this many times is marked failed "
        "('wangge relay retry' queues it again); a broker that is down only delays.",
    )
    relay_retry_s: float = Field(
        default=30.0, ge=0, description="Wait before a refused message is tried again."
    )
    sms_gateway_url: str | None = Field(
        default=None,
        description="HTTP endpoint of the SMS gateway that sends the relayed messages; "
        "unset: SMS is not configured.",
    )
    wechat_app_id: str | None = Field(
        default=None,
        description="WeChat official-account app id for template messages; unset: WeChat "
        "is not configured.",
    )

    host: str = Field(default="127.0.0.1", description="Address the web server binds.")
    port: int = Field(default=8000, description="Port the web server binds.")
    tile_url: str | None = Field(
        default=None,
        description="Raster basemap: a tile URL template ({z}/{x}/{y}, {s} for subdomains) or "
        "a preset name ('osm', 'tianditu' with WANGGE_TIANDITU_KEY, 'amap'); unset: the "
        "offline basemap drawn from the district's own streets, buildings, water and green "
        "areas (vector tiles served by Wangge, no internet needed).",
    )
    tile_attribution: str | None = Field(
        default=None,
        description="Attribution shown for raster basemap tiles; unset: the preset's own.",
    )
    tile_coord_type: Literal["wgs84", "gcj02"] | None = Field(
        default=None,
        description="Datum of the raster tiles: 'gcj02' for AMap/Tencent-style tiles, which "
        "are then shifted onto WGS84 so the layers line up; unset: the preset's own "
        "(wgs84 for OSM, 天地图 and a URL).",
    )
    tile_subdomains: str = Field(
        default="abc", description="Values of {s} in the raster tile URL template."
    )
    tianditu_key: str | None = Field(
        default=None, description="天地图 key (tk) for the 'tianditu' basemap preset."
    )
    privacy_k: int = Field(
        default=5,
        ge=1,
        description="Counts of households, residents or vulnerable people below this (and "
        "above zero) are suppressed in every public map layer, tile and OGC collection.",
    )
    tile_cache_mb: float = Field(
        default=128.0, ge=0, description="Memory for vector tiles kept by each server process."
    )
    tile_max_age_s: int = Field(
        default=60,
        ge=0,
        description="How long a browser may reuse a public vector tile before asking again "
        "(the ETag answers 304 while the data stand still).",
    )
    map_warm_interval_s: float = Field(
        default=5.0,
        ge=0,
        description="How often the server checks whether the data behind the district "
        "overview (/map) and the basemap's glyphs moved, building them again then rather "
        "than on the next request; both are built as the server starts (0: on request only).",
    )

    earliest_time: AwareDatetime = Field(
        default=datetime(2000, 1, 1, tzinfo=timezone(timedelta(hours=8))),
        description="No time given to the system (a report, a hazard, a query window) may "
        "lie before this: when its records begin.  Set it earlier to import older records.",
    )
    clock_skew_s: float = Field(
        default=300.0,
        ge=0,
        description="How far past gis.clock's now a time that has happened (a report, a "
        "worker's position) may lie: phones and hotline systems run a little fast.",
    )
    horizon_days: float = Field(
        default=366.0,
        gt=0,
        description="How far ahead of now a planned time (a hazard's validity) or the bound "
        "of a query window (KPI, awareness, Open311) may lie.",
    )

    now: AwareDatetime | None = Field(
        default=None,
        description="Where the system clock stands at start-up (ISO 8601 with offset, e.g. "
        "2027-12-05T09:00:00+08:00); it runs on from there.  Unset: real time.  For tests "
        "and demos: see gis.clock.",
    )

    sample_households: int = Field(default=20_000, description="Households in the demo.")
    sample_seed: int = Field(default=42, description="Seed of the demo district.")

    data_key: str | None = Field(
        default=None,
        description="The key that seals ID numbers, phones and reporters' contacts in the "
        "database (base64 of 32 random bytes; `wangge keys new` prints one).  Unset: a "
        "local default key generated once into <data_dir>/data.key (0600), with a warning.",
    )
    data_keys_old: str = Field(
        default="",
        description="Keys sealed values may still be under (comma-separated base64), "
        "while `wangge keys rotate` re-seals them under WANGGE_DATA_KEY.",
    )

    @field_validator("retain_audit_months")
    @classmethod
    def _audit_kept_six_months(cls, months: int) -> int:
        if 0 < months < 6:
            raise ValueError(
                "the audit log must be kept at least 6 months (Cybersecurity Law, art. 21): "
                "set WANGGE_RETAIN_AUDIT_MONTHS to 6 or more, or 0 to keep it forever"
            )
        return months

    @property
    def log_dir(self) -> Path:
        """Folder for log files."""
        return self.data_dir / "logs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()
