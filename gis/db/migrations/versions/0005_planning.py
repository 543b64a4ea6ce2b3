"""Facility planning: saved scenarios (规划方案) and their added / removed sites.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import geoalchemy2

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FACILITY_KINDS = ("clinic", "elder_care", "park", "school", "community_centre", "shelter")


def upgrade() -> None:
    kinds = ", ".join(f"'{k}'" for k in FACILITY_KINDS)
    op.create_table(
        "plan_scenario",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(f"kind IN ({kinds})", name=op.f("ck_plan_scenario_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_scenario")),
        sa.UniqueConstraint("name", name=op.f("uq_plan_scenario_name")),
    )
    op.create_table(
        "plan_site",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("facility_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT", srid=4326, spatial_index=False, from_text="ST_GeomFromEWKT"
            ),
            nullable=True,
        ),
        sa.CheckConstraint("action IN ('add', 'remove')", name=op.f("ck_plan_site_action")),
        sa.CheckConstraint(
            "(action = 'add' AND geom IS NOT NULL) "
            "OR (action = 'remove' AND facility_id IS NOT NULL)",
            name=op.f("ck_plan_site_what"),
        ),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name=op.f("ck_plan_site_capacity")),
        sa.CheckConstraint("cost IS NULL OR cost >= 0", name=op.f("ck_plan_site_cost")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_plan_site_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 "
            "AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f("ck_plan_site_geom_lonlat_range"),
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["plan_scenario.id"],
            name=op.f("fk_plan_site_scenario_id_plan_scenario"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_plan_site_facility_id_facility"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_site")),
    )
    op.create_index(op.f("ix_plan_site_scenario_id"), "plan_site", ["scenario_id"], unique=False)
    op.create_index(
        "idx_plan_site_geom", "plan_site", ["geom"], unique=False, postgresql_using="gist"
    )


def downgrade() -> None:
    op.drop_index("idx_plan_site_geom", table_name="plan_site", postgresql_using="gist")
    op.drop_index(op.f("ix_plan_site_scenario_id"), table_name="plan_site")
    op.drop_table("plan_site")
    op.drop_table("plan_scenario")
