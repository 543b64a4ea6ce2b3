"""The server's periodic jobs, run once per interval by whichever server claims them.

``job_run`` holds one row per periodic job (the reminder / 督办 job, the retention):
when its last run started and finished, which server ran it, and up to when its last
successful run covered (``covered_until``: the next run's "since", so that a reminder
that fell due is sent once whatever server runs next, and none is lost when a server
stops).  Several app servers behind one address claim the row with one conditional
``UPDATE`` (:mod:`gis.store.job_store`): one of them runs the job, the others skip it.

Revision ID: 0029
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_run",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("covered_until", sa.DateTime(timezone=True)),
        sa.Column("holder", sa.Text()),
        sa.Column("runs", sa.BigInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("job_run")
