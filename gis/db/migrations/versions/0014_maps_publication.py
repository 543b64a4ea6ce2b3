"""Maps at city scale: water and green areas for the offline basemap, and the views published
over OGC API (``pub_*``: no personal data, people only as counts suppressed below k).

* ``map_area``: water (水系) and green (绿地) polygons the offline basemap draws under the
  streets, from an OpenStreetMap import or the district's register; versioned like every
  table a cache follows.
* ``resident`` gets a data version too: the people counts of the maps (households,
  residents, vulnerable people per grid, building and H3 cell) follow it.
* ``wangge_privacy_k()``: the k of the published counts, from the session setting
  ``wangge.privacy_k`` (the server sets it from ``WANGGE_PRIVACY_K``), 5 when unset;
  ``wangge_k(n)``: ``n`` when it is 0 or at least k, NULL (suppressed) otherwise.
* The ``pub_*`` views, made for publication: grids, admin areas, buildings, facilities,
  shelters, roads and map areas for anyone; incidents (no description, reporter, address
  or photos) and hazard areas for staff.  Households and residents appear only as counts.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from geoalchemy2 import Geometry

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

VERSIONED = ("map_area", "resident")

PRIVACY_FUNCTIONS = """
CREATE FUNCTION wangge_privacy_k() RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('wangge.privacy_k', true), '')::integer, 5)
$$;
CREATE FUNCTION wangge_k(n bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN n = 0 OR n >= wangge_privacy_k() THEN n END
$$;
"""

#: People per current grid: households, residents and the vulnerable groups, each suppressed
#: below k.  Counted per grid id, so a grid's row is one index range of each table.
VIEWS = {
    "pub_grid": """
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
        WHERE g.valid_to IS NULL""",
    "pub_admin_area": """
        SELECT a.id, a.code, a.name, a.level, p.code AS parent_code, a.geom
        FROM admin_area a LEFT JOIN admin_area p ON p.id = a.parent_id""",
    "pub_building": """
        SELECT b.id, b.name, b.use, b.floors, b.units,
               wangge_k((SELECT count(*) FROM household h WHERE h.building_id = b.id))
                   AS households,
               b.geom
        FROM building b""",
    "pub_facility": """
        SELECT f.id, f.kind, f.name, f.capacity, f.geom FROM facility f""",
    "pub_shelter": """
        SELECT f.id, f.name, s.shelter_class, f.capacity, s.occupancy, s.is_open, s.area_m2,
               f.geom
        FROM facility f JOIN shelter s ON s.facility_id = f.id""",
    "pub_road": """
        SELECT e.id, e.name, e.road_class, e.length_m, e.walkable, e.drivable, e.oneway,
               e.z_level, e.geom
        FROM road_edge e""",
    "pub_map_area": """
        SELECT m.id, m.kind, m.name, m.geom FROM map_area m""",
    # staff only (the OGC door decides who): what happened where, not who reported it
    "pub_incident": """
        SELECT i.id, i.reported_at, i.category_code, c.name AS category_name, c.family,
               i.source, i.state, i.deadline, i.closed_at, i.grid_id, g.code AS grid_code,
               i.geom
        FROM incident i
        JOIN incident_category c ON c.code = i.category_code
        LEFT JOIN grid g ON g.id = i.grid_id
        WHERE i.merged_into IS NULL""",
    "pub_hazard": """
        SELECT z.id, z.valid_from, z.valid_to, z.kind, z.name, z.severity, z.geom
        FROM hazard_area z""",
}


def upgrade() -> None:
    op.create_table(
        "map_area",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column(
            "source", sa.String(length=16), server_default=sa.text("'register'"), nullable=False
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('water', 'green')", name=op.f("ck_map_area_kind")),
        sa.CheckConstraint("source IN ('osm', 'register')", name=op.f("ck_map_area_source")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_map_area_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 "
            "AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f("ck_map_area_geom_lonlat_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_map_area")),
    )
    op.create_geospatial_index(
        "idx_map_area_geom",
        "map_area",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    for table in VERSIONED:
        op.execute(f"CREATE SEQUENCE {table}_data_version_seq")
        op.execute(
            f"CREATE TRIGGER {table}_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION wangge_bump_sequence('{table}_data_version_seq')"
        )
    op.execute(PRIVACY_FUNCTIONS)
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {body}")


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW {name}")
    op.execute("DROP FUNCTION wangge_k(bigint)")
    op.execute("DROP FUNCTION wangge_privacy_k()")
    for table in VERSIONED:
        op.execute(f"DROP TRIGGER {table}_data_version ON {table}")
        op.execute(f"DROP SEQUENCE {table}_data_version_seq")
    op.drop_index("idx_map_area_geom", table_name="map_area", postgresql_using="gist")
    op.drop_table("map_area")
