"""Road edges know whether they run on the ground, in a tunnel or on a bridge.

Points are snapped to walkable edges on the ground first: a home beside a tunnel must
not join the network inside it.  Existing edges are taken to be on the ground.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "road_edge",
        sa.Column("z_level", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("road_edge", "z_level")
