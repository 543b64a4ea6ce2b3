"""Many offices in one deployment: an office's own ids are unique within the office.

A street office's register numbers its households, residents, buildings and facilities
its own way (户编号 ``H0001`` …); two offices of one deployment may well use the same.
``ref`` was unique across the table, so the second office's import matched (and
changed) the first office's records, and its ``--replace`` removed them.

Now each of those records names the office whose register it came from (``office_id``,
an admin area, set by ``wangge import … --area CODE``), and ``ref`` is unique within it:
``uq_<table>_office_id_ref`` for records of an office, ``uq_<table>_ref`` (the old name,
now partial) for records of none — a deployment's one office, which imports without
``--area`` as before, and OpenStreetMap's ``osm:w123``, which are one world's ids.

Revision ID: 0033
Revises: 0032
"""

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

TABLES = ("building", "household", "resident", "facility")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("office_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_{table}_office_id_admin_area"),
            table,
            "admin_area",
            ["office_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        op.drop_constraint(f"uq_{table}_ref", table, type_="unique")
        op.create_index(
            f"uq_{table}_ref",
            table,
            ["ref"],
            unique=True,
            postgresql_where=sa.text("office_id IS NULL"),
        )
        op.create_index(
            f"uq_{table}_office_id_ref",
            table,
            ["office_id", "ref"],
            unique=True,
            postgresql_where=sa.text("office_id IS NOT NULL"),
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"uq_{table}_office_id_ref", table_name=table)
        op.drop_index(f"uq_{table}_ref", table_name=table)
        # refs repeated across offices cannot be unique again: refused here, not lost
        op.create_unique_constraint(f"uq_{table}_ref", table, ["ref"])
        op.drop_constraint(op.f(f"fk_{table}_office_id_admin_area"), table, type_="foreignkey")
        op.drop_column(table, "office_id")
