"""The registry desk: a household's history (迁入, 迁出, 标记) and trigram indexes for its search.

* ``household_history``: every change made to a household from the registry desk — a
  resident moved in or out, a resident's vulnerability flags changed — with who, when
  and what (personal data only masked).  Rows are appended, never changed.
* ``pg_trgm`` GIN indexes on what the desk searches by substring: households' address and
  number (户编号), buildings' name and address, residents' name and phone.  A search of
  the caller's area then reads index hits, not every row of the district.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: (index name, table, column) of the trigram indexes.
TRIGRAM_INDEXES = (
    ("ix_household_address_trgm", "household", "address"),
    ("ix_household_ref_trgm", "household", "ref"),
    ("ix_building_name_trgm", "building", "name"),
    ("ix_building_address_trgm", "building", "address"),
    ("ix_resident_identity_name_trgm", "resident_identity", "name"),
    ("ix_resident_identity_phone_trgm", "resident_identity", "phone"),
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "household_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("resident_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "action IN ('move_in', 'move_out', 'flags')", name=op.f("ck_household_history_action")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_household_history_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_history")),
    )
    op.create_index(
        "ix_household_history_household_at", "household_history", ["household_id", "at"]
    )
    for name, table, column in TRIGRAM_INDEXES:
        op.create_index(
            name,
            table,
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    for name, table, _ in TRIGRAM_INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_index("ix_household_history_household_at", table_name="household_history")
    op.drop_table("household_history")
