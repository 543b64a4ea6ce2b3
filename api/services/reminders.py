"""Reminders when a resident's case moves (办理提醒), through the outbox and the relay.

When a case filed from the residents' side (``source`` ``resident_app``: a signed-in
resident, or anonymous with a call-back phone and a tracking code) moves to a step its
reporter cares about (受理, 已派给网格员, 处理中, 已办结 …), :func:`case_moved` writes one
message in plain Chinese to the outbox, in the transaction of the step: the relay
(:mod:`api.services.relay`) delivers it to the broker like the hazard alerts, and the
reporter's pages show it (``/r/requests``, ``/r/notices``, ``/r/track/{code}``, and live
on ``/api/resident/stream``).

The message names the case's category, the day it was reported and the step reached:
never who took the step nor their note or reason.  Its recipient is ``user:<id>`` (the
resident's account) or ``incident:<id>`` (an anonymous report: the gateway reaches the
call-back contact of the case; the phone itself never enters the broker).  One message
per step: the key is the step's event, so a step recorded once is announced once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from gis.store import reminder_store as store
from gis.store.incident_store import IncidentRow
from grids.access import Principal
from grids.incidents import SHANGHAI

#: The cases whose reporters are reminded: those filed from the residents' side.
RESIDENT_SOURCES = ("resident_app",)
#: What a reporter is told on reaching each state (no staff, no reasons).
SAID = {
    "registered": "已受理，正在安排网格员",
    "rejected": "未予受理。如有疑问，请拨打 12345 市民服务热线",
    "dispatched": "已派给网格员，将尽快处理",
    "in_progress": "网格员正在处理",
    "resolved": "已处理完毕，正在核查处理结果",
    "returned": "核查未通过，正在重新处理",
    "closed": "已办结，欢迎您对处理结果进行评价",
    "escalated": "已督办，正在加快处理",
}
#: Said instead of :data:`SAID` ``rejected`` for a duplicate merged into another case.
MERGED = "与其他居民反映的同一问题合并处理，处理进展将另行告知"


@dataclass(frozen=True)
class Reminder:
    """A reminder as its reporter reads it."""

    id: int
    incident_id: int
    text: str
    at: datetime
    delivered: bool


def recipient_of(row: IncidentRow) -> str:
    """Who the gateway reaches: the resident's account, or the case's call-back contact."""
    return f"user:{row.reporter_id}" if row.reporter_id else f"incident:{row.id}"


def message_text(row: IncidentRow, category_name: str | None, to_state: str, merged: bool) -> str:
    """The reminder's text for ``row`` reaching ``to_state``."""
    day = row.reported_at.astimezone(SHANGHAI)
    what = f"“{category_name}”" if category_name else ""
    said = MERGED if merged else SAID[to_state]
    return f"【办理提醒】您{day.month}月{day.day}日反映的{what}问题（编号 {row.id}）{said}。"


def case_moved(
    conn: Connection,
    user: Principal,
    row: IncidentRow,
    *,
    from_state: str,
    to_state: str,
    event_id: int,
    at: datetime,
    category_name: str | None,
    merged: bool = False,
) -> int | None:
    """Queue the reporter's reminder of one recorded step; its outbox id, or None.

    None when nobody is to be told: a case not filed by a resident, a step that leaves
    the state as it was (改派, a second 督办) or that the reporter does not follow, a step
    the reporter took themself (their rating), or a step already announced.
    """
    if row.source not in RESIDENT_SOURCES or row.id is None:
        return None
    if to_state not in SAID or (from_state == to_state and not merged):
        return None
    if row.reporter_id is not None and user.user_id == row.reporter_id:
        return None
    return store.insert_reminder(
        conn,
        incident_id=int(row.id),
        recipient=recipient_of(row),
        body=message_text(row, category_name, to_state, merged),
        dedupe_key=f"case:{row.id}:event:{event_id}",
        at=at,
    )


def _reminder(r: store.ReminderRow) -> Reminder:
    return Reminder(
        r.id, r.incident_id, r.body, r.created_at.astimezone(SHANGHAI), r.status == "sent"
    )


def reminders_for(
    engine: Engine, user: Principal, *, after_id: int = 0, limit: int = 50
) -> list[Reminder]:
    """The reminders about a signed-in resident's own cases, newest first (none for staff)."""
    if user.role != "resident":
        return []
    found = store.reminders_of_reporter(engine, user.user_id, after_id=after_id, limit=limit)
    return [_reminder(r) for r in found]


def latest_id(engine: Engine, user: Principal) -> int:
    """The newest reminder id of a resident's cases (0: none): where a live stream starts."""
    return store.latest_reminder_id(engine, user.user_id) if user.role == "resident" else 0


def reminders_of_case(conn: Connection, incident_id: int) -> list[Reminder]:
    """The reminders about one case (the caller decided the reader may see it)."""
    return [_reminder(r) for r in store.reminders_of_case(conn, incident_id)]
