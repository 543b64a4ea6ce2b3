"""The grid worker's field work: visits, check-on marks, cases handed away, proof of 反馈.

* ``household_visit``: a worker's visit (走访) to a household, with a note and where they
  stood (optional); coverage (巡查覆盖) is counted from it.
* ``checkon_mark``: a worker's mark on a person of a hazard's check-on list (reached,
  not at home, needs help); the latest per hazard and person counts.
* ``task_handover``: a case taken from a worker and given to another (改派, 网格交接), so
  the worker is told, and an action they queued offline meets a clear conflict.
* ``incident_category.proof_photo`` / ``proof_checkin``: what a grid worker's 反馈 needs
  besides the note; on for the physical hazards to life (fire, gas, dangerous buildings,
  blocked fire lanes, broken hydrants, flooding).

Row-level security as in migration 0022: visits and marks are seen (and written) by whoever
covers their grid (the worker of the grid, the staff of its area); a handover by the worker
it was taken from and whoever sees the case.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

from geoalchemy2 import Geometry

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

#: As :data:`grids.categories.PROOF_ON_SITE` (a migration does not import the domain).
PROOF_ON_SITE = ("10103", "20401", "20402", "30201", "30202", "30203")
STORED = "'1900-01-01 00:00:00+00' AND {c} < '2200-01-01 00:00:00+00'"

S = "(SELECT wangge_sees_all())"
G = "(SELECT wangge_grid_ids())::integer[]"
R = "(SELECT wangge_role())"
W = "(SELECT wangge_worker_id())"
SIGNED_IN = f"({S} OR {R} NOT IN ('', 'anonymous'))"
IN_GRIDS = f"({S} OR ({R} NOT IN ('resident', 'anonymous', '') AND grid_id = ANY({G})))"
HANDOVER = (
    f"({S} OR ({R} = 'grid_worker' AND from_worker_id = {W}) "
    "OR EXISTS (SELECT 1 FROM incident p WHERE p.id = task_handover.incident_id))"
)
#: table -> (using: the rows visible and changeable, insert check or None for ``using``)
POLICIES: dict[str, tuple[str, str | None]] = {
    "household_visit": (IN_GRIDS, None),
    "checkon_mark": (IN_GRIDS, None),
    # appended in the step that moves the case, by whoever may move it
    "task_handover": (HANDOVER, SIGNED_IN),
}


def _stored(column: str) -> str:
    return f"{column} >= " + STORED.format(c=column)


def _geometry_checks(table: str) -> list[sa.CheckConstraint]:
    return [
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f(f"ck_{table}_geom_valid")),
        sa.CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 "
            "AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=op.f(f"ck_{table}_geom_lonlat_range"),
        ),
    ]


def upgrade() -> None:
    for column in ("proof_photo", "proof_checkin"):
        op.add_column(
            "incident_category",
            sa.Column(column, sa.Boolean(), server_default=sa.text("false"), nullable=False),
        )
    codes = ", ".join(f"'{c}'" for c in PROOF_ON_SITE)
    op.execute(
        "UPDATE incident_category SET proof_photo = true, proof_checkin = true "
        f"WHERE code IN ({codes})"
    )
    op.create_table(
        "household_visit",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(geometry_type="POINT", srid=4326, spatial_index=False),
            nullable=True,
        ),
        sa.CheckConstraint(_stored("visited_at"), name=op.f("ck_household_visit_visited_at_range")),
        sa.CheckConstraint(
            "char_length(note) BETWEEN 1 AND 2000", name=op.f("ck_household_visit_note")
        ),
        *_geometry_checks("household_visit"),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["grid_worker.id"], name=op.f("fk_household_visit_worker_id_grid_worker")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_household_visit_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grid.id"],
            name=op.f("fk_household_visit_grid_id_grid"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_visit")),
    )
    op.create_index(op.f("ix_household_visit_worker_id"), "household_visit", ["worker_id"])
    op.create_index(op.f("ix_household_visit_household_id"), "household_visit", ["household_id"])
    op.create_index(
        "ix_household_visit_grid_id_visited_at", "household_visit", ["grid_id", "visited_at"]
    )
    op.create_index(
        "idx_household_visit_geom", "household_visit", ["geom"], postgresql_using="gist"
    )
    op.create_table(
        "checkon_mark",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.BigInteger(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("marked_by", sa.String(length=64), nullable=False),
        sa.Column("mark", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "mark IN ('reached', 'not_home', 'needs_help')", name=op.f("ck_checkon_mark_mark")
        ),
        sa.CheckConstraint(_stored("marked_at"), name=op.f("ck_checkon_mark_marked_at_range")),
        sa.CheckConstraint("char_length(note) <= 2000", name=op.f("ck_checkon_mark_note")),
        sa.ForeignKeyConstraint(
            ["hazard_id"],
            ["hazard_area.id"],
            name=op.f("fk_checkon_mark_hazard_id_hazard_area"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
            name=op.f("fk_checkon_mark_resident_id_resident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_checkon_mark_grid_id_grid"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["grid_worker.id"], name=op.f("fk_checkon_mark_worker_id_grid_worker")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkon_mark")),
    )
    op.create_index(op.f("ix_checkon_mark_resident_id"), "checkon_mark", ["resident_id"])
    op.create_index(op.f("ix_checkon_mark_grid_id"), "checkon_mark", ["grid_id"])
    op.create_index(
        "ix_checkon_mark_hazard_id_resident_id",
        "checkon_mark",
        ["hazard_id", "resident_id", "marked_at"],
    )
    op.create_table(
        "task_handover",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("from_worker_id", sa.Integer(), nullable=False),
        sa.Column("to_worker_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_stored("at"), name=op.f("ck_task_handover_at_range")),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_task_handover_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_worker_id"],
            ["grid_worker.id"],
            name=op.f("fk_task_handover_from_worker_id_grid_worker"),
        ),
        sa.ForeignKeyConstraint(
            ["to_worker_id"],
            ["grid_worker.id"],
            name=op.f("fk_task_handover_to_worker_id_grid_worker"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_handover")),
    )
    op.create_index(op.f("ix_task_handover_incident_id"), "task_handover", ["incident_id"])
    op.create_index(op.f("ix_task_handover_from_worker_id"), "task_handover", ["from_worker_id"])
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


def downgrade() -> None:
    op.drop_table("task_handover")
    op.drop_table("checkon_mark")
    op.drop_table("household_visit")
    op.drop_column("incident_category", "proof_checkin")
    op.drop_column("incident_category", "proof_photo")
