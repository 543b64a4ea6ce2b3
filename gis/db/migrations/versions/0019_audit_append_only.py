"""The audit log is append-only: the database refuses to change or delete a record.

A trigger on ``audit_log`` raises for every UPDATE and DELETE, whoever asks, so neither
a bug nor an account with the application's privileges can rewrite who read or changed
what.  TRUNCATE (the full reload of a district, ``wangge load --replace``, which empties
every table) stays possible for the table's owner; a deployment that must forbid it
too revokes TRUNCATE from the application's role.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION wangge_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only: % of audit_log is refused', TG_OP
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'audit records are never changed or deleted; add a new one';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION wangge_audit_append_only()"
    )
    op.execute("CREATE INDEX ix_audit_log_at ON audit_log (at)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_audit_log_at")
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION wangge_audit_append_only()")
