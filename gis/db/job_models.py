"""The server's own bookkeeping: which periodic job ran when, and on which server.

Apart from :mod:`gis.db.models` only to keep that module readable; it shares its
``Base`` and metadata (importing :mod:`gis.db.models` registers it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Text
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models import Base


class JobRun(Base):
    """A periodic job of the app servers (the reminder / 督办 job, the retention).

    One server claims the row per interval (:mod:`gis.store.job_store`) and runs the
    job; ``covered_until`` is where its last successful run ended, the next run's
    "since", whichever server runs it.
    """

    __tablename__ = "job_run"
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    covered_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    holder: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(BigInteger, server_default="0")
