"""The incidents' steps (``incident_event``), partitioned by month, and their source keys.

Apart from :mod:`gis.db.models` only to keep that module readable; it shares its ``Base``
and metadata (importing :mod:`gis.db.models` registers it).  By month of ``at``
(migration 0037): every read of a case's steps is bounded by its report (less a day) and
its last step (``incident.last_event_at``), :mod:`gis.store.event_bound`, so that only
the case's months are planned.
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

from gis.db.models import INCIDENT_STATES, Base, _one_of, _stored_time


class IncidentEvent(Base):
    """One step of an incident's history: who moved it, when, from what to what.

    By month of ``at`` (migration 0037; reads bounded by the case's report and last step).
    """

    __tablename__ = "incident_event"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    actor: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint(_one_of("to_state", INCIDENT_STATES), name="to_state"),
        CheckConstraint(_stored_time("at"), name="at_range"),
        Index("ix_incident_event_incident_id_id", "incident_id", "id"),  # max(id) of a case
        {"postgresql_partition_by": "RANGE (at)"},
    )


class IncidentSourceRef(Base):
    """A report's key at its source (a 12345 case number …): each is filed once.

    The unique key the partitioned ``incident`` cannot hold (it lacks the number); a
    statement trigger adds each filed case's key as the table's owner (migration 0042).
    """

    __tablename__ = "incident_source_ref"
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    source_ref: Mapped[str] = mapped_column(String(100), primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
