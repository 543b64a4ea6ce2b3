"""Incident intake and access: photos, reporter contact, check-ins, duplicate links, API tokens.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import geoalchemy2

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _geometry_checks(table: str) -> list[sa.CheckConstraint]:
    return [
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f(f"ck_{table}_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 "
            "AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f(f"ck_{table}_geom_lonlat_range"),
        ),
    ]


def upgrade() -> None:
    op.add_column(
        "incident",
        sa.Column("near_boundary", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("incident", sa.Column("duplicate_of", sa.BigInteger(), nullable=True))
    op.add_column("incident", sa.Column("merged_into", sa.BigInteger(), nullable=True))
    op.add_column("incident", sa.Column("public_token_sha256", sa.String(length=64), nullable=True))
    op.add_column("incident", sa.Column("address", sa.Text(), nullable=True))
    for column in ("duplicate_of", "merged_into"):
        op.create_foreign_key(
            op.f(f"fk_incident_{column}_incident"),
            "incident",
            "incident",
            [column],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_unique_constraint(
        op.f("uq_incident_public_token_sha256"), "incident", ["public_token_sha256"]
    )

    op.create_table(
        "incident_photo",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column(
            "uploaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("uploaded_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_incident_photo_sha256_hex")),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_incident_photo_size")),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_photo_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_photo")),
        sa.UniqueConstraint(
            "incident_id", "sha256", name=op.f("uq_incident_photo_incident_id_sha256")
        ),
    )
    op.create_index(
        op.f("ix_incident_photo_incident_id"), "incident_photo", ["incident_id"], unique=False
    )

    op.create_table(
        "incident_contact",
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_contact_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_contact")),
    )

    op.create_table(
        "incident_checkin",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT", srid=4326, spatial_index=False, from_text="ST_GeomFromEWKT"
            ),
            nullable=False,
        ),
        *_geometry_checks("incident_checkin"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_checkin_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["grid_worker.id"],
            name=op.f("fk_incident_checkin_worker_id_grid_worker"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_checkin")),
    )
    op.create_index(
        op.f("ix_incident_checkin_incident_id"), "incident_checkin", ["incident_id"], unique=False
    )
    op.create_index(
        op.f("ix_incident_checkin_worker_id"), "incident_checkin", ["worker_id"], unique=False
    )
    op.create_index(
        "idx_incident_checkin_geom",
        "incident_checkin",
        ["geom"],
        unique=False,
        postgresql_using="gist",
    )

    op.create_table(
        "api_token",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_api_token_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_api_token")),
    )
    op.create_index(op.f("ix_api_token_user_id"), "api_token", ["user_id"], unique=False)
    # duplicate search: same category, recent, nearby
    op.create_index(
        "ix_incident_category_code_reported_at", "incident", ["category_code", "reported_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_incident_category_code_reported_at", table_name="incident")
    op.drop_table("api_token")
    op.drop_table("incident_checkin")
    op.drop_table("incident_contact")
    op.drop_table("incident_photo")
    op.drop_constraint(op.f("uq_incident_public_token_sha256"), "incident", type_="unique")
    for column in ("merged_into", "duplicate_of"):
        op.drop_constraint(op.f(f"fk_incident_{column}_incident"), "incident", type_="foreignkey")
    for column in (
        "address",
        "public_token_sha256",
        "merged_into",
        "duplicate_of",
        "near_boundary",
    ):
        op.drop_column("incident", column)
