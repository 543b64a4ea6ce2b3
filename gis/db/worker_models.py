"""Tables of the grid worker's field work: visits (走访), check-on marks, cases handed away.

Apart from :mod:`gis.db.models` only to keep that module readable; they share its
``Base`` and metadata (importing :mod:`gis.db.models` registers them).  The proof a
category asks for at 反馈 (``proof_photo``, ``proof_checkin``) is two columns of
``incident_category`` itself (:class:`gis.db.models.IncidentCategory`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from geoalchemy2 import Geometry

from gis.db.models import SRID, Base, _geometry_checks, _one_of, _stored_time

#: What a worker records of a person on a check-on list (走访名单) during a hazard.
CHECKON_MARKS = ("reached", "not_home", "needs_help")
#: Longest note of a visit or a mark, characters.
FIELD_NOTE_MAX = 2000


class HouseholdVisit(Base):
    """A visit (走访) of a grid worker to a household: when, a note, where they stood.

    ``grid_id`` is the household's grid at the time of the visit (coverage is counted
    per grid, and row-level security shows a grid's visits to whoever covers the grid).
    """

    __tablename__ = "household_visit"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id"), index=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), index=True
    )
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"))
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text)
    geom = mapped_column(Geometry("POINT", srid=SRID), nullable=True)
    __table_args__ = (
        CheckConstraint(_stored_time("visited_at"), name="visited_at_range"),
        CheckConstraint(f"char_length(note) BETWEEN 1 AND {FIELD_NOTE_MAX}", name="note"),
        Index("ix_household_visit_grid_id_visited_at", "grid_id", "visited_at"),
        *_geometry_checks(),
    )


class CheckOnMark(Base):
    """A grid worker's mark on a person of a hazard's check-on list; the latest one counts."""

    __tablename__ = "checkon_mark"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazard_area.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("resident.id", ondelete="CASCADE"), index=True
    )
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid.id", ondelete="SET NULL"), index=True
    )
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("grid_worker.id"))
    marked_by: Mapped[str] = mapped_column(String(64))
    mark: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    marked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(_one_of("mark", CHECKON_MARKS), name="mark"),
        CheckConstraint(_stored_time("marked_at"), name="marked_at_range"),
        CheckConstraint(f"char_length(note) <= {FIELD_NOTE_MAX}", name="note"),
        Index("ix_checkon_mark_hazard_id_resident_id", "hazard_id", "resident_id", "marked_at"),
    )


class TaskHandover(Base):
    """A case taken from one worker and given to another (改派, 网格交接), and when.

    Written with the step that moved it (:func:`gis.store.incident_store.record_transition`):
    the worker it was taken from is told (a notice), and an action they queued offline
    on it meets a conflict naming who has it now rather than a bare 404.
    """

    __tablename__ = "task_handover"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    from_worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id"), index=True)
    to_worker_id: Mapped[int | None] = mapped_column(ForeignKey("grid_worker.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (CheckConstraint(_stored_time("at"), name="at_range"),)
