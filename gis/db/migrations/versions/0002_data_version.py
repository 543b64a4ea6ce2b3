"""Data versions: a counter per table bumped by statement triggers, for cache invalidation.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VERSIONED = ("grid", "road_node", "road_edge", "facility", "shelter", "building", "household")


def upgrade() -> None:
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
        op.execute(f"INSERT INTO data_version (table_name, version) VALUES ('{table}', 0)")
        op.execute(
            f"CREATE TRIGGER {table}_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION wangge_bump_data_version()"
        )


def downgrade() -> None:
    for table in VERSIONED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_data_version ON {table}")
    op.execute("DROP FUNCTION IF EXISTS wangge_bump_data_version()")
    op.drop_table("data_version")
