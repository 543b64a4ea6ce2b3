"""Indexes on the incidents' links to another incident (``duplicate_of``, ``merged_into``).

Both are ``ON DELETE SET NULL``: deleting an incident makes PostgreSQL look for the
incidents that name it, and without an index that is a scan of the whole table for each
incident deleted.  ``wangge demo --area`` (and ``load --area --replace``) deletes an
area's incidents: 6,000 of them beside 54,000 others took 30 s in these two checks alone,
a few milliseconds with the indexes.  Partial (``IS NOT NULL``): few cases are linked,
so the indexes stay tiny and cost nothing on the insert path.

Revision ID: 0035
Revises: 0034
"""

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

COLUMNS = ("duplicate_of", "merged_into")


def upgrade() -> None:
    for column in COLUMNS:
        op.create_index(
            f"ix_incident_{column}",
            "incident",
            [column],
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f"ix_incident_{column}", table_name="incident")
