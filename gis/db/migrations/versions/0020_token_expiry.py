"""Bearer tokens that end: every token has an end (at most 89 days), and can be revoked.

* ``api_token.revoked_at``: set by ``wangge users revoke-tokens NAME``, by rotating a
  user's tokens (``wangge users token NAME --rotate``) and by disabling the account; a
  revoked token never works again, even after the account is enabled.
* ``api_token.expires_at`` becomes required: a token issued without an end gets one
  30 days after it was made (the new default of ``WANGGE_TOKEN_DAYS``), and none ends
  more than 89 days after it was made.

``api_token`` has a data version (0011), so a revocation is seen by the next request
of every server process.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_token", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE api_token SET expires_at = created_at + interval '30 days' WHERE expires_at IS NULL"
    )
    op.execute(
        "UPDATE api_token SET expires_at = created_at + interval '89 days' "
        "WHERE expires_at > created_at + interval '89 days'"
    )
    op.alter_column("api_token", "expires_at", nullable=False)


def downgrade() -> None:
    op.alter_column("api_token", "expires_at", nullable=True)
    op.drop_column("api_token", "revoked_at")
