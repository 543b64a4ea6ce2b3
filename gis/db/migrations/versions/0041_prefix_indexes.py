"""Indexes that repeat the first columns of another index on their table are dropped.

A B-tree index on ``(a, b)`` finds rows by ``a`` alone as well as one on ``a``; the
single-column one is a second copy that every insert and update keeps and every bulk
load builds again, and the planner never needs it. The schema had five:

* ``household (building_id)`` — the unique ``(building_id, unit, room)`` leads with it;
* ``incident (grid_id)`` — ``(grid_id, reported_at, id)`` and
  ``(grid_id, state, reported_at, id)`` lead with it;
* ``incident (category_code)`` — ``(category_code, reported_at)``;
* ``incident (reported_at)`` — ``(reported_at, id)``;
* ``incident_photo (incident_id)`` — the unique ``(incident_id, sha256)``.

Foreign keys are checked through the longer indexes as well (a delete of a grid or a
building finds its rows by the leading column). ``tests/gis/test_models.py`` keeps the
schema free of such repeats.

Revision ID: 0041
Revises: 0040
"""

from alembic import op

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

#: (index, table, column) of each index dropped.
REPEATS = (
    ("ix_household_building_id", "household", "building_id"),
    ("ix_incident_grid_id", "incident", "grid_id"),
    ("ix_incident_category_code", "incident", "category_code"),
    ("ix_incident_reported_at", "incident", "reported_at"),
    ("ix_incident_photo_incident_id", "incident_photo", "incident_id"),
)


def upgrade() -> None:
    for index, table, _ in REPEATS:
        op.drop_index(index, table_name=table)


def downgrade() -> None:
    for index, table, column in REPEATS:
        op.create_index(index, table, [column])
