"""Reminders to a case's reporter (办理提醒) through the outbox, readable by that reporter.

``outbox.incident_id`` names the case a reminder is about (NULL for the hazard alerts):
when a resident's case moves (受理, 已派给网格员, 处理中, 已办结 …), the step writes one
plain-Chinese message to the outbox in its own transaction (:mod:`api.services.reminders`),
for the relay to deliver and the reporter's pages to show.

Row security of the outbox (0022) grows by the case: a message about a case is visible to
whoever sees the case (its reporter, the staff of its grid, its worker), and may be written
by whoever moves it (a grid worker on the tablet is not staff, yet their step reminds the
reporter).  The hazard alerts' rule is unchanged.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

S = "(SELECT wangge_sees_all())"
R = "(SELECT wangge_role())"
STAFF = f"{R} IN ('community_staff', 'street_staff', 'admin')"
ALERT = "EXISTS (SELECT 1 FROM alert_recipient p WHERE p.id = outbox.alert_recipient_id)"
CASE = "EXISTS (SELECT 1 FROM incident p WHERE p.id = outbox.incident_id)"
OLD = (f"({S} OR {ALERT})", f"({S} OR {STAFF})")
NEW = (f"({S} OR {ALERT} OR {CASE})", f"({S} OR {STAFF} OR {CASE})")


def _policies(using: str, insert: str) -> None:
    for command in ("SELECT", "UPDATE", "DELETE"):
        op.execute(f"DROP POLICY IF EXISTS wangge_{command.lower()} ON outbox")
        op.execute(f"CREATE POLICY wangge_{command.lower()} ON outbox FOR {command} USING {using}")
    op.execute("DROP POLICY IF EXISTS wangge_insert ON outbox")
    op.execute(f"CREATE POLICY wangge_insert ON outbox FOR INSERT WITH CHECK {insert}")


def upgrade() -> None:
    op.add_column("outbox", sa.Column("incident_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_outbox_incident_id_incident"),
        "outbox",
        "incident",
        ["incident_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index(op.f("ix_outbox_incident_id"), "outbox", ["incident_id"])
    # a resident's reminders are found through the cases they reported
    op.create_index(op.f("ix_incident_reporter_id"), "incident", ["reporter_id"])
    _policies(*NEW)


def downgrade() -> None:
    _policies(*OLD)
    op.drop_index(op.f("ix_incident_reporter_id"), table_name="incident")
    op.drop_index(op.f("ix_outbox_incident_id"), table_name="outbox")
    op.drop_constraint(op.f("fk_outbox_incident_id_incident"), "outbox", type_="foreignkey")
    op.drop_column("outbox", "incident_id")
