"""Row-level security on the tables added after 0022, and an index for the positions' retention.

Policies in the pattern of migration 0022 (the same ``wangge_*`` functions) on:

* ``worker_position`` (where a grid worker was: personal data of the worker): the worker
  themself, and staff of a grid the worker covers (admin, the system: all);
* ``resident_account`` (which sign-in is which resident of the register): the account's
  own user, and whoever sees that resident;
* ``notice`` and ``notice_read``: staff and workers read the notices of the communities of
  their grids, a resident those of the community they live in
  (:func:`wangge_home_communities`); who read a notice: the reader and the staff who see
  the notice;
* ``wish`` and ``wish_support``: as notices; a wish also to its author; who supported a
  wish: the supporter and the staff who see the wish.

``wangge_home_communities()`` is ``SECURITY DEFINER``: a resident may not read the
register, but the policies must know where their account says they live (the linked
resident's household, else the community or estate of the account's area).

The retention of :mod:`api.services.retention` deletes positions older than a number of
days: an index on ``worker_position (at)`` keeps that from reading the whole table.

Revision ID: 0026
Revises: 0025
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

S = "(SELECT wangge_sees_all())"
G = "(SELECT wangge_grid_ids())::integer[]"
R = "(SELECT wangge_role())"
U = "(SELECT wangge_user_id())"
W = "(SELECT wangge_worker_id())"
STAFF = f"{R} IN ('community_staff', 'street_staff', 'admin')"
SIGNED_IN = f"{R} NOT IN ('', 'anonymous')"
HOME = "(SELECT wangge_home_communities())::integer[]"


def _community_seen(table: str) -> str:
    """Rows of a community the asker sees: through their grids, or where they live."""
    return (
        f"({S} OR ({SIGNED_IN} AND {R} <> 'resident' AND EXISTS (SELECT 1 FROM grid g "
        f"WHERE g.community_id = {table}.community_id AND g.id = ANY({G}))) "
        f"OR ({R} = 'resident' AND {table}.community_id = ANY({HOME})))"
    )


def _own_or_staff_of(parent: str, key: str, table: str) -> str:
    return (
        f"({S} OR {table}.user_id = {U} OR ({STAFF} AND EXISTS (SELECT 1 FROM {parent} p "
        f"WHERE p.id = {table}.{key})))"
    )


#: table -> (using: the rows visible and changeable, insert check or None for ``using``)
POLICIES: dict[str, tuple[str, str | None]] = {
    "worker_position": (
        f"({S} OR worker_id = {W} OR ({STAFF} AND EXISTS (SELECT 1 FROM grid_assignment a "
        f"WHERE a.worker_id = worker_position.worker_id AND a.grid_id = ANY({G}))))",
        f"({S} OR worker_id = {W} OR {R} = 'admin')",
    ),
    "resident_account": (
        f"({S} OR user_id = {U} OR EXISTS (SELECT 1 FROM resident p "
        "WHERE p.id = resident_account.resident_id))",
        None,
    ),
    "notice": (_community_seen("notice"), f"({S} OR ({STAFF} AND {_community_seen('notice')}))"),
    "notice_read": (
        _own_or_staff_of("notice", "notice_id", "notice_read"),
        f"({S} OR user_id = {U})",
    ),
    "wish": (f"({_community_seen('wish')} OR author_id = {U})", None),
    "wish_support": (
        _own_or_staff_of("wish", "wish_id", "wish_support"),
        f"({S} OR user_id = {U})",
    ),
}

FUNCTIONS = """
-- the communities the asking user lives in (a resident: their linked resident's, else
-- their account's community or estate's community); read past the register's policies
CREATE FUNCTION wangge_home_communities() RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
$$ SELECT coalesce(array_agg(DISTINCT c) FILTER (WHERE c IS NOT NULL), '{}'::integer[]) FROM (
       SELECT coalesce(g.community_id, e.parent_id) AS c
       FROM resident_account ra JOIN resident r ON r.id = ra.resident_id
       JOIN household h ON h.id = r.household_id JOIN building b ON b.id = h.building_id
       LEFT JOIN admin_area e ON e.id = b.estate_id LEFT JOIN grid g ON g.id = h.grid_id
       WHERE ra.user_id = wangge_user_id()
       UNION ALL
       SELECT CASE a.level WHEN 'community' THEN a.id WHEN 'estate' THEN a.parent_id END
       FROM app_user u JOIN admin_area a ON a.id = u.area_id
       WHERE u.id = wangge_user_id()) s $$;
"""


def upgrade() -> None:
    op.execute(FUNCTIONS)
    for table, (using, insert) in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        if insert is None:
            op.execute(f"CREATE POLICY wangge_rows ON {table} USING {using} WITH CHECK {using}")
            continue
        for command in ("SELECT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE POLICY wangge_{command.lower()} ON {table} FOR {command} USING {using}"
            )
        op.execute(f"CREATE POLICY wangge_insert ON {table} FOR INSERT WITH CHECK {insert}")
    op.execute("CREATE INDEX ix_worker_position_at ON worker_position (at)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_worker_position_at")
    for table, (_, insert) in POLICIES.items():
        names = ("rows",) if insert is None else ("select", "update", "delete", "insert")
        for name in names:
            op.execute(f"DROP POLICY IF EXISTS wangge_{name} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS wangge_home_communities()")
