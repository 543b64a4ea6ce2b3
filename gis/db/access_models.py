"""Planning results kept per household: each household's walking access, stored.

Apart from :mod:`gis.db.models` only to keep that module readable; it shares its
``Base`` and metadata (importing :mod:`gis.db.models` registers it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models import FACILITY_KINDS, Base, _one_of, _stored_time


class HouseholdAccess(Base):
    """A household's walking access to the nearest facility of one kind (步行可达性), stored.

    Written by ``wangge plan access --store`` (:mod:`gis.store.household_access_store`),
    one run replacing the kind's rows.  Household ids only, no names; ``grid_id`` is the
    household's (kept in step by triggers, migration 0036), so that row-level security
    lets through exactly whom the households' policy lets through.  ``minutes`` is exact
    beyond the standard too; NULL (with ``facility_id``) when no facility is reachable.
    """

    __tablename__ = "household_access"
    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    grid_id: Mapped[int | None] = mapped_column(Integer)
    minutes: Mapped[float | None] = mapped_column(Float)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id", ondelete="SET NULL"))
    served: Mapped[bool] = mapped_column(Boolean)
    standard_minutes: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(_one_of("kind", FACILITY_KINDS), name="kind"),
        CheckConstraint("minutes IS NULL OR minutes >= 0", name="minutes"),
        CheckConstraint("standard_minutes > 0", name="standard_minutes"),
        CheckConstraint(_stored_time("computed_at"), name="computed_at_range"),
        # the summary per grid reads a kind's rows by grid
        Index("ix_household_access_kind_grid_id", "kind", "grid_id"),
    )
