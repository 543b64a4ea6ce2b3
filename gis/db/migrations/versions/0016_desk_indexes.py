"""The case desk's indexes: keyset pages of a caller's area and a text search that stay fast.

The desk (``/desk``) lists the cases of a caller's area newest first, a page at a time,
continuing after the last case shown (keyset: ``(reported_at, id) < (…, …)``), never by
``OFFSET``.  Its statement (:func:`gis.store.desk_store.page`) walks each grid of the area
(and each state asked for) down one of these indexes and merges the walks:

* ``(grid_id, reported_at, id)``: a grid's cases in order (read backwards: newest first);
* ``(grid_id, state, reported_at, id)``: the same for one state (the home page's links,
  overdue and due today are state filters);
* ``(reported_at, id)``: everything in order, for an admin;
* a trigram index (``pg_trgm``) on ``description``: ``ILIKE '%…%'`` with three or more
  characters is answered from it instead of reading every row.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_incident_grid_id_reported_at_id", "incident", ["grid_id", "reported_at", "id"]
    )
    op.create_index(
        "ix_incident_grid_id_state_reported_at_id",
        "incident",
        ["grid_id", "state", "reported_at", "id"],
    )
    op.create_index("ix_incident_reported_at_id", "incident", ["reported_at", "id"])
    op.create_index(
        "ix_incident_description_trgm",
        "incident",
        ["description"],
        postgresql_using="gin",
        postgresql_ops={"description": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_incident_description_trgm", table_name="incident")
    op.drop_index("ix_incident_reported_at_id", table_name="incident")
    op.drop_index("ix_incident_grid_id_state_reported_at_id", table_name="incident")
    op.drop_index("ix_incident_grid_id_reported_at_id", table_name="incident")
    # pg_trgm stays: other objects may use it, and it costs nothing
