"""An incident's key at its source (the 12345 case number, or a digest of its CSV row).

A hotline export sent again, or the next day's export that repeats yesterday's rows,
must not file a case twice: each row's key is stored with the incident it became, unique
per source, and a row whose key is already stored is answered with that incident.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incident", sa.Column("source_ref", sa.String(length=100), nullable=True))
    op.create_unique_constraint(
        op.f("uq_incident_source_source_ref"), "incident", ["source", "source_ref"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("uq_incident_source_source_ref"), "incident", type_="unique")
    op.drop_column("incident", "source_ref")
