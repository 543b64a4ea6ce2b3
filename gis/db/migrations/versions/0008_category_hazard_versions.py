"""Data versions for incident categories and hazards, so the caches built on them follow.

The category table was cached for a minute: a report made just after the categories
were loaded or changed was refused or given the old time limit.  Hazards change what
every shelter answer is; their version lets a cache see that at once.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

VERSIONED = ("incident_category", "hazard_area")


def upgrade() -> None:
    for table in VERSIONED:
        op.execute(f"CREATE SEQUENCE {table}_data_version_seq")
        op.execute(
            f"CREATE TRIGGER {table}_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION wangge_bump_sequence('{table}_data_version_seq')"
        )


def downgrade() -> None:
    for table in VERSIONED:
        op.execute(f"DROP TRIGGER {table}_data_version ON {table}")
        op.execute(f"DROP SEQUENCE {table}_data_version_seq")
