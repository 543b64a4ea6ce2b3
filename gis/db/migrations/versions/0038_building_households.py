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
* The triggers run as the owner (``SECURITY DEFINER``): every writer's statement counts,
  whatever row-level security lets it see. They add one grouped upsert per statement
  that changes households (a 200,000-household load: one statement).
* ``pub_building`` reads the count from it (same columns, same suppression below k).

Revision ID: 0038
Revises: 0037
"""

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None

#: The change of each building's count a statement made, from its transition tables
#: (``counted_new`` rows +1, ``counted_old`` rows -1): kept rows are locked in building
#: order (two statements touching the same buildings cannot deadlock) and changed, the
#: rest inserted (a concurrent insert of the same building adds on conflict). Not one
#: ``INSERT … ON CONFLICT``: a row's CHECK is tried on the proposed row (-1) first.
APPLY = """
    WITH d AS (
        SELECT building_id, sum(n) AS n FROM ({rows}) x
        GROUP BY building_id HAVING sum(n) <> 0
    ), locked AS (
        SELECT c.building_id FROM building_households c JOIN d USING (building_id)
        ORDER BY c.building_id FOR UPDATE OF c
    ), changed AS (
        UPDATE building_households c SET households = c.households + d.n
        FROM locked l JOIN d USING (building_id)
        WHERE c.building_id = l.building_id
        RETURNING c.building_id
    )
    INSERT INTO building_households AS c (building_id, households)
    SELECT d.building_id, d.n FROM d
    WHERE NOT EXISTS (SELECT 1 FROM changed WHERE changed.building_id = d.building_id)
    ORDER BY d.building_id
    ON CONFLICT (building_id) DO UPDATE SET households = c.households + EXCLUDED.households;
"""
NEW_ROWS = "SELECT building_id, 1 AS n FROM counted_new"
OLD_ROWS = "SELECT building_id, -1 AS n FROM counted_old"

FUNCTIONS = f"""
CREATE FUNCTION wangge_building_households_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    {APPLY.format(rows=NEW_ROWS)}
    RETURN NULL;
END $$;

CREATE FUNCTION wangge_building_households_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    {APPLY.format(rows=OLD_ROWS)}
    RETURN NULL;
END $$;

CREATE FUNCTION wangge_building_households_moved() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    {APPLY.format(rows=f"{NEW_ROWS} UNION ALL {OLD_ROWS}")}
    RETURN NULL;
END $$;

CREATE FUNCTION wangge_building_households_emptied() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM building_households;
    RETURN NULL;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER wangge_building_households_inserted AFTER INSERT ON household
    REFERENCING NEW TABLE AS counted_new
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_building_households_inserted();
CREATE TRIGGER wangge_building_households_deleted AFTER DELETE ON household
    REFERENCING OLD TABLE AS counted_old
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_building_households_deleted();
CREATE TRIGGER wangge_building_households_moved AFTER UPDATE ON household
    REFERENCING OLD TABLE AS counted_old NEW TABLE AS counted_new
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_building_households_moved();
CREATE TRIGGER wangge_building_households_emptied AFTER TRUNCATE ON household
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_building_households_emptied();
"""

TRIGGER_NAMES = ("inserted", "deleted", "moved", "emptied")

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
    op.execute(
        "INSERT INTO building_households (building_id, households) "
        "SELECT building_id, count(*) FROM household GROUP BY building_id ORDER BY building_id"
    )
    # its readers' plans need its statistics (autovacuum may be off)
    op.execute("ANALYZE building_households")
    op.execute(FUNCTIONS)
    op.execute(TRIGGERS)
    op.execute(f"CREATE OR REPLACE VIEW pub_building AS {PUB_BUILDING}")


def downgrade() -> None:
    op.execute(f"CREATE OR REPLACE VIEW pub_building AS {PUB_BUILDING_BEFORE}")
    for name in TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER wangge_building_households_{name} ON household")
        op.execute(f"DROP FUNCTION wangge_building_households_{name}()")
    op.drop_table("building_households")
