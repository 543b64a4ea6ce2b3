"""Data versions as sequences for every versioned table, not rows of ``data_version``.

A row per table bumped by a statement trigger makes every writer of that table queue
on the row's lock until it commits, and leaves a chain of dead row versions behind a
burst of writes; a sequence moves without locks or dead rows.  Incidents (0004) were
first; the other versioned tables follow, and the ``data_version`` table goes.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

VERSIONED = ("grid", "road_node", "road_edge", "facility", "shelter", "building", "household")


def upgrade() -> None:
    for table in VERSIONED:
        op.execute(f"CREATE SEQUENCE {table}_data_version_seq")
        op.execute(f"DROP TRIGGER {table}_data_version ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION wangge_bump_sequence('{table}_data_version_seq')"
        )
    op.execute("DROP FUNCTION wangge_bump_data_version()")
    op.drop_table("data_version")


def downgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_data_version")),
    )
    op.execute("""
        CREATE FUNCTION wangge_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO data_version (table_name, version) VALUES (TG_TABLE_NAME, 1)
            ON CONFLICT (table_name)
            DO UPDATE SET version = data_version.version + 1;
            RETURN NULL;
        END $$""")
    for table in VERSIONED:
        op.execute(f"DROP TRIGGER {table}_data_version ON {table}")
        op.execute(f"DROP SEQUENCE {table}_data_version_seq")
        op.execute(f"INSERT INTO data_version (table_name, version) VALUES ('{table}', 0)")
        op.execute(
            f"CREATE TRIGGER {table}_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION wangge_bump_data_version()"
        )
