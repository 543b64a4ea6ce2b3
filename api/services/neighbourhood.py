"""The residents' side of an estate: notices (小区公告 / 社区通知) and wishes (你说我做).

Notices are posted by staff to an estate, a grid, a community or a group of a community's
residents (elderly living alone, disabled …); a resident reads the notices for where they
live (their account's link to the register, else their account's area) with the hazard
alerts sent to their household first, and how many they have not read.

A wish is posted by a resident for their estate; other residents support it (one support
each); staff of the estate's community adopt it, decline it with a reason, or turn it into
a task with an owner and a due date.  Its progress is public to the estate.  Who may do
what is decided in :mod:`grids.access`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine

from analysis.hazard import KIND_NAMES
from gis import clock
from gis.db.principal import as_system
from gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.store import neighbourhood_store as store
from gis.store.neighbourhood_store import Residence
from grids.access import (
    Principal,
    may_manage_community,
    require_community_desk,
    require_resident,
)

SCOPE_NAMES = {"estate": "小区", "grid": "网格", "community": "社区", "group": "特定人群"}
GROUP_NAMES = {
    "elderly_alone": "独居老人",
    "disabled": "残疾人",
    "mobility_impaired": "行动不便者",
    "children": "儿童",
    "vulnerable": "重点关爱人群",
}
WISH_STATE_NAMES = {
    "open": "征集中",
    "adopted": "已采纳",
    "declined": "未采纳",
    "task": "办理中",
}
#: What a decision does: the state it leads to and the states it may start from.
DECISIONS = {
    "adopt": ("adopted", ("open",)),
    "decline": ("declined", ("open", "adopted")),
    "task": ("task", ("open", "adopted")),
}
LIST_LIMIT = 100


@dataclass(frozen=True)
class Community:
    """A community a staff member may post to, with its estates and grids."""

    id: int
    name: str
    estates: tuple[tuple[int, str], ...] = ()
    grids: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Notice:
    """A notice as its readers see it."""

    id: int
    title: str
    body: str
    created_at: datetime
    audience: str
    unread: bool = False
    reads: int = 0


@dataclass(frozen=True)
class AlertNote:
    """A hazard alert (预警通知) sent to the resident's household."""

    id: int
    kind_name: str
    hazard_name: str
    severity: int
    message: str
    created_at: datetime
    #: not yet marked seen (知道了) by the resident: counted among the unread
    unread: bool = False


@dataclass(frozen=True)
class MyNotices:
    """What ``/r/notices`` shows: alerts first, then the notices, and the unread count.

    ``unread``: the notices not yet opened and the alerts not yet seen.
    """

    alerts: tuple[AlertNote, ...]
    notices: tuple[Notice, ...]
    unread: int
    where: str


@dataclass(frozen=True)
class Wish:
    """A wish and its progress, as the estate sees it."""

    id: int
    estate_id: int
    estate_name: str
    community_id: int
    title: str
    body: str
    created_at: datetime
    state: str
    state_name: str
    supports: int
    reason: str | None
    owner: str | None
    due_date: date | None
    mine: bool
    supported: bool


# ------------------------------------------------------------------ where, who


def residence(engine: Engine, user: Principal) -> Residence:
    """Where a resident lives, as far as the register knows.

    Read as the system: a resident may not read the register (row security), but their
    own account's link to it says where they live; only that place leaves this function.
    """
    with as_system():
        return store.residence(engine, user.user_id, clock.now().year)


def communities(engine: Engine, user: Principal) -> tuple[Community, ...]:
    """The communities the staff member may post to, with their estates and grids."""
    require_community_desk(user, "post notices or decide on residents' wishes")
    found = []
    for cid, name, grids in store.communities_in(
        engine, None if user.sees_everything else user.area_id
    ):
        if may_manage_community(user, grids):
            estates, grid_codes = store.community_targets(engine, cid)
            found.append(Community(cid, name, tuple(estates), tuple(grid_codes)))
    return tuple(found)


def _require_community(engine: Engine, user: Principal, community_id: int, what: str) -> None:
    """Forbidden unless the community lies in the staff member's area."""
    require_community_desk(user, what)
    for cid, _, grids in store.communities_in(engine, community_id):
        if cid == community_id:
            if may_manage_community(user, grids):
                return
            raise Forbidden(
                f"community {community_id} lies outside your area: you may {what} only for "
                "the communities you cover"
            )
    raise NotFound(f"no community {community_id}; pick one of your communities from the list")


# ------------------------------------------------------------------ notices


@dataclass(frozen=True)
class NoticeDraft:
    """A notice to post: where to (``scope`` and its target), title and text."""

    community_id: int
    scope: str
    title: str
    body: str
    estate_id: int | None = None
    grid_id: int | None = None
    target_group: str | None = None


def _audience(row: object, names: dict[int, str]) -> str:
    scope = row.scope  # type: ignore[attr-defined]
    if scope == "group":
        return f"{names.get(row.community_id, '社区')}·{GROUP_NAMES[row.target_group]}"  # type: ignore[attr-defined]
    if scope == "estate":
        return names.get(row.estate_id, "小区")  # type: ignore[attr-defined]
    if scope == "grid":
        return "本网格"
    return names.get(row.community_id, "社区")  # type: ignore[attr-defined]


def post_notice(engine: Engine, user: Principal, draft: NoticeDraft) -> int:
    """Post a notice to an estate, a grid, the community or a group of it; its id."""
    _require_community(engine, user, draft.community_id, "post notices")
    title, body = draft.title.strip(), draft.body.strip()
    if not title or not body:
        raise InvalidInput("a notice needs a title (标题) and a text (内容); fill in both")
    values = {"estate_id": None, "grid_id": None, "target_group": None}
    if draft.scope == "estate":
        if draft.estate_id is None or store.estate_community(engine, draft.estate_id) != (
            draft.community_id
        ):
            raise InvalidInput(
                f"estate={draft.estate_id} is not an estate of community {draft.community_id}; "
                "pick one from the list"
            )
        values["estate_id"] = draft.estate_id
    elif draft.scope == "grid":
        if draft.grid_id is None or store.grid_community(engine, draft.grid_id) != (
            draft.community_id
        ):
            raise InvalidInput(
                f"grid={draft.grid_id} is not a current grid of community {draft.community_id}; "
                "pick one from the list"
            )
        values["grid_id"] = draft.grid_id
    elif draft.scope == "group":
        if draft.target_group not in GROUP_NAMES:
            raise InvalidInput(
                f"group={draft.target_group!r} is not a group of residents; use one of "
                f"{', '.join(GROUP_NAMES)}"
            )
        values["target_group"] = draft.target_group
    elif draft.scope != "community":
        raise InvalidInput(
            f"scope={draft.scope!r} is unknown; post to one of {', '.join(SCOPE_NAMES)}"
        )
    return store.insert_notice(
        engine,
        values
        | {
            "community_id": draft.community_id,
            "scope": draft.scope,
            "title": title,
            "body": body,
            "created_at": clock.now(),
            "created_by": user.username,
        },
    )


def posted_notices(engine: Engine, user: Principal) -> tuple[Notice, ...]:
    """The latest notices posted to the staff member's communities, with their reads."""
    mine = communities(engine, user)
    rows = store.notices_of_communities(engine, [c.id for c in mine], LIST_LIMIT)
    names = {c.id: c.name for c in mine} | store.area_names(
        engine, [r.estate_id for r in rows if r.estate_id]
    )
    return tuple(
        Notice(r.id, r.title, r.body, r.created_at, _audience(r, names), reads=int(r.reads))
        for r in rows
    )


def my_notices(engine: Engine, user: Principal) -> MyNotices:
    """The hazard alerts and notices for a resident, newest first, and how many are unread."""
    require_resident(user, "read residents' notices")
    place = residence(engine, user)
    rows = store.notices_for(engine, place, user.user_id, LIST_LIMIT)
    ids = {r.community_id for r in rows} | {r.estate_id for r in rows if r.estate_id}
    names = store.area_names(engine, [i for i in ids if i])
    notices = tuple(
        Notice(r.id, r.title, r.body, r.created_at, _audience(r, names), unread=r.read_at is None)
        for r in rows
    )
    alerts = tuple(
        AlertNote(
            a.id,
            KIND_NAMES.get(a.kind, a.kind),
            a.name,
            int(a.severity),
            a.message,
            a.created_at,
            unread=a.seen_at is None,
        )
        for a in _alerts_for(engine, place, user.user_id)
    )
    where = place.estate_name or (names.get(place.community_id or 0) or "")
    unread = store.unread_count(engine, place, user.user_id) + sum(a.unread for a in alerts)
    return MyNotices(alerts, notices, unread, where)


def news_since(engine: Engine, user: Principal, seen: set[tuple[str, int]]) -> MyNotices | None:
    """What ``/r/notices`` shows now that is not in ``seen`` (which then holds it too).

    For a resident's live page (``/api/resident/stream``): the same alerts and notices as
    :func:`my_notices`, so the same rule decides who sees which; only the new ones, with
    the unread count.  None for staff, who have no residents' notices.
    """
    if user.role != "resident":
        return None
    mine = my_notices(engine, user)
    alerts = tuple(a for a in mine.alerts if ("alert", a.id) not in seen)
    notices = tuple(n for n in mine.notices if ("notice", n.id) not in seen)
    seen.update(("alert", a.id) for a in alerts)
    seen.update(("notice", n.id) for n in notices)
    return MyNotices(alerts, notices, mine.unread, mine.where)


def _alerts_for(engine: Engine, place: Residence, user_id: int) -> list:
    """The alerts sent to the resident's own household, read as the system.

    Like :func:`residence`: the recipients' table is area-scoped for staff.
    """
    with as_system():
        return store.alerts_for(engine, place, clock.now(), user_id)


def see_alert(engine: Engine, user: Principal, alert_id: int) -> None:
    """The resident has seen an alert to their household (知道了): no longer unread.

    Only an alert ``/r/notices`` shows them (sent to their household, its hazard in
    force); any other id is not found.
    """
    require_resident(user, "mark hazard alerts seen")
    place = residence(engine, user)
    if all(a.id != alert_id for a in _alerts_for(engine, place, user.user_id)):
        raise NotFound(f"no hazard alert {alert_id} for you; see 通知公告 (/r/notices)")
    store.mark_alert_seen(engine, alert_id, user.user_id, clock.now())


def read_notice(engine: Engine, user: Principal, notice_id: int) -> Notice:
    """One notice for the resident, recorded as read."""
    require_resident(user, "read residents' notices")
    place = residence(engine, user)
    row = store.notice_for(engine, place, notice_id)
    if row is None:
        raise NotFound(f"no notice {notice_id} for you; open one from 社区通知 (/r/notices)")
    store.mark_read(engine, notice_id, user.user_id, clock.now())
    names = store.area_names(engine, [i for i in (row.community_id, row.estate_id) if i])
    return Notice(row.id, row.title, row.body, row.created_at, _audience(row, names))


# ------------------------------------------------------------------ wishes


def _wish(row: object, user: Principal, supported: bool = False) -> Wish:
    r = row
    return Wish(
        id=int(r.id),  # type: ignore[attr-defined]
        estate_id=int(r.estate_id),  # type: ignore[attr-defined]
        estate_name=str(r.estate_name),  # type: ignore[attr-defined]
        community_id=int(r.community_id),  # type: ignore[attr-defined]
        title=r.title,  # type: ignore[attr-defined]
        body=r.body,  # type: ignore[attr-defined]
        created_at=r.created_at,  # type: ignore[attr-defined]
        state=r.state,  # type: ignore[attr-defined]
        state_name=WISH_STATE_NAMES[r.state],  # type: ignore[attr-defined]
        supports=int(r.supports),  # type: ignore[attr-defined]
        reason=r.reason,  # type: ignore[attr-defined]
        owner=r.owner,  # type: ignore[attr-defined]
        due_date=r.due_date,  # type: ignore[attr-defined]
        mine=r.author_id == user.user_id,  # type: ignore[attr-defined]
        supported=supported,
    )


def _estate_of(engine: Engine, user: Principal) -> Residence:
    place = residence(engine, user)
    if place.estate_id is None or place.community_id is None:
        raise InvalidInput(
            "your account is not linked to a household of an estate (小区), so there is no "
            "estate to post to; ask your community to link your account"
        )
    return place


def estate_wishes(engine: Engine, user: Principal) -> tuple[str, tuple[Wish, ...]]:
    """The wishes of a resident's estate (its name and the wishes), or of staff's area."""
    if user.role == "resident":
        place = _estate_of(engine, user)
        rows = store.wishes(engine, user_id=user.user_id, estate_id=place.estate_id)
        return place.estate_name or "", tuple(_wish(r, user, r.supported) for r in rows)
    mine = communities(engine, user)
    rows = store.wishes(engine, user_id=user.user_id, community_ids=[c.id for c in mine])
    return "、".join(c.name for c in mine), tuple(_wish(r, user) for r in rows)


def post_wish(engine: Engine, user: Principal, title: str, body: str) -> int:
    """A resident's wish for their estate; its id."""
    require_resident(user, "post a wish (你说我做)")
    place = _estate_of(engine, user)
    title, body = title.strip(), body.strip()
    if not title:
        raise InvalidInput("a wish needs a title (想法): say in a few words what you wish for")
    return store.insert_wish(
        engine,
        {
            "estate_id": place.estate_id,
            "community_id": place.community_id,
            "author_id": user.user_id,
            "title": title,
            "body": body,
            "created_at": clock.now(),
        },
    )


def _visible_wish(engine: Engine, user: Principal, wish_id: int) -> object:
    row = store.wish(engine, wish_id)
    missing = NotFound(f"no wish {wish_id} in your estate; open one from 你说我做 (/r/wishes)")
    if row is None and user.role != "resident":
        # hidden by row security (migration 0026): staff are told it lies outside their
        # area, as the desk always said; read as the system for its community only
        with as_system():
            hidden = store.wish(engine, wish_id)
        if hidden is not None:
            _require_community(engine, user, hidden.community_id, "see or decide on this wish")
    if row is None:
        raise missing
    if user.role == "resident":
        if residence(engine, user).estate_id != row.estate_id:
            raise missing
    else:
        _require_community(engine, user, row.community_id, "see or decide on this wish")
    return row


def wish(engine: Engine, user: Principal, wish_id: int) -> Wish:
    """One wish, to a resident of its estate or staff of its community."""
    return _wish(_visible_wish(engine, user, wish_id), user)


def support_wish(engine: Engine, user: Principal, wish_id: int) -> Wish:
    """A resident of the estate supports a wish (once)."""
    require_resident(user, "support a wish")
    row = _visible_wish(engine, user, wish_id)
    if row.author_id == user.user_id:  # type: ignore[attr-defined]
        raise Conflict(f"wish {wish_id} is your own: others of your estate may support it")
    if not store.support(engine, wish_id, user.user_id, clock.now()):
        raise Conflict(
            f"您已支持过这条心愿，每人支持一次 (you have supported wish {wish_id} already: "
            "one support per resident)"
        )
    return wish(engine, user, wish_id)


@dataclass(frozen=True)
class Decision:
    """What staff make of a wish: ``adopt``, ``decline`` (a reason) or ``task`` (owner, due)."""

    action: str
    reason: str | None = None
    owner: str | None = None
    due_date: date | None = None


def decide_wish(engine: Engine, user: Principal, wish_id: int, decision: Decision) -> Wish:
    """Staff of the wish's community adopt it, decline it or turn it into a task."""
    require_community_desk(user, "decide on residents' wishes")
    row = _visible_wish(engine, user, wish_id)
    if decision.action not in DECISIONS:
        raise InvalidInput(
            f"action={decision.action!r} is unknown; use one of {', '.join(DECISIONS)}"
        )
    state, expected = DECISIONS[decision.action]
    reason = (decision.reason or "").strip() or None
    owner = (decision.owner or "").strip() or None
    if decision.action == "decline" and reason is None:
        raise InvalidInput("declining a wish needs a reason (理由) the residents will read")
    if decision.action == "task":
        if owner is None or decision.due_date is None:
            raise InvalidInput("a task needs an owner (负责人) and a due date (完成期限)")
        if decision.due_date < clock.now().date():
            raise InvalidInput(f"due date {decision.due_date} has passed; pick today or later")
    done = store.decide(
        engine,
        wish_id,
        expected=expected,
        state=state,
        reason=reason if decision.action == "decline" else None,
        owner=owner if decision.action == "task" else None,
        due_date=decision.due_date if decision.action == "task" else None,
        by=user.username,
        at=clock.now(),
    )
    if not done:
        raise Conflict(
            f"wish {wish_id} is {WISH_STATE_NAMES[row.state]} already"  # type: ignore[attr-defined]
            f" and cannot be {decision.action}ed now; reload the page"
        )
    return wish(engine, user, wish_id)


def link_account(engine: Engine, username: str, resident_ref: str) -> int:
    """Link a resident's account to their person in the register; the resident's id.

    Their notices, wishes and alerts then follow where they live (estate, grid, groups).
    """
    found = store.link_account(engine, username, resident_ref)
    if found is None:
        raise NotFound(
            f"no account {username!r} or no resident {resident_ref!r} (人员编号 or id): check "
            "'wangge users add' and the register"
        )
    role, resident_id = found
    if role != "resident":
        raise InvalidInput(
            f"{username!r} is a {role} account: only a resident's account is linked to the register"
        )
    return resident_id
