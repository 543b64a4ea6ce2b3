"""Browser sessions, failed sign-ins and disabled accounts, for the staff desk's sign-in page.

Pages authenticate by a session cookie (the JSON API keeps bearer tokens): a session is
stored only as the SHA-256 of its id, with its user, when it began, was last seen and
ends, and when it was revoked.  Failed sign-ins are kept to slow down and lock out
password guessing per user name and per address.  An account can be disabled.

``app_session`` gets a data version like the tables of 0011, so a revoked session stops
working on the next request in every server process; its trigger leaves out updates of
``last_seen_at`` alone, which happen on every minute of use and change nobody's access.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "app_session",
        sa.Column("id_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_app_session_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_sha256", name=op.f("pk_app_session")),
    )
    op.create_index(op.f("ix_app_session_user_id"), "app_session", ["user_id"], unique=False)
    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failure")),
    )
    op.create_index("ix_sign_in_failure_username_at", "sign_in_failure", ["username", "at"])
    op.create_index("ix_sign_in_failure_address_at", "sign_in_failure", ["address", "at"])
    op.execute("CREATE SEQUENCE app_session_data_version_seq")
    op.execute(
        "CREATE TRIGGER app_session_data_version "
        "AFTER INSERT OR UPDATE OF user_id, expires_at, revoked_at OR DELETE OR TRUNCATE "
        "ON app_session FOR EACH STATEMENT "
        "EXECUTE FUNCTION wangge_bump_sequence('app_session_data_version_seq')"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER app_session_data_version ON app_session")
    op.execute("DROP SEQUENCE app_session_data_version_seq")
    op.drop_index("ix_sign_in_failure_address_at", table_name="sign_in_failure")
    op.drop_index("ix_sign_in_failure_username_at", table_name="sign_in_failure")
    op.drop_table("sign_in_failure")
    op.drop_index(op.f("ix_app_session_user_id"), table_name="app_session")
    op.drop_table("app_session")
    op.drop_column("app_user", "disabled_at")
