"""Initial schema: every table of gis.db.models, with PostGIS enabled.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:46:01.665767
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from geoalchemy2 import Geometry

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "admin_area",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "level IN ('district', 'street', 'community', 'estate')",
            name=op.f("ck_admin_area_level"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_admin_area_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f("ck_admin_area_geom_lonlat_range"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["admin_area.id"],
            name=op.f("fk_admin_area_parent_id_admin_area"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_area")),
        sa.UniqueConstraint("code", name=op.f("uq_admin_area_code")),
    )
    op.create_geospatial_index(
        "idx_admin_area_geom",
        "admin_area",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_admin_area_level"), "admin_area", ["level"], unique=False)
    op.create_index(op.f("ix_admin_area_parent_id"), "admin_area", ["parent_id"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=True),
        sa.Column("object_id", sa.Text(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_username"), "audit_log", ["username"], unique=False)
    op.create_geospatial_table(
        "hazard_area",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("severity", sa.SmallInteger(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('typhoon', 'flood', 'fire', 'gas_leak')", name=op.f("ck_hazard_area_kind")
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_hazard_area_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f("ck_hazard_area_geom_lonlat_range"),
        ),
        sa.CheckConstraint("severity BETWEEN 1 AND 4", name=op.f("ck_hazard_area_severity")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_area")),
    )
    op.create_geospatial_index(
        "idx_hazard_area_geom",
        "hazard_area",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "incident_category",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("group_name", sa.Text(), nullable=False),
        sa.Column("time_limit_hours", sa.Integer(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint(
            "family IN ('component', 'event', 'community')",
            name=op.f("ck_incident_category_family"),
        ),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name=op.f("ck_incident_category_priority")),
        sa.CheckConstraint("time_limit_hours > 0", name=op.f("ck_incident_category_time_limit")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_incident_category")),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "role IN ('resident', 'grid_worker', 'community_staff', 'street_staff', 'admin')",
            name=op.f("ck_app_user_role"),
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["admin_area.id"], name=op.f("fk_app_user_area_id_admin_area")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_index(op.f("ix_app_user_area_id"), "app_user", ["area_id"], unique=False)
    op.create_geospatial_table(
        "grid",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), server_default=sa.text("'base'"), nullable=False),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("code ~ '^[0-9]{15}$'", name=op.f("ck_grid_code_digits")),
        sa.CheckConstraint("kind IN ('base', 'dedicated')", name=op.f("ck_grid_kind")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_grid_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f("ck_grid_geom_lonlat_range"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_grid_validity")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["admin_area.id"],
            name=op.f("fk_grid_community_id_admin_area"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid")),
    )
    op.create_geospatial_index(
        "idx_grid_geom", "grid", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_grid_community_id"), "grid", ["community_id"], unique=False)
    op.create_index(
        "uq_grid_current_code", "grid", ["code"], unique=True, postgresql_where="valid_to IS NULL"
    )
    op.create_geospatial_table(
        "building",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("estate_id", sa.Integer(), nullable=True),
        sa.Column(
            "use", sa.String(length=16), server_default=sa.text("'residential'"), nullable=False
        ),
        sa.Column("floors", sa.SmallInteger(), nullable=False),
        sa.Column("units", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("h3_cell", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "use IN ('residential', 'mixed', 'public', 'commercial')", name=op.f("ck_building_use")
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_building_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f("ck_building_geom_lonlat_range"),
        ),
        sa.CheckConstraint("floors BETWEEN 1 AND 200", name=op.f("ck_building_floors")),
        sa.CheckConstraint("units BETWEEN 1 AND 100", name=op.f("ck_building_units")),
        sa.ForeignKeyConstraint(
            ["estate_id"], ["admin_area.id"], name=op.f("fk_building_estate_id_admin_area")
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_building_grid_id_grid"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building")),
    )
    op.create_geospatial_index(
        "idx_building_geom",
        "building",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_building_estate_id"), "building", ["estate_id"], unique=False)
    op.create_index(op.f("ix_building_grid_id"), "building", ["grid_id"], unique=False)
    op.create_index(op.f("ix_building_h3_cell"), "building", ["h3_cell"], unique=False)
    op.create_geospatial_table(
        "facility",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("h3_cell", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('clinic', 'elder_care', 'park', 'school', 'community_centre', 'shelter')",
            name=op.f("ck_facility_kind"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_facility_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f("ck_facility_geom_lonlat_range"),
        ),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name=op.f("ck_facility_capacity")),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_facility_grid_id_grid"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility")),
    )
    op.create_geospatial_index(
        "idx_facility_geom",
        "facility",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_facility_grid_id"), "facility", ["grid_id"], unique=False)
    op.create_index(op.f("ix_facility_h3_cell"), "facility", ["h3_cell"], unique=False)
    op.create_index(op.f("ix_facility_kind"), "facility", ["kind"], unique=False)
    op.create_table(
        "grid_lineage",
        sa.Column("old_grid_id", sa.Integer(), nullable=False),
        sa.Column("new_grid_id", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "change IN ('split', 'merge', 'redraw')", name=op.f("ck_grid_lineage_change")
        ),
        sa.ForeignKeyConstraint(
            ["new_grid_id"], ["grid.id"], name=op.f("fk_grid_lineage_new_grid_id_grid")
        ),
        sa.ForeignKeyConstraint(
            ["old_grid_id"], ["grid.id"], name=op.f("fk_grid_lineage_old_grid_id_grid")
        ),
        sa.PrimaryKeyConstraint("old_grid_id", "new_grid_id", name=op.f("pk_grid_lineage")),
    )
    op.create_table(
        "grid_worker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("on_duty", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("max_open_tasks", sa.Integer(), server_default=sa.text("20"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_grid_worker_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_worker")),
        sa.UniqueConstraint("user_id", name=op.f("uq_grid_worker_user_id")),
    )
    op.create_geospatial_table(
        "road_node",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("h3_cell", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_road_node_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f("ck_road_node_geom_lonlat_range"),
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_road_node_grid_id_grid"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_node")),
    )
    op.create_geospatial_index(
        "idx_road_node_geom",
        "road_node",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_road_node_grid_id"), "road_node", ["grid_id"], unique=False)
    op.create_index(op.f("ix_road_node_h3_cell"), "road_node", ["h3_cell"], unique=False)
    op.create_table(
        "grid_assignment",
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.CheckConstraint("role IN ('primary', 'backup')", name=op.f("ck_grid_assignment_role")),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_grid_assignment_grid_id_grid")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["grid_worker.id"], name=op.f("fk_grid_assignment_worker_id_grid_worker")
        ),
        sa.PrimaryKeyConstraint("worker_id", "grid_id", name=op.f("pk_grid_assignment")),
    )
    op.create_index(
        "uq_grid_assignment_primary",
        "grid_assignment",
        ["grid_id"],
        unique=True,
        postgresql_where="role = 'primary'",
    )
    op.create_table(
        "household",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.SmallInteger(), nullable=False),
        sa.Column("room", sa.String(length=16), nullable=False),
        sa.Column("size", sa.SmallInteger(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("h3_cell", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("size BETWEEN 0 AND 30", name=op.f("ck_household_size")),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_household_building_id_building"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_household_grid_id_grid"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household")),
        sa.UniqueConstraint(
            "building_id", "unit", "room", name=op.f("uq_household_building_id_unit_room")
        ),
    )
    op.create_index(op.f("ix_household_building_id"), "household", ["building_id"], unique=False)
    op.create_index(op.f("ix_household_grid_id"), "household", ["grid_id"], unique=False)
    op.create_index(op.f("ix_household_h3_cell"), "household", ["h3_cell"], unique=False)
    op.create_geospatial_table(
        "incident",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("category_code", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("h3_cell", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "source IN ('patrol', 'resident_app', 'hotline_12345')", name=op.f("ck_incident_source")
        ),
        sa.CheckConstraint(
            "state IN ('reported', 'registered', 'dispatched', 'in_progress', 'resolved', 'verified', 'closed', 'rated', 'rejected', 'returned', 'escalated')",
            name=op.f("ck_incident_state"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_incident_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f("ck_incident_geom_lonlat_range"),
        ),
        sa.CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5", name=op.f("ck_incident_rating")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["grid_worker.id"], name=op.f("fk_incident_assignee_id_grid_worker")
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["incident_category.code"],
            name=op.f("fk_incident_category_code_incident_category"),
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_incident_grid_id_grid"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["app_user.id"], name=op.f("fk_incident_reporter_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_geospatial_index(
        "idx_incident_geom",
        "incident",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_incident_assignee_id"), "incident", ["assignee_id"], unique=False)
    op.create_index(op.f("ix_incident_category_code"), "incident", ["category_code"], unique=False)
    op.create_index(op.f("ix_incident_grid_id"), "incident", ["grid_id"], unique=False)
    op.create_index(op.f("ix_incident_h3_cell"), "incident", ["h3_cell"], unique=False)
    op.create_index(op.f("ix_incident_reported_at"), "incident", ["reported_at"], unique=False)
    op.create_index(op.f("ix_incident_state"), "incident", ["state"], unique=False)
    op.create_geospatial_table(
        "road_edge",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("road_class", sa.String(length=16), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("walkable", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("drivable", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("oneway", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("walk_speed_mps", sa.Float(), nullable=False),
        sa.Column("drive_speed_kmh", sa.Float(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "road_class IN ('arterial', 'branch', 'lane', 'footway')",
            name=op.f("ck_road_edge_road_class"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_road_edge_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f("ck_road_edge_geom_lonlat_range"),
        ),
        sa.CheckConstraint("length_m >= 0", name=op.f("ck_road_edge_length")),
        sa.CheckConstraint("walk_speed_mps > 0", name=op.f("ck_road_edge_walk_speed")),
        sa.ForeignKeyConstraint(
            ["source"], ["road_node.id"], name=op.f("fk_road_edge_source_road_node")
        ),
        sa.ForeignKeyConstraint(
            ["target"], ["road_node.id"], name=op.f("fk_road_edge_target_road_node")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_edge")),
    )
    op.create_geospatial_index(
        "idx_road_edge_geom",
        "road_edge",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_road_edge_source"), "road_edge", ["source"], unique=False)
    op.create_index(op.f("ix_road_edge_target"), "road_edge", ["target"], unique=False)
    op.create_geospatial_table(
        "shelter",
        sa.Column("facility_id", sa.BigInteger(), nullable=False),
        sa.Column("shelter_class", sa.String(length=16), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column("occupancy", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_open", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "zone",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.CheckConstraint(
            "shelter_class IN ('emergency', 'fixed', 'central')", name=op.f("ck_shelter_class")
        ),
        sa.CheckConstraint("ST_IsValid(zone)", name=op.f("ck_shelter_zone_valid")),
        sa.CheckConstraint(
            "ST_XMin(zone) >= -180 AND ST_XMax(zone) <= 180 AND ST_YMin(zone) >= -90 AND ST_YMax(zone) <= 90",
            name=op.f("ck_shelter_zone_lonlat_range"),
        ),
        sa.CheckConstraint("occupancy >= 0", name=op.f("ck_shelter_occupancy")),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_shelter_facility_id_facility"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("facility_id", name=op.f("pk_shelter")),
    )
    op.create_geospatial_index(
        "idx_shelter_zone",
        "shelter",
        ["zone"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "incident_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "to_state IN ('reported', 'registered', 'dispatched', 'in_progress', 'resolved', 'verified', 'closed', 'rated', 'rejected', 'returned', 'escalated')",
            name=op.f("ck_incident_event_to_state"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_event_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_event")),
    )
    op.create_index(
        op.f("ix_incident_event_incident_id"), "incident_event", ["incident_id"], unique=False
    )
    op.create_table(
        "resident",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("birth_year", sa.SmallInteger(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column(
            "living_alone_elderly", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "mobility_impaired", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("low_income", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint("sex IN ('M', 'F')", name=op.f("ck_resident_sex")),
        sa.CheckConstraint("birth_year BETWEEN 1890 AND 2100", name=op.f("ck_resident_birth_year")),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_resident_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident")),
    )
    op.create_index(op.f("ix_resident_household_id"), "resident", ["household_id"], unique=False)
    op.create_table(
        "resident_identity",
        sa.Column("resident_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.CheckConstraint(
            "id_number ~ '^[0-9]{17}[0-9X]$'", name=op.f("ck_resident_identity_id_number_format")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
            name=op.f("fk_resident_identity_resident_id_resident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_resident_identity")),
        sa.UniqueConstraint("id_number", name=op.f("uq_resident_identity_id_number")),
    )


def downgrade() -> None:
    op.drop_table("resident_identity")
    op.drop_index(op.f("ix_resident_household_id"), table_name="resident")
    op.drop_table("resident")
    op.drop_index(op.f("ix_incident_event_incident_id"), table_name="incident_event")
    op.drop_table("incident_event")
    op.drop_geospatial_index(
        "idx_shelter_zone", table_name="shelter", postgresql_using="gist", column_name="zone"
    )
    op.drop_geospatial_table("shelter")
    op.drop_index(op.f("ix_road_edge_target"), table_name="road_edge")
    op.drop_index(op.f("ix_road_edge_source"), table_name="road_edge")
    op.drop_geospatial_index(
        "idx_road_edge_geom", table_name="road_edge", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("road_edge")
    op.drop_index(op.f("ix_incident_state"), table_name="incident")
    op.drop_index(op.f("ix_incident_reported_at"), table_name="incident")
    op.drop_index(op.f("ix_incident_h3_cell"), table_name="incident")
    op.drop_index(op.f("ix_incident_grid_id"), table_name="incident")
    op.drop_index(op.f("ix_incident_category_code"), table_name="incident")
    op.drop_index(op.f("ix_incident_assignee_id"), table_name="incident")
    op.drop_geospatial_index(
        "idx_incident_geom", table_name="incident", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("incident")
    op.drop_index(op.f("ix_household_h3_cell"), table_name="household")
    op.drop_index(op.f("ix_household_grid_id"), table_name="household")
    op.drop_index(op.f("ix_household_building_id"), table_name="household")
    op.drop_table("household")
    op.drop_index(
        "uq_grid_assignment_primary",
        table_name="grid_assignment",
        postgresql_where="role = 'primary'",
    )
    op.drop_table("grid_assignment")
    op.drop_index(op.f("ix_road_node_h3_cell"), table_name="road_node")
    op.drop_index(op.f("ix_road_node_grid_id"), table_name="road_node")
    op.drop_geospatial_index(
        "idx_road_node_geom", table_name="road_node", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("road_node")
    op.drop_table("grid_worker")
    op.drop_table("grid_lineage")
    op.drop_index(op.f("ix_facility_kind"), table_name="facility")
    op.drop_index(op.f("ix_facility_h3_cell"), table_name="facility")
    op.drop_index(op.f("ix_facility_grid_id"), table_name="facility")
    op.drop_geospatial_index(
        "idx_facility_geom", table_name="facility", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("facility")
    op.drop_index(op.f("ix_building_h3_cell"), table_name="building")
    op.drop_index(op.f("ix_building_grid_id"), table_name="building")
    op.drop_index(op.f("ix_building_estate_id"), table_name="building")
    op.drop_geospatial_index(
        "idx_building_geom", table_name="building", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("building")
    op.drop_index("uq_grid_current_code", table_name="grid", postgresql_where="valid_to IS NULL")
    op.drop_index(op.f("ix_grid_community_id"), table_name="grid")
    op.drop_geospatial_index(
        "idx_grid_geom", table_name="grid", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("grid")
    op.drop_index(op.f("ix_app_user_area_id"), table_name="app_user")
    op.drop_table("app_user")
    op.drop_table("incident_category")
    op.drop_geospatial_index(
        "idx_hazard_area_geom",
        table_name="hazard_area",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("hazard_area")
    op.drop_index(op.f("ix_audit_log_username"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_admin_area_parent_id"), table_name="admin_area")
    op.drop_index(op.f("ix_admin_area_level"), table_name="admin_area")
    op.drop_geospatial_index(
        "idx_admin_area_geom", table_name="admin_area", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("admin_area")
