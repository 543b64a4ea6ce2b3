"""Data versions for accounts, tokens, workers and assignments, so who a token is follows them.

A token's user was cached for half a minute: a disabled account, a revoked token or a
grid handed to another worker still counted until then.  With these versions the cache
sees the change on the next request.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

VERSIONED = ("app_user", "api_token", "grid_worker", "grid_assignment")


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
