"""Tables of the residents' side: accounts linked to the register, notices, wishes (你说我做).

Apart from :mod:`gis.db.models` only to keep that module readable; they share its
``Base`` and metadata (importing :mod:`gis.db.models` registers them).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models import ALERT_GROUPS, Base, _one_of

# ---- residents' side: accounts, notices, wishes (你说我做)

#: Who a notice is for: everyone of an estate, a grid or a community, or one group of a
#: community's residents (the groups of alerts but ``all``).
NOTICE_SCOPES = ("estate", "grid", "community", "group")
WISH_STATES = ("open", "adopted", "declined", "task")


class ResidentAccount(Base):
    """A resident's sign-in account linked to the person in the register (one each)."""

    __tablename__ = "resident_account"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("resident.id", ondelete="CASCADE"), unique=True
    )


class Notice(Base):
    """A notice (小区公告 / 社区通知) posted to an estate, a grid, a community or a group."""

    __tablename__ = "notice"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("admin_area.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    estate_id: Mapped[int | None] = mapped_column(ForeignKey("admin_area.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    target_group: Mapped[str | None] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    __table_args__ = (
        CheckConstraint(_one_of("scope", NOTICE_SCOPES), name="scope"),
        CheckConstraint(
            "(scope = 'estate') = (estate_id IS NOT NULL) AND (scope = 'grid') = (grid_id IS NOT "
            "NULL) AND (scope = 'group') = (target_group IS NOT NULL)",
            name="target",
        ),
        CheckConstraint(_one_of("target_group", ALERT_GROUPS[1:]), name="target_group"),
    )


class NoticeRead(Base):
    """That a user has read a notice, and when."""

    __tablename__ = "notice_read"
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertSeen(Base):
    """That a resident has seen a hazard alert sent to their household (知道了), and when.

    Until then the alert counts among the unread on ``/r/notices``.
    """

    __tablename__ = "alert_seen"
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alert.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Wish(Base):
    """A resident's wish (你说我做) for their estate and what the community made of it."""

    __tablename__ = "wish"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("admin_area.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("admin_area.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16), server_default=text("'open'"))
    supports: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: why it was declined (public)
    reason: Mapped[str | None] = mapped_column(Text)
    #: the task's owner (a name or a team, public) and due date
    owner: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[date | None] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(_one_of("state", WISH_STATES), name="state"),
        CheckConstraint("state <> 'declined' OR reason IS NOT NULL", name="reason"),
        CheckConstraint(
            "state <> 'task' OR (owner IS NOT NULL AND due_date IS NOT NULL)", name="task"
        ),
        CheckConstraint("supports >= 0", name="supports"),
    )


class WishSupport(Base):
    """One resident's support of a wish (at most one each)."""

    __tablename__ = "wish_support"
    wish_id: Mapped[int] = mapped_column(
        ForeignKey("wish.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
