"""Reads for the performance review (考核): incidents with their labels, and dispatch times.

The KPIs themselves are computed by ``grids.kpi.kpis`` from what this module returns;
here is only the SQL.  Which incidents a caller may review comes from
``grids.access.kpi_filter`` and is handed in as plain values (``everything``, grid ids, a
worker id, a reporter id), the same visibility rule as
:func:`gis.store.incident_store.list_incidents`.

A window (``start``/``end``) selects cases by the date that places them in a period of
the review: by default their due date ``min(deadline, closed_at)`` (应结案日期: when the
time limit ran out, or the case was closed if earlier), or their ``reported_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pandas as pd
from sqlalchemy import Connection, text

from gis.store import incident_ids
from gis.store.event_bound import span_of, within
from gis.store.incident_store import visibility
from gis.times import readable_times

__all__ = ["INCIDENT_COLUMNS", "KpiFrames", "area_name", "kpi_frames"]

#: The columns of :attr:`KpiFrames.incidents`.
INCIDENT_COLUMNS: tuple[str, ...] = (
    "id",
    "category_code",
    "category_name",
    "source",
    "state",
    "reported_at",
    "deadline",
    "closed_at",
    "rating",
    "assignee_id",
    "worker_name",
    "grid_id",
    "grid_code",
    "grid_name",
    "community",
    "community_name",
)
_TIMES = ("reported_at", "deadline", "closed_at")

_WINDOW_DATE = {
    "due": "LEAST(i.deadline, i.closed_at)",
    "reported": "i.reported_at",
}


@dataclass(frozen=True)
class KpiFrames:
    """The incidents under review and their ``dispatched`` events.

    Attributes
    ----------
    incidents
        One row per incident, columns :data:`INCIDENT_COLUMNS`; times are tz-aware
        (UTC) nanosecond timestamps, missing ones NaT; ``grid_code`` is the code of the
        grid version the case was filed in, ``community`` the community's division
        code.  A row whose stored times cannot be read is left out, with a logged
        warning (:func:`gis.times.readable_times`).
    events
        ``incident_id``, ``to_state`` (always ``dispatched``), ``at`` (tz-aware UTC) of
        those incidents: what ``grids.kpi.kpis`` needs for the time to dispatch.
    """

    incidents: pd.DataFrame
    events: pd.DataFrame


def _aware(at: datetime | None, what: str) -> None:
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise ValueError(f"{what} {at.isoformat()} has no time zone; give an aware datetime")


def kpi_frames(
    conn: Connection,
    *,
    everything: bool,
    grid_ids: tuple[int, ...] = (),
    worker_id: int | None = None,
    reporter_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    date_by: Literal["due", "reported"] = "due",
) -> KpiFrames:
    """The incidents a caller may review, with grid, community, worker and category names.

    Parameters
    ----------
    conn
        An open connection.
    everything, grid_ids, worker_id, reporter_id
        Visibility, from ``grids.access.kpi_filter``: a row is read when ``everything``
        is set, its grid is in ``grid_ids``, it is assigned to ``worker_id`` or it was
        reported by ``reporter_id``.
    start, end
        Optional window ``[start, end)`` (tz-aware) on the date named by ``date_by``.
        With ``date_by="due"`` a case with neither deadline nor closing (not yet
        dispatched, or rejected) has no due date and is left out of any window.
    date_by
        ``"due"`` (``min(deadline, closed_at)``) or ``"reported"`` (``reported_at``).

    Returns
    -------
    KpiFrames
        Incidents (by id) and their dispatch events.

    Raises
    ------
    ValueError
        For a naive time or an unknown ``date_by``.
    """
    _aware(start, "start")
    _aware(end, "end")
    if date_by not in _WINDOW_DATE:
        raise ValueError(f"date_by must be 'due' or 'reported', not {date_by!r}")
    clause, params = visibility(everything, grid_ids, worker_id, reporter_id)
    where = [clause]
    date = _WINDOW_DATE[date_by]
    if start is not None:
        where.append(f"{date} >= :start")
        params["start"] = start
    if end is not None:
        where.append(f"{date} < :end")
        params["end"] = end
    if date_by == "reported":  # their months only (gis.store.incident_ids)
        where += incident_ids.time_bound_sql("i", start, end, params)
    rows = conn.execute(
        text(
            f"""
            SELECT i.id, i.category_code, c.name AS category_name, i.source, i.state,
                   i.reported_at, i.deadline, i.closed_at, i.rating, i.assignee_id,
                   w.name AS worker_name, i.grid_id, g.code AS grid_code,
                   g.name AS grid_name, a.code AS community, a.name AS community_name
            FROM incident i
            JOIN incident_category c ON c.code = i.category_code
            LEFT JOIN grid g ON g.id = i.grid_id
            LEFT JOIN admin_area a ON a.id = g.community_id
            LEFT JOIN grid_worker w ON w.id = i.assignee_id
            WHERE {" AND ".join(where)}
            ORDER BY i.id
            """
        ),
        params,
    ).all()
    incidents = readable_times(
        pd.DataFrame.from_records(rows, columns=list(INCIDENT_COLUMNS)),
        _TIMES,
        table="incident",
        required=("reported_at",),
    )
    for column in ("rating", "assignee_id", "grid_id"):
        incidents[column] = incidents[column].astype("Int64")
    ids = incidents["id"].astype("int64").tolist()
    events = conn.execute(
        text(
            "SELECT e.incident_id, e.to_state, e.at FROM incident_event e "
            "WHERE e.to_state = 'dispatched' AND e.incident_id = ANY(:ids) "
            f"AND {within()} ORDER BY e.id"
        ),
        {"ids": ids, **span_of(conn, ids)},
    ).all()
    event_frame = readable_times(
        pd.DataFrame.from_records(events, columns=["incident_id", "to_state", "at"]),
        ("at",),
        table="incident_event",
        required=("at",),
        id_column="incident_id",
    )
    return KpiFrames(incidents=incidents, events=event_frame)


def area_name(conn: Connection, area_id: int | None) -> str:
    """The name of a staff member's area; for ``None`` (an admin) the top-level area's name.

    Returns an empty string when there is no such area (an empty database).
    """
    if area_id is not None:
        found = conn.execute(
            text("SELECT name FROM admin_area WHERE id = :a"), {"a": area_id}
        ).scalar()
    else:
        found = conn.execute(
            text(
                "SELECT string_agg(name, '、' ORDER BY code) FROM admin_area "
                "WHERE parent_id IS NULL"
            )
        ).scalar()
    return str(found or "")
