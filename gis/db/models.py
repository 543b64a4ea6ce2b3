"""Every table of Wangge, in one module so the data model can be read at a glance.

Conventions
-----------
* Geometry is stored in WGS84 (EPSG:4326); the typed geometry columns reject any
  other SRID, and CHECK constraints reject invalid geometry and coordinates outside
  the lon/lat range.
* Every located record carries ``grid_id`` (the 网格 it lies in, NULL when it lies in
  none) and ``h3_cell``: the H3 index at the configured resolution as a signed
  64-bit ``BIGINT``.  H3 indexes use 63 bits (the top bit is always 0), so they fit
  a bigint exactly; an integer is 8 bytes against 16 for the hex string, compares and
  hashes faster, and is what h3ronpy / h3 return natively.  Beside it ``beidou_cell``:
  the 北斗 grid location code (GB/T 39409-2020) at the configured level, packed as a
  ``BIGINT`` by :mod:`grids.beidou` (the code string is ``grids.beidou.to_strings``).
* Personal data of residents (name, ID number, phone) lives in its own table,
  ``resident_identity``, so that who may read it is decided in one place and a query
  that does not need it cannot leak it by accident.
* Records a street office brings from its own registers carry the office's own id in
  ``ref`` (户编号, 楼栋编号 …; unique where present): a re-import matches on it and
  updates in place (see :mod:`gis.store.register_store`); their ``id`` comes from the
  column's sequence when the file has none.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from geoalchemy2 import Geometry

SRID = 4326

#: Levels of the admin hierarchy, top down: province 省, city 市, district 区/县, street
#: 街道/乡镇, community 社区/村, estate 小区 (grids lie inside communities only).
ADMIN_LEVELS = ("province", "city", "district", "street", "community", "estate")
GRID_KINDS = ("base", "dedicated")
FACILITY_KINDS = (
    "clinic",
    "elder_care",
    "park",
    "school",
    "community_centre",
    "shelter",
    "pharmacy",
)
SHELTER_CLASSES = ("emergency", "fixed", "central")
ROAD_CLASSES = ("arterial", "branch", "lane", "footway")
BUILDING_USES = ("residential", "mixed", "public", "commercial")
INCIDENT_SOURCES = ("patrol", "resident_app", "hotline_12345")
INCIDENT_STATES = (
    "reported",
    "registered",
    "dispatched",
    "in_progress",
    "resolved",
    "verified",
    "closed",
    "rated",
    "rejected",
    "returned",
    "escalated",
)
ROLES = (
    "resident",
    "grid_worker",
    "community_staff",
    "street_staff",
    "district_staff",
    "city_staff",
    "admin",
)
HAZARD_KINDS = ("typhoon", "flood", "fire", "gas_leak")
ASSIGNMENT_ROLES = ("primary", "backup")
#: Areas the offline basemap draws under the streets (from OpenStreetMap or a register).
MAP_AREA_KINDS = ("water", "green")
MAP_AREA_SOURCES = ("osm", "register")
#: ``[from, until)``: the incident times the database holds.  Wide enough for any import
#: (the doors accept a narrower, configurable range), narrow enough that every stored time
#: is a pandas nanosecond timestamp (1677–2262) and a Python datetime in any time zone.
STORED_TIMES = (datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _stored_time(column: str) -> str:
    """SQL for 'column lies within :data:`STORED_TIMES`' (a NULL passes, as in any CHECK)."""
    lo, hi = (f"'{t:%Y-%m-%d %H:%M:%S}+00'" for t in STORED_TIMES)
    return f"{column} >= {lo} AND {column} < {hi}"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL for 'column is one of values'."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _geometry_checks(column: str = "geom") -> tuple[CheckConstraint, ...]:
    """Constraints every geometry column carries: valid, and inside lon/lat range."""
    return (
        CheckConstraint(f"ST_IsValid({column})", name=f"{column}_valid"),
        CheckConstraint(
            f"ST_XMin({column}) >= -180 AND ST_XMax({column}) <= 180 "
            f"AND ST_YMin({column}) >= -90 AND ST_YMax({column}) <= 90",
            name=f"{column}_lonlat_range",
        ),
    )


def _office_refs(table: str) -> tuple[Index, Index]:
    """An office's own ids are unique within the office (many offices, one deployment).

    Two partial unique indexes, not one ``UNIQUE (office_id, ref)``: records of no office
    (a deployment's one office, OpenStreetMap) keep ``ref`` unique among themselves, and
    records without a ``ref`` stay allowed in any number.
    """
    return (
        Index(f"uq_{table}_ref", "ref", unique=True, postgresql_where="office_id IS NULL"),
        Index(
            f"uq_{table}_office_id_ref",
            "office_id",
            "ref",
            unique=True,
            postgresql_where="office_id IS NOT NULL",
        ),
    )


class Base(DeclarativeBase):
    """Declarative base bound to the shared metadata."""

    metadata = metadata


class Located:
    """Mixin for records placed in a 网格 (grid), an H3 cell and a 北斗 grid cell."""

    @declared_attr
    def grid_id(cls) -> Mapped[int | None]:  # noqa: N805 - SQLAlchemy declared_attr
        """The grid the record lies in; NULL when it lies in none."""
        return mapped_column(ForeignKey("grid.id", ondelete="SET NULL"), index=True)

    @declared_attr
    def h3_cell(cls) -> Mapped[int | None]:  # noqa: N805
        """H3 index (configured resolution) as a signed 64-bit integer."""
        return mapped_column(BigInteger, index=True)

    @declared_attr
    def beidou_cell(cls) -> Mapped[int | None]:  # noqa: N805
        """北斗 grid cell (GB/T 39409-2020, configured level) packed as a 64-bit integer."""
        return mapped_column(BigInteger, index=True)


# --------------------------------------------------------------------------- admin


class AdminArea(Base):
    """An administrative area: 省 province, 市 city, 区 district, 街道, 社区, 小区 estate."""

    __tablename__ = "admin_area"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_area.id", ondelete="RESTRICT"), index=True
    )
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID), nullable=False)
    __table_args__ = (
        CheckConstraint(_one_of("level", ADMIN_LEVELS), name="level"),
        *_geometry_checks(),
    )


class Grid(Base):
    """A 网格: a coded polygon inside one community, versioned by validity period."""

    __tablename__ = "grid"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(15))
    name: Mapped[str] = mapped_column(Text)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("admin_area.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), server_default=text("'base'"))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID), nullable=False)
    __table_args__ = (
        CheckConstraint(_one_of("kind", GRID_KINDS), name="kind"),
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_digits"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity"),
        # one current grid per code; past versions keep their code
        Index("uq_grid_current_code", "code", unique=True, postgresql_where="valid_to IS NULL"),
        *_geometry_checks(),
    )


class GridLineage(Base):
    """Which grids a grid version came from (splits, merges, redraws)."""

    __tablename__ = "grid_lineage"
    old_grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), primary_key=True)
    new_grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), primary_key=True)
    change: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint(_one_of("change", ("split", "merge", "redraw")), name="change"),
    )


# ------------------------------------------------------------------ buildings, people


class Building(Located, Base):
    """A 楼栋: a building footprint with floors, units and use."""

    __tablename__ = "building"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: the office's own id of the building (楼栋编号), or ``osm:w123`` for OSM footprints
    ref: Mapped[str | None] = mapped_column(Text)
    #: the office (街道办事处 …) whose register the record came from (``--area``); its
    #: ``ref`` is unique within that office.  NULL: a deployment's one office, or OSM
    office_id: Mapped[int | None] = mapped_column(ForeignKey("admin_area.id", ondelete="RESTRICT"))
    name: Mapped[str | None] = mapped_column(Text)
    #: its address as the office writes it (地址), matched against households' addresses
    address: Mapped[str | None] = mapped_column(Text)
    estate_id: Mapped[int | None] = mapped_column(ForeignKey("admin_area.id"), index=True)
    use: Mapped[str] = mapped_column(String(16), server_default=text("'residential'"))
    floors: Mapped[int] = mapped_column(SmallInteger)
    units: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID), nullable=False)
    __table_args__ = (
        CheckConstraint(_one_of("use", BUILDING_USES), name="use"),
        CheckConstraint("floors BETWEEN 1 AND 200", name="floors"),
        CheckConstraint("units BETWEEN 1 AND 100", name="units"),
        *_geometry_checks(),
        *_office_refs("building"),
        Index(
            "ix_building_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        Index(
            "ix_building_address_trgm",
            "address",
            postgresql_using="gin",
            postgresql_ops={"address": "gin_trgm_ops"},
        ),
    )


class Household(Located, Base):
    """A 户: a dwelling in a building; located where its building is."""

    __tablename__ = "household"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: the office's own id of the household (户编号)
    ref: Mapped[str | None] = mapped_column(Text)
    #: the office (街道办事处 …) whose register the record came from (``--area``); its
    #: ``ref`` is unique within that office.  NULL: a deployment's one office, or OSM
    office_id: Mapped[int | None] = mapped_column(ForeignKey("admin_area.id", ondelete="RESTRICT"))
    address: Mapped[str | None] = mapped_column(Text)
    #: found through the unique (building_id, unit, room), which leads with it (0041)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"))
    unit: Mapped[int] = mapped_column(SmallInteger)
    room: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(SmallInteger)
    __table_args__ = (
        CheckConstraint("size BETWEEN 0 AND 30", name="size"),
        UniqueConstraint("building_id", "unit", "room"),
        *_office_refs("household"),
        Index(
            "ix_household_address_trgm",
            "address",
            postgresql_using="gin",
            postgresql_ops={"address": "gin_trgm_ops"},
        ),
        Index(
            "ix_household_ref_trgm",
            "ref",
            postgresql_using="gin",
            postgresql_ops={"ref": "gin_trgm_ops"},
        ),
    )


class Resident(Base):
    """A person in a household, without personal identifiers (see ResidentIdentity)."""

    __tablename__ = "resident"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: the office's own id of the person (人员编号)
    ref: Mapped[str | None] = mapped_column(Text)
    #: the office (街道办事处 …) whose register the record came from (``--area``); its
    #: ``ref`` is unique within that office.  NULL: a deployment's one office, or OSM
    office_id: Mapped[int | None] = mapped_column(ForeignKey("admin_area.id", ondelete="RESTRICT"))
    #: 与户主关系: 本人/户主, 配偶, 子女 …
    relation: Mapped[str | None] = mapped_column(Text)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), index=True
    )
    birth_year: Mapped[int] = mapped_column(SmallInteger)
    sex: Mapped[str] = mapped_column(String(1))
    #: the household's grid, copied (kept in step by triggers, migration 0027) so that the
    #: row-level security of a resident is one test on its own row
    grid_id: Mapped[int | None] = mapped_column(Integer, index=True)
    living_alone_elderly: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    mobility_impaired: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    low_income: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    __table_args__ = (
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
        CheckConstraint("birth_year BETWEEN 1890 AND 2100", name="birth_year"),
        *_office_refs("resident"),
    )


class ResidentIdentity(Base):
    """Personal data of a resident (name, ID number, phone): read only through access rules."""

    __tablename__ = "resident_identity"
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("resident.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(Text)
    #: the household's grid, copied as on ``resident`` (row-level security; no index:
    #: identities are read by resident)
    grid_id: Mapped[int | None] = mapped_column(Integer)
    #: sealed (:mod:`gis.crypt`): the database holds ciphertext only
    id_number: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: the blind indexes of exact-match search (HMAC-SHA256 of the normalised value)
    id_number_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    __table_args__ = (
        Index(
            "ix_resident_identity_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        Index("uq_resident_identity_id_number_hash", "id_number_hash", unique=True),
        Index("ix_resident_identity_phone_hash", "phone_hash"),
    )


#: What the registry desk records in a household's history.
HOUSEHOLD_CHANGES = ("move_in", "move_out", "flags")


class HouseholdHistory(Base):
    """A change made to a household at the registry desk (迁入, 迁出, 标记); append-only.

    ``detail`` holds what changed, with personal data only masked.
    """

    __tablename__ = "household_history"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    resident_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSONB)
    __table_args__ = (
        CheckConstraint(_one_of("action", HOUSEHOLD_CHANGES), name="action"),
        Index("ix_household_history_household_at", "household_id", "at"),
    )


# ------------------------------------------------------------------ facilities, roads


class Facility(Located, Base):
    """A service point: clinic, pharmacy, elder care, park, school, community centre, shelter."""

    __tablename__ = "facility"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: the office's own id (编号), ``osm:n123`` from OpenStreetMap
    ref: Mapped[str | None] = mapped_column(Text)
    #: the office (街道办事处 …) whose register the record came from (``--area``); its
    #: ``ref`` is unique within that office.  NULL: a deployment's one office, or OSM
    office_id: Mapped[int | None] = mapped_column(ForeignKey("admin_area.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(24), index=True)
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    #: the tag that decided the kind of a facility from OpenStreetMap (amenity=hospital)
    source_tag: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[int | None] = mapped_column(Integer)
    #: 营业时间 / 开放时间 as the office writes it (``08:00-17:30``), where known
    opening_hours: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    geom = mapped_column(Geometry("POINT", srid=SRID), nullable=False)
    __table_args__ = (
        CheckConstraint(_one_of("kind", FACILITY_KINDS), name="kind"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity"),
        *_geometry_checks(),
        *_office_refs("facility"),
    )


class Shelter(Base):
    """A 避难场所: the shelter facts of a facility of kind 'shelter'.

    ``zone`` is the responsibility zone (责任区) of a fixed shelter, which must hold at
    least 15 % of the zone's population (GB 51143).
    """

    __tablename__ = "shelter"
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facility.id", ondelete="CASCADE"), primary_key=True
    )
    shelter_class: Mapped[str] = mapped_column(String(16))
    area_m2: Mapped[float | None] = mapped_column(Float)
    occupancy: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    is_open: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    zone = mapped_column(Geometry("MULTIPOLYGON", srid=SRID))
    __table_args__ = (
        CheckConstraint(_one_of("shelter_class", SHELTER_CLASSES), name="class"),
        CheckConstraint("occupancy >= 0", name="occupancy"),
        *_geometry_checks("zone"),
    )


class RoadNode(Located, Base):
    """A node of the road network."""

    __tablename__ = "road_node"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom = mapped_column(Geometry("POINT", srid=SRID), nullable=False)
    __table_args__ = _geometry_checks()


class RoadEdge(Base):
    """A directed-or-not road segment between two nodes, with length and speeds."""

    __tablename__ = "road_edge"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[int] = mapped_column(ForeignKey("road_node.id"), index=True)
    target: Mapped[int] = mapped_column(ForeignKey("road_node.id"), index=True)
    name: Mapped[str | None] = mapped_column(Text)
    road_class: Mapped[str] = mapped_column(String(16))
    length_m: Mapped[float] = mapped_column(Float)
    walkable: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    drivable: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    oneway: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    walk_speed_mps: Mapped[float] = mapped_column(Float)
    drive_speed_kmh: Mapped[float | None] = mapped_column(Float)
    #: 0 on the ground, below 0 in a tunnel or underground, above 0 on a bridge or elevated
    z_level: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    geom = mapped_column(Geometry("LINESTRING", srid=SRID), nullable=False)
    __table_args__ = (
        CheckConstraint(_one_of("road_class", ROAD_CLASSES), name="road_class"),
        CheckConstraint("length_m >= 0", name="length"),
        CheckConstraint("walk_speed_mps > 0", name="walk_speed"),
        *_geometry_checks(),
    )


# ------------------------------------------------------------------ people at work


class AppUser(Base):
    """A user of the system and the role that decides what they may see."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(24))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("admin_area.id"), index=True)
    #: argon2id hash (``$argon2id$…``); NULL: the user cannot sign in with a password
    password_hash: Mapped[str | None] = mapped_column(Text)
    #: set when the account is disabled: its sessions and tokens stop working at once
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)


class GridWorker(Base):
    """A 网格员: the person who walks a grid."""

    __tablename__ = "grid_worker"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), unique=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    on_duty: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    max_open_tasks: Mapped[int] = mapped_column(Integer, server_default=text("20"))


class GridAssignment(Base):
    """Who covers which grid: one primary worker and any number of backups."""

    __tablename__ = "grid_assignment"
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(8))
    __table_args__ = (
        CheckConstraint(_one_of("role", ASSIGNMENT_ROLES), name="role"),
        Index(
            "uq_grid_assignment_primary",
            "grid_id",
            unique=True,
            postgresql_where="role = 'primary'",
        ),
    )


# ------------------------------------------------------------------ incidents


class IncidentCategory(Base):
    """An incident category (部件 / 事件 / community) with its time limit and priority."""

    __tablename__ = "incident_category"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    family: Mapped[str] = mapped_column(String(16))
    group_name: Mapped[str] = mapped_column(Text)
    time_limit_hours: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(SmallInteger)
    #: the proof a grid worker's 反馈 needs besides a note (migration 0025; ``wangge categories``)
    proof_photo: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    proof_checkin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    __table_args__ = (
        CheckConstraint(_one_of("family", ("component", "event", "community")), name="family"),
        CheckConstraint("time_limit_hours > 0", name="time_limit"),
        CheckConstraint("priority BETWEEN 1 AND 5", name="priority"),
    )


#: An incident's links to another (ON DELETE SET NULL): indexed where set, so that
#: deleting cases does not scan the table for each one (migration 0035).
LINKS = ("duplicate_of", "merged_into")


class Incident(Located, Base):
    """An 事件 / 工单: a reported problem with a place, a state and a deadline.

    Partitioned by month (migration 0042): its number carries the month it was reported
    in (:mod:`gis.store.incident_ids`) and is the partition key, so the keys that refer
    to a case by number stay; ``(source, source_ref)`` is kept unique in
    :class:`gis.db.incident_event_models.IncidentSourceRef`.
    """

    __tablename__ = "incident"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: the grid, the category and the time of report are each found through an index
    #: that leads with them (below): one alone of each would be a second copy to keep
    #: at every report (0041)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"))
    category_code: Mapped[str] = mapped_column(ForeignKey("incident_category.code"))
    source: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("grid_worker.id"), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    near_boundary: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    #: another case this one repeats, or was merged into (both indexed: see ``LINKS``)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"))
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"))
    #: SHA-256 of the token an Open311 client follows its report with (the token is not kept)
    #: (random: unique without a key, which the partitioned table could not hold on it)
    public_token_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    #: the report's key at its source (a 12345 case number or CSV row digest): filed once
    source_ref: Mapped[str | None] = mapped_column(String(100))
    #: when its latest step lies (a trigger keeps it, migration 0037): the upper time bound
    #: of every read of its events (:mod:`gis.store.event_bound`); NULL before any step
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(Geometry("POINT", srid=SRID), nullable=False)
    __table_args__ = (
        CheckConstraint(_one_of("source", INCIDENT_SOURCES), name="source"),
        # a report filed once from its source: the key is IncidentSourceRef's
        Index("ix_incident_source_source_ref", "source", "source_ref"),
        CheckConstraint(_one_of("state", INCIDENT_STATES), name="state"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint(_stored_time("reported_at"), name="reported_at_range"),
        CheckConstraint(_stored_time("deadline"), name="deadline_range"),
        CheckConstraint(_stored_time("closed_at"), name="closed_at_range"),
        # the duplicate search: same category, recent
        Index("ix_incident_category_code_reported_at", "category_code", "reported_at"),
        # the case desk's keyset pages (migration 0018): a grid's cases, by state, all
        Index("ix_incident_grid_id_reported_at_id", "grid_id", "reported_at", "id"),
        Index("ix_incident_grid_id_state_reported_at_id", "grid_id", "state", "reported_at", "id"),
        Index("ix_incident_reported_at_id", "reported_at", "id"),
        # deleting an incident finds those linked to it (ON DELETE SET NULL), migration 0035
        *(Index(f"ix_incident_{c}", c, postgresql_where=f"{c} IS NOT NULL") for c in LINKS),
        # the desk's text search: ILIKE '%…%' from trigrams (pg_trgm)
        Index(
            "ix_incident_description_trgm",
            "description",
            postgresql_using="gin",
            postgresql_ops={"description": "gin_trgm_ops"},
        ),
        *_geometry_checks(),
        {"postgresql_partition_by": "RANGE (id)"},
    )


class IncidentPhoto(Base):
    """A photo of an incident: the image bytes, their type, size and SHA-256 checksum."""

    __tablename__ = "incident_photo"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    #: found through the unique (incident_id, sha256), which leads with it (0041)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    uploaded_by: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("size_bytes > 0", name="size"),
        UniqueConstraint("incident_id", "sha256"),
    )


class IncidentContact(Base):
    """How to reach the person who reported an incident (personal data: staff only)."""

    __tablename__ = "incident_contact"
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str | None] = mapped_column(Text)
    #: sealed (:mod:`gis.crypt`)
    phone: Mapped[bytes | None] = mapped_column(LargeBinary)
    email: Mapped[bytes | None] = mapped_column(LargeBinary)


class CheckIn(Base):
    """A worker's proof of presence at a task: where they were, how far from the incident."""

    __tablename__ = "incident_checkin"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    distance_m: Mapped[float] = mapped_column(Float)
    accepted: Mapped[bool] = mapped_column(Boolean)
    geom = mapped_column(Geometry("POINT", srid=SRID), nullable=False)
    __table_args__ = _geometry_checks()


class ApiToken(Base):
    """A bearer token of a user, stored only as its SHA-256 so a database leak reveals none.

    It ends at ``expires_at`` (at most :data:`gis.settings.TOKEN_MAX_DAYS` after it was
    made) or when ``revoked_at`` is set.
    """

    __tablename__ = "api_token"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: When it was revoked (``wangge users revoke-tokens``, rotation, a disabled account).
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AppSession(Base):
    """A signed-in browser session (登录会话), stored only as the SHA-256 of its cookie's id.

    It ends at ``expires_at`` (absolute), when idle too long after ``last_seen_at``, or
    when ``revoked_at`` is set (sign-out, a disabled account).
    """

    __tablename__ = "app_session"
    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInFailure(Base):
    """A refused sign-in (wrong password, unknown name): counted to slow down and lock out."""

    __tablename__ = "sign_in_failure"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        Index("ix_sign_in_failure_username_at", "username", "at"),
        Index("ix_sign_in_failure_address_at", "address", "at"),
    )


class IdempotentRequest(Base):
    """A create sent with an ``Idempotency-Key`` and the answer it got (幂等请求).

    A retry with the same key by the same caller gets the stored answer instead of a
    second report, alert or hazard; ``status`` is NULL while the first is still running.
    The caller is kept as the SHA-256 of their credential (or address), never in clear.
    """

    __tablename__ = "idempotent_request"
    caller_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[int | None] = mapped_column(SmallInteger)
    headers: Mapped[list | None] = mapped_column(JSONB)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)


class MapArea(Base):
    """Water (水系) and green (绿地) areas of the basemap, from OpenStreetMap or a register."""

    __tablename__ = "map_area"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), server_default=text("'register'"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID), nullable=False)
    __table_args__ = (
        CheckConstraint(_one_of("kind", MAP_AREA_KINDS), name="kind"),
        CheckConstraint(_one_of("source", MAP_AREA_SOURCES), name="source"),
        *_geometry_checks(),
    )


# ------------------------------------------------------------------ hazards, audit


class HazardArea(Base):
    """An area under a hazard (typhoon, flood, fire, gas leak) for a time window."""

    __tablename__ = "hazard_area"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    severity: Mapped[int] = mapped_column(SmallInteger)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID), nullable=False)
    __table_args__ = (
        CheckConstraint(_one_of("kind", HAZARD_KINDS), name="kind"),
        CheckConstraint("severity BETWEEN 1 AND 4", name="severity"),
        *_geometry_checks(),
    )


class AuditLog(Base):
    """Who did what to which record, and when; written on every sensitive access.

    Append-only: a trigger (migration 0019) refuses every UPDATE and DELETE.  Partitioned
    by month of ``at`` (migration 0031, :mod:`gis.store.partition_store`), so the key
    holds ``at`` too; the retention drops whole months.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True, primary_key=True
    )
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSONB)
    __table_args__ = ({"postgresql_partition_by": "RANGE (at)"},)


# ---- awareness

#: Who an alert is for: every household in the area, or one group of residents
#: (and, through their household, their family).
ALERT_GROUPS = (
    "all",
    "vulnerable",
    "elderly_alone",
    "disabled",
    "mobility_impaired",
    "children",
)
#: How an alert is delivered: the outbox here; SMS or WeChat gateways in production.
ALERT_CHANNELS = ("outbox", "sms", "wechat")
OUTBOX_STATUSES = ("pending", "sent", "failed")


class Alert(Base):
    """A warning (预警通知) sent for a hazard area to the residents of the affected grids."""

    __tablename__ = "alert"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    hazard_id: Mapped[int] = mapped_column(
        ForeignKey("hazard_area.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    target_group: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(16), server_default=text("'outbox'"))
    __table_args__ = (
        CheckConstraint(_one_of("target_group", ALERT_GROUPS), name="target_group"),
        CheckConstraint(_one_of("channel", ALERT_CHANNELS), name="channel"),
    )


class AlertRecipient(Base):
    """One household (or one resident of it) an alert went to, and whether they were reached.

    ``resident_id`` is NULL when the alert is for the whole household.  ``shelter_id``
    is the nearest safe shelter (a ``facility`` of kind shelter) named in the message;
    ``confirmed_at`` / ``confirmed_by`` record the grid worker's confirmation that the
    person was reached (已通知到位).
    """

    __tablename__ = "alert_recipient"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), index=True
    )
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid.id", ondelete="SET NULL"), index=True
    )
    shelter_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id", ondelete="SET NULL"))
    walk_s: Mapped[float | None] = mapped_column(Float)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class Outbox(Base):
    """Messages waiting for (or handed to) a delivery channel: the pluggable way out.

    The relay (:mod:`api.services.relay`) claims the pending rows, publishes each to the
    broker once (publisher confirms), then sets ``status`` ``sent`` and ``sent_at``; a
    refused message is retried (``attempts``, ``last_error``, ``next_attempt_at``) until
    it is ``failed``.  SMS and WeChat gateways consume behind the broker.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    alert_recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_recipient.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    #: what the consumers behind the broker dedupe on (the AMQP message-id)
    message_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, server_default=text("gen_random_uuid()"), unique=True
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the same key is queued once (an alert sent twice for one hazard, group, recipient)
    dedupe_key: Mapped[str | None] = mapped_column(Text)
    #: the case a reminder to its reporter is about (办理提醒); NULL for the hazard alerts
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    __table_args__ = (
        CheckConstraint(_one_of("channel", ALERT_CHANNELS), name="channel"),
        CheckConstraint(_one_of("status", OUTBOX_STATUSES), name="status"),
        Index(
            "ux_outbox_dedupe_key",
            "dedupe_key",
            unique=True,
            postgresql_where=text("dedupe_key IS NOT NULL"),
        ),
        Index("ix_outbox_pending", "id", postgresql_where=text("status = 'pending'")),
    )


class WorkerPosition(Base):
    """Where a grid worker was at a moment (from the tablet); the latest is on the live map."""

    __tablename__ = "worker_position"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(Geometry("POINT", srid=SRID), nullable=False)
    __table_args__ = (
        Index("ix_worker_position_worker_id_at", "worker_id", "at"),
        # the retention deletes positions older than a number of days (migration 0026)
        Index("ix_worker_position_at", "at"),
        *_geometry_checks(),
    )


# ---- planning

PLAN_SITE_ACTIONS = ("add", "remove")


class PlanScenario(Base):
    """A facility plan (规划方案) of one kind: sites added and existing facilities removed.

    Scenarios are compared with today (现状) and with each other in
    :mod:`analysis.coverage`; the sites are :class:`PlanSite` rows.
    """

    __tablename__ = "plan_scenario"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (CheckConstraint(_one_of("kind", FACILITY_KINDS), name="kind"),)


class PlanSite(Base):
    """One change of a plan: a site added (with a point) or a facility removed (closed)."""

    __tablename__ = "plan_site"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("plan_scenario.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(8))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Float)
    geom = mapped_column(Geometry("POINT", srid=SRID))
    __table_args__ = (
        CheckConstraint(_one_of("action", PLAN_SITE_ACTIONS), name="action"),
        CheckConstraint(
            "(action = 'add' AND geom IS NOT NULL) "
            "OR (action = 'remove' AND facility_id IS NOT NULL)",
            name="what",
        ),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity"),
        CheckConstraint("cost IS NULL OR cost >= 0", name="cost"),
        *_geometry_checks(),
    )


# The incidents' steps, the residents' side (accounts, notices, wishes), the workers'
# field work (visits, check-on marks, handovers), the households' stored walking access
# and the servers' periodic jobs are in modules of their own, registered on the same
# metadata when this one is imported.
from gis.db import access_models as access_models  # noqa: E402
from gis.db import count_models as count_models  # noqa: E402
from gis.db import incident_event_models as incident_event_models  # noqa: E402
from gis.db import job_models as job_models  # noqa: E402
from gis.db import neighbourhood_models as neighbourhood_models  # noqa: E402
from gis.db import worker_models as worker_models  # noqa: E402
