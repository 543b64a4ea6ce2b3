"""Counts the database keeps itself: households per building, people per grid.

Apart from :mod:`gis.db.models` only to keep that module readable; it shares its
``Base`` and metadata (importing :mod:`gis.db.models` registers it).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Integer
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models import Base


class BuildingHouseholds(Base):
    """The number of households of a building (住户数), kept by triggers on ``household``.

    Migration 0038: inserted, deleted, moved and truncated households change it in the
    statement that changes them, so a reader looks one row up instead of counting the
    building's households (the OGC API's buildings, the buildings tiles). No foreign key:
    a replacing load truncates buildings and households together; rows of a building that
    is gone are never read (readers join from ``building``).
    """

    __tablename__ = "building_households"
    building_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    households: Mapped[int] = mapped_column(Integer)
    __table_args__ = (CheckConstraint("households >= 0", name="households"),)


class GridPeople(Base):
    """People per grid (网格人口数), kept by triggers on ``household`` and ``resident``.

    Migration 0039: households per grid, and residents with the vulnerable groups counted
    by the residents' grid (their household's). Read by the published grids (``pub_grid``)
    instead of counting the district's people at every read.
    """

    __tablename__ = "grid_people"
    grid_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    households: Mapped[int] = mapped_column(BigInteger, server_default="0")
    residents: Mapped[int] = mapped_column(BigInteger, server_default="0")
    elderly_alone: Mapped[int] = mapped_column(BigInteger, server_default="0")
    disabled: Mapped[int] = mapped_column(BigInteger, server_default="0")
    mobility_impaired: Mapped[int] = mapped_column(BigInteger, server_default="0")
    __table_args__ = tuple(
        CheckConstraint(f"{c} >= 0", name=c)
        for c in ("households", "residents", "elderly_alone", "disabled", "mobility_impaired")
    )
