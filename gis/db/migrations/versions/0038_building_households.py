"""Households per building kept by the database: ``building_households`` (住户数).

The published buildings (the ``pub_building`` view the OGC API pages, the ``buildings``
map tiles) show each building's households, counted per building at each read: 4-7 µs
a building, paid by an OGC page for every row it skips too (tipg pages by ``OFFSET``),
so a page of 1,000 buildings at offset 9,500 took 83 ms of which 70 were the counts
(2,000,000 households, 41,912 buildings). Kept here by statement-level triggers on
``household`` (inserted, deleted, moved between buildings, truncated), the count is one
index lookup: the same page takes ~30 ms.

* ``building_households``: ``building_id``, ``households`` (≥ 0; a building whose
  households all left keeps its row at 0). No foreign key: a replacing load truncates
  ``building`` and ``household`` together, and a row of a building that is gone is
  never read (the readers join from ``building``).
* The triggers (:mod:`gis.db.kept_counts`, shared with migration 0039) run as the owner:
  every writer's statement counts, whatever row-level security lets it see. They add
  one grouped upsert per statement that changes households (a 200,000-household load:
  one statement; no measurable change of its time in three alternations).
* ``pub_building`` reads the count from it (same columns, same suppression below k).

Revision ID: 0038
Revises: 0037
"""

import sqlalchemy as sa
from alembic import op

from gis.db.kept_counts import KeptCounts

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None

#: Households per building, kept by triggers on household (:mod:`gis.db.kept_counts`).
KEPT = KeptCounts(
    table="building_households",
    key="building_id",
    source="household",
    counts={"households": "1"},
)

PUB_BUILDING = """
    SELECT b.id, b.name, b.use, b.floors, b.units,
           wangge_k(coalesce(c.households, 0)::bigint) AS households,
           b.geom
    FROM building b LEFT JOIN building_households c ON c.building_id = b.id"""

PUB_BUILDING_BEFORE = """
    SELECT b.id, b.name, b.use, b.floors, b.units,
           wangge_k((SELECT count(*) FROM household h WHERE h.building_id = b.id))
               AS households,
           b.geom
    FROM building b"""


def upgrade() -> None:
    op.create_table(
        "building_households",
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.CheckConstraint("households >= 0", name=op.f("ck_building_households_households")),
        sa.PrimaryKeyConstraint("building_id", name=op.f("pk_building_households")),
    )
    op.execute(KEPT.backfill_sql())
    # its readers' plans need its statistics (autovacuum may be off)
    op.execute("ANALYZE building_households")
    op.execute(KEPT.create_sql())
    op.execute(f"CREATE OR REPLACE VIEW pub_building AS {PUB_BUILDING}")


def downgrade() -> None:
    op.execute(f"CREATE OR REPLACE VIEW pub_building AS {PUB_BUILDING_BEFORE}")
    op.execute(KEPT.drop_sql())
    op.drop_table("building_households")
