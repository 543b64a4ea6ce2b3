"""Which hazard alerts a resident has seen: ``alert_seen``, so that alerts count as unread.

``/r/notices`` shows the alerts sent to the resident's household first; the unread count
there now counts those not yet seen (知道了) as well as the notices not yet opened.
Row-level security as ``notice_read``'s own rows (migration 0026): a user's seen marks
are theirs (and the system's); staff have no use for them.

Revision ID: 0030
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

OWN = "((SELECT wangge_sees_all()) OR alert_seen.user_id = (SELECT wangge_user_id()))"


def upgrade() -> None:
    op.create_table(
        "alert_seen",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
            name=op.f("fk_alert_seen_alert_id_alert"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_alert_seen_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", "user_id", name=op.f("pk_alert_seen")),
    )
    op.create_index(op.f("ix_alert_seen_user_id"), "alert_seen", ["user_id"])
    op.execute("ALTER TABLE alert_seen ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY wangge_rows ON alert_seen USING {OWN} WITH CHECK {OWN}")


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS wangge_rows ON alert_seen")
    op.drop_index(op.f("ix_alert_seen_user_id"), table_name="alert_seen")
    op.drop_table("alert_seen")
