"""The office's own ids and addresses on the registers.

A street office imports its buildings, households, residents and facilities from its
own files (``wangge import``); a re-import must find each record again by the office's
own id (户编号, 楼栋编号 …), so every register gets ``ref`` (unique where present).
Buildings and households keep their address as written (for matching households to
buildings), residents their relation to the head of household (与户主关系), facilities
their address and, from OpenStreetMap, the tag that decided their kind.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = {
    "building": ("ref", "address"),
    "household": ("ref", "address"),
    "resident": ("ref", "relation"),
    "facility": ("ref", "address", "source_tag"),
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in columns:
            op.add_column(table, sa.Column(column, sa.Text(), nullable=True))
        op.create_unique_constraint(f"uq_{table}_ref", table, ["ref"])


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        op.drop_constraint(f"uq_{table}_ref", table, type_="unique")
        for column in columns:
            op.drop_column(table, column)
