"""People per grid kept by the database: ``grid_people`` (网格人口数).

The published grids (the ``pub_grid`` view the OGC API pages and serves as tiles) counted
every household and resident of the district at each read, to show a page's grids: 2.7 s
for a page of 1,000 grids at 2,000,000 households (5,161,081 residents). Kept here by
statement-level triggers (:mod:`gis.db.kept_counts`, as migration 0038 keeps households
per building): households per grid from ``household``, residents and the vulnerable
groups per grid from ``resident`` (its ``grid_id`` is its household's, kept in step by
migration 0027's triggers — a household that moves takes its residents' counts along).

* ``grid_people``: ``grid_id``, ``households``, ``residents``, ``elderly_alone``,
  ``disabled``, ``mobility_impaired`` (each ≥ 0). No foreign key (a replacing load
  truncates grids with the rest); the view joins from ``grid``.
* ``pub_grid`` reads them (same columns, same suppression below k).

Revision ID: 0039
Revises: 0038
"""

import sqlalchemy as sa
from alembic import op

from gis.db.kept_counts import KeptCounts

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None

COUNTS = ("households", "residents", "elderly_alone", "disabled", "mobility_impaired")
HOUSEHOLDS = KeptCounts(
    table="grid_people",
    key="grid_id",
    source="household",
    counts={"households": "1"},
    whole=False,
)
RESIDENTS = KeptCounts(
    table="grid_people",
    key="grid_id",
    source="resident",
    counts={
        "residents": "1",
        "elderly_alone": "living_alone_elderly::int",
        "disabled": "disabled::int",
        "mobility_impaired": "mobility_impaired::int",
    },
    whole=False,
)

PUB_GRID = """
    SELECT g.id, g.code, g.name, g.kind, c.code AS community_code,
           c.name AS community_name, g.valid_from,
           wangge_k(coalesce(p.households, 0)) AS households,
           wangge_k(coalesce(p.residents, 0)) AS residents,
           wangge_k(coalesce(p.elderly_alone, 0)) AS elderly_alone,
           wangge_k(coalesce(p.disabled, 0)) AS disabled,
           wangge_k(coalesce(p.mobility_impaired, 0)) AS mobility_impaired,
           g.geom
    FROM grid g
    JOIN admin_area c ON c.id = g.community_id
    LEFT JOIN grid_people p ON p.grid_id = g.id
    WHERE g.valid_to IS NULL"""

PUB_GRID_BEFORE = """
    SELECT g.id, g.code, g.name, g.kind, c.code AS community_code,
           c.name AS community_name, g.valid_from,
           wangge_k(coalesce(h.households, 0)) AS households,
           wangge_k(coalesce(r.residents, 0)) AS residents,
           wangge_k(coalesce(r.elderly_alone, 0)) AS elderly_alone,
           wangge_k(coalesce(r.disabled, 0)) AS disabled,
           wangge_k(coalesce(r.mobility_impaired, 0)) AS mobility_impaired,
           g.geom
    FROM grid g
    JOIN admin_area c ON c.id = g.community_id
    LEFT JOIN (SELECT grid_id, count(*) AS households FROM household GROUP BY grid_id) h
           ON h.grid_id = g.id
    LEFT JOIN (
        SELECT hh.grid_id, count(*) AS residents,
               count(*) FILTER (WHERE p.living_alone_elderly) AS elderly_alone,
               count(*) FILTER (WHERE p.disabled) AS disabled,
               count(*) FILTER (WHERE p.mobility_impaired) AS mobility_impaired
        FROM resident p JOIN household hh ON hh.id = p.household_id
        GROUP BY hh.grid_id) r ON r.grid_id = g.id
    WHERE g.valid_to IS NULL"""


def upgrade() -> None:
    op.create_table(
        "grid_people",
        sa.Column("grid_id", sa.Integer(), nullable=False),
        *(sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in COUNTS),
        *(sa.CheckConstraint(f"{c} >= 0", name=op.f(f"ck_grid_people_{c}")) for c in COUNTS),
        sa.PrimaryKeyConstraint("grid_id", name=op.f("pk_grid_people")),
    )
    for kept in (HOUSEHOLDS, RESIDENTS):
        op.execute(kept.backfill_sql())
    # its readers' plans need its statistics (autovacuum may be off)
    op.execute("ANALYZE grid_people")
    for kept in (HOUSEHOLDS, RESIDENTS):
        op.execute(kept.create_sql())
    op.execute(f"CREATE OR REPLACE VIEW pub_grid AS {PUB_GRID}")


def downgrade() -> None:
    op.execute(f"CREATE OR REPLACE VIEW pub_grid AS {PUB_GRID_BEFORE}")
    for kept in (RESIDENTS, HOUSEHOLDS):
        op.execute(kept.drop_sql())
    op.drop_table("grid_people")
