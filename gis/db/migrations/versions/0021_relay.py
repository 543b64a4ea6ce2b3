"""The relay: each outbox message's delivery to the broker, recorded, and a dedupe key.

``outbox`` gains what the relay (:mod:`api.services.relay`) records per message — how
many times it tried (``attempts``), when it last did, the last error, when it may try
again — a ``message_id`` the consumers behind the broker dedupe on, and ``dedupe_key``
(unique when set), so that the same alert sent twice for the same hazard and group is
not queued, so not delivered, twice.  A partial index keeps the pending rows quick to
claim.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column(
            "message_id",
            sa.Uuid(),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
    )
    op.add_column(
        "outbox",
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("outbox", sa.Column("last_attempt_at", sa.DateTime(timezone=True)))
    op.add_column("outbox", sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
    op.add_column("outbox", sa.Column("last_error", sa.Text()))
    op.add_column("outbox", sa.Column("dedupe_key", sa.Text()))
    op.create_unique_constraint(op.f("uq_outbox_message_id"), "outbox", ["message_id"])
    op.create_index(
        "ux_outbox_dedupe_key",
        "outbox",
        ["dedupe_key"],
        unique=True,
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["id"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_index("ux_outbox_dedupe_key", table_name="outbox")
    op.drop_constraint(op.f("uq_outbox_message_id"), "outbox", type_="unique")
    for column in (
        "dedupe_key",
        "last_error",
        "next_attempt_at",
        "last_attempt_at",
        "attempts",
        "message_id",
    ):
        op.drop_column("outbox", column)
