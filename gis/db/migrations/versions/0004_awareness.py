"""Situational awareness: alerts and their recipients, the outbox, worker positions, and
a NOTIFY on every incident change so the live map hears it whichever path made it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from geoalchemy2 import Geometry

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: At most this many rows changed by one statement are announced one by one; a bigger
#: statement (a bulk load) sends one ``{"op": "bulk"}`` message instead, so a load of a
#: hundred thousand incidents does not flood the listeners (or the notify queue).
NOTIFY_ROWS_MAX = 200


BUMP_SEQUENCE_FUNCTION = """
CREATE FUNCTION wangge_bump_sequence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval(TG_ARGV[0]::regclass);
    RETURN NULL;
END $$
"""

NOTIFY_FUNCTION = f"""
CREATE FUNCTION wangge_notify_incident_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    r record;
BEGIN
    SELECT count(*) INTO n FROM changed_rows;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    IF n > {NOTIFY_ROWS_MAX} THEN
        PERFORM pg_notify('incident_changed',
            json_build_object('op', 'bulk', 'count', n)::text);
        RETURN NULL;
    END IF;
    FOR r IN SELECT * FROM changed_rows LOOP
        PERFORM pg_notify('incident_changed', json_build_object(
            'op', lower(TG_OP), 'id', r.id, 'state', r.state,
            'category_code', r.category_code, 'source', r.source,
            'grid_id', r.grid_id, 'h3_cell', r.h3_cell::text,
            'lon', ST_X(r.geom), 'lat', ST_Y(r.geom),
            'reported_at', r.reported_at, 'deadline', r.deadline)::text);
    END LOOP;
    RETURN NULL;
END $$
"""


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
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("target_group", sa.String(length=24), nullable=False),
        sa.Column(
            "channel", sa.String(length=16), server_default=sa.text("'outbox'"), nullable=False
        ),
        sa.CheckConstraint(
            "target_group IN ('all', 'vulnerable', 'elderly_alone', 'disabled', "
            "'mobility_impaired', 'children')",
            name=op.f("ck_alert_target_group"),
        ),
        sa.CheckConstraint("channel IN ('outbox', 'sms', 'wechat')", name=op.f("ck_alert_channel")),
        sa.ForeignKeyConstraint(
            ["hazard_id"],
            ["hazard_area.id"],
            name=op.f("fk_alert_hazard_id_hazard_area"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    op.create_index(op.f("ix_alert_hazard_id"), "alert", ["hazard_id"], unique=False)

    op.create_table(
        "alert_recipient",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("resident_id", sa.BigInteger(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("shelter_id", sa.BigInteger(), nullable=True),
        sa.Column("walk_s", sa.Float(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
            name=op.f("fk_alert_recipient_alert_id_alert"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_alert_recipient_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
            name=op.f("fk_alert_recipient_resident_id_resident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grid.id"],
            name=op.f("fk_alert_recipient_grid_id_grid"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shelter_id"],
            ["facility.id"],
            name=op.f("fk_alert_recipient_shelter_id_facility"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_recipient")),
    )
    op.create_index(
        op.f("ix_alert_recipient_alert_id"), "alert_recipient", ["alert_id"], unique=False
    )
    op.create_index(
        op.f("ix_alert_recipient_household_id"), "alert_recipient", ["household_id"], unique=False
    )
    op.create_index(
        op.f("ix_alert_recipient_grid_id"), "alert_recipient", ["grid_id"], unique=False
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("alert_recipient_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False
        ),
        sa.CheckConstraint(
            "channel IN ('outbox', 'sms', 'wechat')", name=op.f("ck_outbox_channel")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_outbox_status")
        ),
        sa.ForeignKeyConstraint(
            ["alert_recipient_id"],
            ["alert_recipient.id"],
            name=op.f("fk_outbox_alert_recipient_id_alert_recipient"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        op.f("ix_outbox_alert_recipient_id"), "outbox", ["alert_recipient_id"], unique=False
    )

    op.create_geospatial_table(
        "worker_position",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
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
        *_geometry_checks("worker_position"),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["grid_worker.id"],
            name=op.f("fk_worker_position_worker_id_grid_worker"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_position")),
    )
    op.create_geospatial_index(
        "idx_worker_position_geom",
        "worker_position",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_worker_position_worker_id_at", "worker_position", ["worker_id", "at"], unique=False
    )

    # every incident change, whichever path made it (API, CLI, load, psql), is announced
    # on channel 'incident_changed'; a trigger with transition tables serves one event
    op.execute(NOTIFY_FUNCTION)
    # caches of incident aggregates (the live map's cube) rebuild when this moves.  Not a
    # data_version row: incidents are written hundreds of times a second in a burst, and
    # every writer would queue on that one row's lock until its commit (and leave a long
    # chain of dead row versions); a sequence moves without locks or dead rows.
    op.execute("CREATE SEQUENCE incident_data_version_seq")
    op.execute(BUMP_SEQUENCE_FUNCTION)
    op.execute(
        "CREATE TRIGGER incident_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON incident FOR EACH STATEMENT "
        "EXECUTE FUNCTION wangge_bump_sequence('incident_data_version_seq')"
    )
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER incident_notify_{event.lower()} AFTER {event} ON incident "
            "REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION wangge_notify_incident_changed()"
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS incident_data_version ON incident")
    op.execute("DROP FUNCTION IF EXISTS wangge_bump_sequence()")
    op.execute("DROP SEQUENCE IF EXISTS incident_data_version_seq")
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS incident_notify_{event} ON incident")
    op.execute("DROP FUNCTION IF EXISTS wangge_notify_incident_changed()")
    op.drop_index("ix_worker_position_worker_id_at", table_name="worker_position")
    op.drop_geospatial_index(
        "idx_worker_position_geom",
        table_name="worker_position",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("worker_position")
    op.drop_index(op.f("ix_outbox_alert_recipient_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_alert_recipient_grid_id"), table_name="alert_recipient")
    op.drop_index(op.f("ix_alert_recipient_household_id"), table_name="alert_recipient")
    op.drop_index(op.f("ix_alert_recipient_alert_id"), table_name="alert_recipient")
    op.drop_table("alert_recipient")
    op.drop_index(op.f("ix_alert_hazard_id"), table_name="alert")
    op.drop_table("alert")
