"""The home page's use case: what this person must do now (待办), by role, as counts with links.

Staff and admins see the cases of their area that wait on them: overdue (超期), due
today (今日到期), to register (待立案), to dispatch (待派遣), to verify (待核查) and
escalated (督办); a grid worker the cases assigned to them that are open, overdue, due
today or escalated; a resident their reports not yet finished.  Which cases a user may
see is :func:`grids.access.incident_filter`; the counts are one statement of
:func:`gis.store.incident_store.to_do_counts`.

Each item carries the query of the case desk (``/desk?…``) that lists those cases, so
the list and the count agree: the filters are ``overdue=1``, ``due=today`` and
``state=<state>``, each limited to the caller's area by the desk itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import Engine

from gis import clock
from gis.store import incident_store
from grids.access import ROLE_NAMES_ZH, Principal, incident_filter
from grids.incidents import OPEN_STATES, SHANGHAI


@dataclass(frozen=True)
class ToDoItem:
    """One line of the to-do list: its key, Chinese label, count and where to see the cases.

    ``link`` is a path with its query (``/desk?overdue=1``), or None when no page lists
    those cases for this role.  ``urgent`` marks what is late (overdue, 督办).
    """

    key: str
    label: str
    count: int
    link: str | None
    urgent: bool = False


@dataclass(frozen=True)
class ToDo:
    """What a user must do now: their name and role in Chinese, the items, as of when."""

    display_name: str
    role_name: str
    items: tuple[ToDoItem, ...]
    as_of: datetime


def _end_of_today(now: datetime) -> datetime:
    """Midnight at the end of ``now``'s day in China time."""
    day = now.astimezone(SHANGHAI).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def to_do(engine: Engine, user: Principal) -> ToDo:
    """The to-do counts of the user's role and area, as of :func:`gis.clock.now`."""
    now = clock.now()
    rule = incident_filter(user)
    mine = user.worker_id if user.role == "grid_worker" else None
    with engine.connect() as conn:
        c = incident_store.to_do_counts(
            conn,
            everything=rule.everything,
            grid_ids=rule.grid_ids,
            worker_id=rule.worker_id,
            reporter_id=rule.reporter_id,
            assignee_id=mine,
            open_states=tuple(sorted(OPEN_STATES)),
            now=now,
            day_end=_end_of_today(now),
        )
    if user.is_staff:
        items = (
            ToDoItem("overdue", "超期未办结", c.overdue, "/desk?overdue=1", urgent=True),
            ToDoItem("escalated", "督办", c.escalated, "/desk?state=escalated", urgent=True),
            ToDoItem("due_today", "今日到期", c.due_today, "/desk?due=today"),
            ToDoItem("reported", "待立案", c.reported, "/desk?state=reported"),
            ToDoItem("registered", "待派遣", c.registered, "/desk?state=registered"),
            ToDoItem("resolved", "待核查", c.resolved, "/desk?state=resolved"),
        )
    elif user.role == "grid_worker":
        # the tablet's task list (网格员工作台) takes the sign-in session too
        items = (
            ToDoItem("overdue", "超期未办结", c.overdue, "/worker", urgent=True),
            ToDoItem("escalated", "督办", c.escalated, "/worker", urgent=True),
            ToDoItem("due_today", "今日到期", c.due_today, "/worker"),
            ToDoItem("open", "我的待办任务", c.open, "/worker"),
        )
    else:
        items = (ToDoItem("unfinished", "我反映的问题（处理中）", c.unfinished, None),)
    return ToDo(user.display_name, ROLE_NAMES_ZH[user.role], items, now)
