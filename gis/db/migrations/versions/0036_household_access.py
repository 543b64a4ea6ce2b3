"""Households' walking access stored: ``household_access`` (issue #20, the city's access).

``wangge plan access --store`` writes each household's walking minutes to the nearest
facility of a kind (exact beyond the standard too), that facility, whether it is within
the standard, the standard used and when it was computed; one run replaces the kind's
rows.  Household ids only, never a name.

Row-level security: the households' own decision.  The table carries the household's
``grid_id`` (set from the household on insert, and moved with it by a trigger, as
migration 0027 does for residents) and takes the households' policy ``wangge_rows``
as it stands when this migration runs (copied from ``pg_policies``, so that it is
the same text, and later migrations that rewrite policies find it too).

Revision ID: 0036
Revises: 0035
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

KINDS = ("clinic", "elder_care", "park", "school", "community_centre", "shelter", "pharmacy")
LO, HI = "'1900-01-01 00:00:00+00'", "'2200-01-01 00:00:00+00'"

TRIGGERS = """
CREATE FUNCTION wangge_access_grid() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    NEW.grid_id := (SELECT h.grid_id FROM household h WHERE h.id = NEW.household_id);
    RETURN NEW;
END $$;

CREATE FUNCTION wangge_household_access_moved() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE household_access a SET grid_id = n.grid_id
    FROM access_moved_new n JOIN access_moved_old o ON o.id = n.id
    WHERE a.household_id = n.id AND n.grid_id IS DISTINCT FROM o.grid_id
      AND a.grid_id IS DISTINCT FROM n.grid_id;
    RETURN NULL;
END $$;

CREATE TRIGGER wangge_access_grid_insert BEFORE INSERT ON household_access
    FOR EACH ROW WHEN (NEW.grid_id IS NULL) EXECUTE FUNCTION wangge_access_grid();
CREATE TRIGGER wangge_household_access_moved AFTER UPDATE ON household
    REFERENCING OLD TABLE AS access_moved_old NEW TABLE AS access_moved_new
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_household_access_moved();
"""


def _households_policy() -> tuple[str, str]:
    """The households' ``wangge_rows`` policy (USING, WITH CHECK) as it stands."""
    row = (
        op.get_bind()
        .execute(
            text(
                "SELECT qual, with_check FROM pg_policies WHERE schemaname = current_schema() "
                "AND tablename = 'household' AND policyname = 'wangge_rows'"
            )
        )
        .one()
    )
    return row.qual, row.with_check


def upgrade() -> None:
    kinds = ", ".join(f"'{k}'" for k in KINDS)
    op.create_table(
        "household_access",
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("minutes", sa.Float(), nullable=True),
        sa.Column("facility_id", sa.BigInteger(), nullable=True),
        sa.Column("served", sa.Boolean(), nullable=False),
        sa.Column("standard_minutes", sa.Float(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN ({kinds})", name=op.f("ck_household_access_kind")),
        sa.CheckConstraint(
            "minutes IS NULL OR minutes >= 0", name=op.f("ck_household_access_minutes")
        ),
        sa.CheckConstraint(
            "standard_minutes > 0", name=op.f("ck_household_access_standard_minutes")
        ),
        sa.CheckConstraint(
            f"computed_at >= {LO} AND computed_at < {HI}",
            name=op.f("ck_household_access_computed_at_range"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_household_access_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_household_access_facility_id_facility"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("household_id", "kind", name=op.f("pk_household_access")),
    )
    op.create_index("ix_household_access_kind_grid_id", "household_access", ["kind", "grid_id"])
    op.execute(TRIGGERS)
    using, check = _households_policy()
    op.execute("ALTER TABLE household_access ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY wangge_rows ON household_access USING ({using}) WITH CHECK ({check})"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS wangge_rows ON household_access")
    op.execute("DROP TRIGGER IF EXISTS wangge_household_access_moved ON household")
    op.execute("DROP TABLE household_access")
    op.execute("DROP FUNCTION IF EXISTS wangge_household_access_moved()")
    op.execute("DROP FUNCTION IF EXISTS wangge_access_grid()")
