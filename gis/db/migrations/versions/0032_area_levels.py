"""Province and city above the district; district and city staff who see their whole area.

Many offices share one deployment (issue 20): every record belongs to an area of the
hierarchy province 省 → city 市 → district 区 → street 街道 → community 社区 (→ estate
小区), and the staff of a district or a city see every grid of their area at any depth.

* ``admin_area.level`` may be ``province`` or ``city`` too.
* ``app_user.role`` may be ``district_staff`` (区级工作人员) or ``city_staff``
  (市级工作人员).
* Every row-level security policy that lets staff through by role (the incidents' and
  alert recipients' INSERT checks, the reporters' contacts, notices and their reads,
  wishes' supports, workers' positions, the outbox, the audit log: migrations 0022, 0024,
  0026) names the two new roles beside the other staff.  The policies are rewritten from
  what PostgreSQL holds (``pg_policies``), the staff list replaced in their text, so a
  policy added by another migration with the same list follows as well; what a row
  passes is otherwise unchanged.  Which grids the new roles cover is the setting
  ``wangge.grid_ids`` as for any staff (resolved by :mod:`gis.store.access_store`).
* ``admin_area`` gets a data version (a sequence moved by a statement trigger, as in
  migration 0011): the grids a street's,
  district's or city's staff cover follow the hierarchy, so the server's cache of who a
  token or session is (``api/state.py``) must be rebuilt when an area moves (a district
  hung under its city by an import).

Revision ID: 0032
Revises: 0031
"""

from alembic import op
from sqlalchemy import text

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

OLD_LEVELS = ("district", "street", "community", "estate")
NEW_LEVELS = ("province", "city", *OLD_LEVELS)
OLD_ROLES = ("resident", "grid_worker", "community_staff", "street_staff", "admin")
NEW_ROLES = (
    "resident",
    "grid_worker",
    "community_staff",
    "street_staff",
    "district_staff",
    "city_staff",
    "admin",
)

#: The staff list as PostgreSQL deparses it in a policy, before and after.
OLD_STAFF = "'community_staff'::text, 'street_staff'::text, 'admin'::text"
NEW_STAFF = (
    "'community_staff'::text, 'street_staff'::text, 'district_staff'::text, "
    "'city_staff'::text, 'admin'::text"
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _checks(levels: tuple[str, ...], roles: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_admin_area_level"), "admin_area", type_="check")
    op.create_check_constraint(op.f("ck_admin_area_level"), "admin_area", _one_of("level", levels))
    op.drop_constraint(op.f("ck_app_user_role"), "app_user", type_="check")
    op.create_check_constraint(op.f("ck_app_user_role"), "app_user", _one_of("role", roles))


def _rewrite_policies(old: str, new: str) -> None:
    """Replace the staff list ``old`` by ``new`` in every policy that holds it."""
    conn = op.get_bind()
    rows = conn.execute(
        text(
            "SELECT schemaname, tablename, policyname, qual, with_check FROM pg_policies "
            "WHERE schemaname = current_schema() "
            "AND (position(:old IN coalesce(qual, '')) > 0 "
            "OR position(:old IN coalesce(with_check, '')) > 0)"
        ),
        {"old": old},
    ).all()
    for row in rows:
        parts = []
        if row.qual is not None and old in row.qual:
            parts.append(f"USING ({row.qual.replace(old, new)})")
        if row.with_check is not None and old in row.with_check:
            parts.append(f"WITH CHECK ({row.with_check.replace(old, new)})")
        op.execute(
            f'ALTER POLICY "{row.policyname}" ON "{row.schemaname}"."{row.tablename}" '
            + " ".join(parts)
        )


def upgrade() -> None:
    _checks(NEW_LEVELS, NEW_ROLES)
    _rewrite_policies(OLD_STAFF, NEW_STAFF)
    op.execute("CREATE SEQUENCE admin_area_data_version_seq")
    op.execute(
        "CREATE TRIGGER admin_area_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON admin_area FOR EACH STATEMENT "
        "EXECUTE FUNCTION wangge_bump_sequence('admin_area_data_version_seq')"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER admin_area_data_version ON admin_area")
    op.execute("DROP SEQUENCE admin_area_data_version_seq")
    _rewrite_policies(NEW_STAFF, OLD_STAFF)
    # the old schema has no such roles: their accounts are kept, disabled, as residents
    # without an area (they see nothing until an admin gives them a role again)
    op.execute(
        "UPDATE app_user SET role = 'resident', area_id = NULL, "
        "disabled_at = coalesce(disabled_at, now()) "
        "WHERE role IN ('district_staff', 'city_staff')"
    )
    op.execute(
        "UPDATE admin_area c SET parent_id = NULL FROM admin_area p "
        "WHERE p.id = c.parent_id AND p.level IN ('province', 'city')"
    )
    op.execute(
        "UPDATE app_user u SET area_id = NULL FROM admin_area a "
        "WHERE a.id = u.area_id AND a.level IN ('province', 'city')"
    )
    op.execute("DELETE FROM admin_area WHERE level IN ('province', 'city')")
    _checks(OLD_LEVELS, OLD_ROLES)
