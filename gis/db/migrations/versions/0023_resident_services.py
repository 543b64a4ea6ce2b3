"""The residents' side: pharmacies, opening hours and phones of facilities, notices, wishes.

* ``facility``: a new kind ``pharmacy`` (药店) and the columns ``opening_hours`` and
  ``phone`` (where known) for the nearby-services page (周边服务).
* ``resident_account``: a resident's sign-in account linked to the person in the register,
  so their estate, grid and groups (elderly living alone, disabled …) are known.
* ``notice`` and ``notice_read``: notices (小区公告 / 社区通知) posted by community staff to an
  estate, a grid, a community or a group of its residents, and who has read which.
* ``wish`` and ``wish_support``: residents' wishes (你说我做), one support per resident,
  and what the community made of them (adopted, declined with a reason, a task with an
  owner and a due date).

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

OLD_KINDS = ("clinic", "elder_care", "park", "school", "community_centre", "shelter")
NEW_KINDS = (*OLD_KINDS, "pharmacy")
GROUPS = ("vulnerable", "elderly_alone", "disabled", "mobility_impaired", "children")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _kinds(kinds: tuple[str, ...]) -> None:
    for table in ("facility", "plan_scenario"):
        op.drop_constraint(op.f(f"ck_{table}_kind"), table, type_="check")
        op.create_check_constraint(op.f(f"ck_{table}_kind"), table, _one_of("kind", kinds))


def upgrade() -> None:
    _kinds(NEW_KINDS)
    op.add_column("facility", sa.Column("opening_hours", sa.Text(), nullable=True))
    op.add_column("facility", sa.Column("phone", sa.String(length=32), nullable=True))
    op.create_table(
        "resident_account",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_resident_account_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
            name=op.f("fk_resident_account_resident_id_resident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_resident_account")),
        sa.UniqueConstraint("resident_id", name=op.f("uq_resident_account_resident_id")),
    )
    op.create_table(
        "notice",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("target_group", sa.String(length=24), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            _one_of("scope", ("estate", "grid", "community", "group")),
            name=op.f("ck_notice_scope"),
        ),
        sa.CheckConstraint(
            "(scope = 'estate') = (estate_id IS NOT NULL) AND (scope = 'grid') = (grid_id IS NOT "
            "NULL) AND (scope = 'group') = (target_group IS NOT NULL)",
            name=op.f("ck_notice_target"),
        ),
        sa.CheckConstraint(_one_of("target_group", GROUPS), name=op.f("ck_notice_target_group")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["admin_area.id"], name=op.f("fk_notice_community_id_admin_area")
        ),
        sa.ForeignKeyConstraint(
            ["estate_id"], ["admin_area.id"], name=op.f("fk_notice_estate_id_admin_area")
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_notice_grid_id_grid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
    )
    for column in ("community_id", "estate_id", "grid_id"):
        op.create_index(op.f(f"ix_notice_{column}"), "notice", [column])
    op.create_table(
        "notice_read",
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notice.id"],
            name=op.f("fk_notice_read_notice_id_notice"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_notice_read_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notice_id", "user_id", name=op.f("pk_notice_read")),
    )
    op.create_index(op.f("ix_notice_read_user_id"), "notice_read", ["user_id"])
    op.create_table(
        "wish",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), server_default=sa.text("'open'"), nullable=False),
        sa.Column("supports", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            _one_of("state", ("open", "adopted", "declined", "task")), name=op.f("ck_wish_state")
        ),
        sa.CheckConstraint(
            "state <> 'declined' OR reason IS NOT NULL", name=op.f("ck_wish_reason")
        ),
        sa.CheckConstraint(
            "state <> 'task' OR (owner IS NOT NULL AND due_date IS NOT NULL)",
            name=op.f("ck_wish_task"),
        ),
        sa.CheckConstraint("supports >= 0", name=op.f("ck_wish_supports")),
        sa.ForeignKeyConstraint(
            ["estate_id"], ["admin_area.id"], name=op.f("fk_wish_estate_id_admin_area")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["admin_area.id"], name=op.f("fk_wish_community_id_admin_area")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["app_user.id"],
            name=op.f("fk_wish_author_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wish")),
    )
    op.create_index(op.f("ix_wish_estate_id"), "wish", ["estate_id"])
    op.create_index(op.f("ix_wish_community_id"), "wish", ["community_id"])
    op.create_table(
        "wish_support",
        sa.Column("wish_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["wish_id"], ["wish.id"], name=op.f("fk_wish_support_wish_id_wish"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_wish_support_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("wish_id", "user_id", name=op.f("pk_wish_support")),
    )


def downgrade() -> None:
    op.drop_table("wish_support")
    op.drop_table("wish")
    op.drop_table("notice_read")
    op.drop_table("notice")
    op.drop_table("resident_account")
    op.drop_column("facility", "phone")
    op.drop_column("facility", "opening_hours")
    op.execute("DELETE FROM facility WHERE kind = 'pharmacy'")
    op.execute("DELETE FROM plan_scenario WHERE kind = 'pharmacy'")
    _kinds(OLD_KINDS)
