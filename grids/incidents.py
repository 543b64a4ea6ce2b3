"""The incident life cycle (事件闭环) as a pure state machine: who may move a case where, and when.

采集 reported → 立案 registered → 派遣 dispatched (the deadline clock starts) → 处置
in_progress → 反馈 resolved → 核查 verified → 结案 closed → 评价 rated, with 不予立案
rejected (from reported), 核查不通过 returned (back to in_progress for rework) and 督办
escalated (an overdue case is supervised by the community, then by the street).

Nothing here touches a database or HTTP: :func:`report` opens a case, :func:`apply`
moves it and returns the new :class:`IncidentState` with the :class:`Transition` to
record (an ``incident_event`` row: from, to, when, who, note), and
:func:`escalation_due` says which open cases need a reminder or an escalation now.
Times are timezone-aware and kept in Asia/Shanghai; a naive time is refused.

The action of a transition can be told from its (from state, to state) pair alone,
so a history stored as ``incident_event`` rows loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from gis.db.models import INCIDENT_STATES
from gis.db.models import ROLES as MODEL_ROLES
from gis.errors import Conflict, Forbidden, GridError, InvalidInput
from grids.categories import CATEGORY_BY_CODE, Category

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: The states, as the database knows them.
STATES: tuple[str, ...] = INCIDENT_STATES
STATE_NAMES_ZH: Mapping[str, str] = {
    "reported": "采集",
    "registered": "立案",
    "dispatched": "派遣",
    "in_progress": "处置",
    "resolved": "反馈",
    "verified": "核查",
    "closed": "结案",
    "rated": "评价",
    "rejected": "不予立案",
    "returned": "核查不通过",
    "escalated": "督办",
}
#: What a stranger (a resident, an Open311 reader without a key) is told of each state:
#: plain Chinese, no internal steps (核查, 督办) named.
PUBLIC_STATE_NAMES_ZH: Mapping[str, str] = {
    "reported": "已受理",
    "registered": "已立案",
    "dispatched": "已派给网格员",
    "in_progress": "处理中",
    "resolved": "处理中",
    "verified": "处理中",
    "returned": "处理中",
    "escalated": "处理中",
    "closed": "已办结",
    "rated": "已办结",
    "rejected": "不予受理",
}
#: The roles, as the database knows them.
ROLES: tuple[str, ...] = MODEL_ROLES
#: Staff who act on the cases of their area (立案, 派遣, 核查, 结案, 督办): community and
#: street staff, and the district and city staff who supervise them.
STAFF: frozenset[str] = frozenset(
    {"community_staff", "street_staff", "district_staff", "city_staff"}
)

#: States in which the deadline runs: dispatched and not yet reported back.
OPEN_STATES: frozenset[str] = frozenset({"dispatched", "in_progress", "returned", "escalated"})
#: States from which no action leads anywhere.
FINAL_STATES: frozenset[str] = frozenset({"rated", "rejected"})

#: Escalation (督办) levels: 0 none, 1 the community supervises, 2 the street does.
COMMUNITY, STREET = 1, 2
LEVEL_NAMES: Mapping[int, str] = {COMMUNITY: "community", STREET: "street"}

#: Who may open a case (采集): residents by app, workers on patrol, staff for the hotline.
REPORTERS: frozenset[str] = frozenset(ROLES)


class IllegalTransition(GridError, Conflict):
    """The action is unknown or cannot be taken from the incident's current state."""

    title = "Not possible in this state"


class NotAllowed(GridError, Forbidden):
    """The actor's role, or their relation to the case, does not permit the action."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a user name (recorded), a role, and the ids the guards compare.

    Parameters
    ----------
    username
        Recorded in ``incident_event.actor``.
    role
        One of :data:`ROLES`.
    user_id
        ``app_user.id``; compared with the incident's reporter for rating.
    worker_id
        ``grid_worker.id`` when the user is a grid worker; compared with the assignee.
    """

    username: str
    role: str
    user_id: int | None = None
    worker_id: int | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidInput(f"unknown role {self.role!r}; roles are {', '.join(ROLES)}")


#: The actor the escalation job acts as.
SYSTEM = Actor("system", "admin")


@dataclass(frozen=True)
class Rule:
    """One action: the states it leaves, the state it reaches and who may take it.

    ``assignee_only`` and ``reporter_only`` bind every role but admin.
    """

    action: str
    name_zh: str
    sources: tuple[str, ...]
    target: str
    roles: frozenset[str]
    assignee_only: bool = False
    reporter_only: bool = False
    note_required: bool = False


_COMMUNITY_AND_UP = STAFF | {"admin"}

RULES: tuple[Rule, ...] = (
    Rule("register", "立案", ("reported",), "registered", _COMMUNITY_AND_UP),
    Rule("reject", "不予立案", ("reported",), "rejected", _COMMUNITY_AND_UP, note_required=True),
    Rule("dispatch", "派遣", ("registered",), "dispatched", _COMMUNITY_AND_UP),
    Rule(
        "reassign",
        "改派",
        ("dispatched", "in_progress", "returned", "escalated"),
        "dispatched",
        _COMMUNITY_AND_UP,
    ),
    Rule(
        "start",
        "接单处置",
        ("dispatched", "returned", "escalated"),
        "in_progress",
        frozenset({"grid_worker", "admin"}),
        assignee_only=True,
    ),
    Rule(
        "resolve",
        "反馈",
        ("in_progress", "escalated"),
        "resolved",
        frozenset({"grid_worker", "admin"}),
        assignee_only=True,
    ),
    Rule("verify", "核查通过", ("resolved",), "verified", _COMMUNITY_AND_UP),
    Rule("return", "核查不通过", ("resolved",), "returned", _COMMUNITY_AND_UP, note_required=True),
    Rule("close", "结案", ("verified",), "closed", _COMMUNITY_AND_UP),
    Rule("rate", "评价", ("closed",), "rated", frozenset(ROLES), reporter_only=True),
    Rule(
        "escalate",
        "督办",
        ("dispatched", "in_progress", "returned", "escalated"),
        "escalated",
        _COMMUNITY_AND_UP,
    ),
)
RULE_BY_ACTION: Mapping[str, Rule] = {r.action: r for r in RULES}
ACTIONS: tuple[str, ...] = tuple(RULE_BY_ACTION)

#: The transition table: (from state, action) → to state.
TRANSITIONS: Mapping[tuple[str, str], str] = {
    (source, r.action): r.target for r in RULES for source in r.sources
}
#: The same table read backwards: (from state, to state) → action.
ACTION_OF: Mapping[tuple[str, str], str] = {
    (source, target): action for (source, action), target in TRANSITIONS.items()
}


@dataclass(frozen=True)
class Transition:
    """One recorded step: an ``incident_event`` row plus the action and the actor's role."""

    action: str
    from_state: str | None
    to_state: str
    at: datetime
    actor: Actor
    note: str | None = None


@dataclass(frozen=True)
class IncidentState:
    """What the life cycle needs to know about one incident.

    ``dispatched_at``, ``resolved_at``, ``escalation_level`` and ``escalated_at`` are
    not columns of ``incident``: they follow from its events.
    """

    id: int | None
    category_code: str
    state: str
    reported_at: datetime
    reporter_id: int | None = None
    assignee_id: int | None = None
    dispatched_at: datetime | None = None
    deadline: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    rating: int | None = None
    escalation_level: int = 0
    escalated_at: datetime | None = None
    history: tuple[Transition, ...] = field(default=(), repr=False)

    @property
    def last_at(self) -> datetime:
        """The time of the latest recorded step (the report time without history)."""
        return self.history[-1].at if self.history else self.reported_at


def _local(at: datetime, what: str = "time") -> datetime:
    """``at`` in Asia/Shanghai; a naive time is refused."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"{what} {at.isoformat()} has no time zone; give an aware datetime")
    return at.astimezone(SHANGHAI)


def _category(code: str, categories: Mapping[str, Category]) -> Category:
    try:
        return categories[code]
    except KeyError:
        raise InvalidInput(f"unknown incident category {code!r}") from None


def _state_label(state: str) -> str:
    return f"{state} ({STATE_NAMES_ZH.get(state, '?')})"


def deadline_for(category: Category, dispatched_at: datetime) -> datetime:
    """The deadline of a case dispatched at ``dispatched_at``: plus the category's time limit.

    Parameters
    ----------
    category
        The incident's category; its ``time_limit_hours`` are calendar hours.
    dispatched_at
        The time of 派遣 (timezone-aware).

    Returns
    -------
    datetime
        The deadline, in Asia/Shanghai.
    """
    return _local(dispatched_at) + timedelta(hours=category.time_limit_hours)


def report(
    category_code: str,
    actor: Actor,
    at: datetime,
    note: str | None = None,
    *,
    incident_id: int | None = None,
    categories: Mapping[str, Category] = CATEGORY_BY_CODE,
) -> tuple[IncidentState, Transition]:
    """Open a case (采集): a new incident in state ``reported``, reported by ``actor``.

    Parameters
    ----------
    category_code
        A key of ``categories``.
    actor
        The reporter; their ``user_id`` becomes the reporter who may rate the case.
    at
        When it was reported (timezone-aware).
    note
        Recorded with the first transition.
    incident_id
        The id when already known.
    categories
        The category table; the seeded defaults unless given.

    Returns
    -------
    tuple[IncidentState, Transition]
        The new case and its first transition (``from_state`` None).

    Raises
    ------
    InvalidInput
        For an unknown category or a naive time.
    NotAllowed
        When the actor's role may not report.
    """
    _category(category_code, categories)
    if actor.role not in REPORTERS:
        raise NotAllowed(f"{actor.role} {actor.username} may not report an incident")
    at = _local(at)
    step = Transition("report", None, "reported", at, actor, note)
    incident = IncidentState(
        id=incident_id,
        category_code=category_code,
        state="reported",
        reported_at=at,
        reporter_id=actor.user_id,
        history=(step,),
    )
    return incident, step


def possible_actions(state: str) -> tuple[str, ...]:
    """The actions the transition table allows from ``state``, whoever acts."""
    return tuple(action for (source, action) in TRANSITIONS if source == state)


def _legal_now(incident: IncidentState, action: str) -> bool:
    """Whether the table allows ``action`` now, counting the escalation ceiling."""
    if (incident.state, action) not in TRANSITIONS:
        return False
    return not (action == "escalate" and incident.escalation_level >= STREET)


def _refusal(incident: IncidentState, rule: Rule, actor: Actor) -> str | None:
    """Why ``actor`` may not take ``rule`` on ``incident``; None when they may."""
    if actor.role == "admin":
        return None
    if actor.role not in rule.roles:
        roles = ", ".join(r for r in ROLES if r in rule.roles)
        return f"only {roles} may {rule.action} ({rule.name_zh})"
    if rule.assignee_only and (actor.worker_id is None or actor.worker_id != incident.assignee_id):
        return (
            f"only the assignee (worker {incident.assignee_id}) may {rule.action} "
            f"({rule.name_zh}), not worker {actor.worker_id}"
        )
    if rule.reporter_only and (actor.user_id is None or actor.user_id != incident.reporter_id):
        return f"only the reporter may {rule.action} ({rule.name_zh}) this incident"
    return None


def allowed_actions(incident: IncidentState, actor: Actor) -> tuple[str, ...]:
    """The actions ``actor`` may take on ``incident`` now, in the order of :data:`RULES`.

    Parameters
    ----------
    incident
        The case as it stands.
    actor
        Who asks.

    Returns
    -------
    tuple[str, ...]
        Action names; empty for a final state or an actor with nothing to do.
    """
    return tuple(
        r.action
        for r in RULES
        if _legal_now(incident, r.action) and _refusal(incident, r, actor) is None
    )


def _describe(incident: IncidentState) -> str:
    ident = f"incident {incident.id}" if incident.id is not None else "the incident"
    return f"{ident} is {_state_label(incident.state)}"


def _possible_text(incident: IncidentState) -> str:
    now = [a for a in possible_actions(incident.state) if _legal_now(incident, a)]
    if not now:
        return "no action is possible from here"
    return "possible now: " + ", ".join(now)


def apply(
    incident: IncidentState,
    action: str,
    actor: Actor,
    at: datetime,
    note: str | None = None,
    *,
    assignee_id: int | None = None,
    rating: int | None = None,
    categories: Mapping[str, Category] = CATEGORY_BY_CODE,
) -> tuple[IncidentState, Transition]:
    """Take ``action`` on ``incident``: check it, then return the new state and the step.

    Parameters
    ----------
    incident
        The case as it stands.
    action
        One of :data:`ACTIONS`.
    actor
        Who acts.
    at
        When (timezone-aware, not before the case's latest step).
    note
        Recorded with the step; required to reject and to return for rework.
    assignee_id
        The worker to dispatch or reassign to (required for those two actions).
    rating
        1–5, required to rate.
    categories
        The category table, for the deadline at dispatch.

    Returns
    -------
    tuple[IncidentState, Transition]
        The new state (its history ends with the step) and the step to record.

    Raises
    ------
    IllegalTransition
        For an unknown action, or one the current state does not allow.
    NotAllowed
        When the actor's role, or their relation to the case, does not permit it.
    InvalidInput
        For a naive or backwards time, or missing or wrong details.
    """
    rule = RULE_BY_ACTION.get(action)
    if rule is None:
        raise IllegalTransition(
            f"unknown action {action!r}; actions are {', '.join(ACTIONS)}; "
            f"{_describe(incident)}, {_possible_text(incident)}"
        )
    if actor.role != "admin" and actor.role not in rule.roles:
        reason = _refusal(incident, rule, actor)
        raise NotAllowed(f"{actor.role} {actor.username} may not {action}: {reason}")
    if not _legal_now(incident, action):
        why = (
            "it is already escalated to the street, the highest level"
            if (incident.state, action) in TRANSITIONS
            else f"{_describe(incident)}"
        )
        raise IllegalTransition(
            f"cannot {action} ({rule.name_zh}): {why}; {_possible_text(incident)}"
        )
    reason = _refusal(incident, rule, actor)
    if reason is not None:
        raise NotAllowed(f"{actor.role} {actor.username} may not {action}: {reason}")

    at = _local(at)
    if at < incident.last_at:
        raise InvalidInput(
            f"cannot {action} at {at.isoformat()}: before the latest step "
            f"at {incident.last_at.isoformat()}"
        )
    if rule.note_required and not (note and note.strip()):
        raise InvalidInput(f"{action} ({rule.name_zh}) needs a note saying why")

    new = replace(incident, state=rule.target)
    if action in ("dispatch", "reassign"):
        if assignee_id is None:
            raise InvalidInput(f"{action} ({rule.name_zh}) needs assignee_id, the worker")
        if action == "reassign" and assignee_id == incident.assignee_id:
            raise InvalidInput(f"worker {assignee_id} is already the assignee")
        new = replace(new, assignee_id=assignee_id)
        if action == "dispatch":
            category = _category(incident.category_code, categories)
            new = replace(new, dispatched_at=at, deadline=deadline_for(category, at))
    elif assignee_id is not None:
        raise InvalidInput(f"{action} takes no assignee_id")
    if action == "rate":
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise InvalidInput(f"rate (评价) needs a rating from 1 to 5, not {rating!r}")
        new = replace(new, rating=rating)
    elif rating is not None:
        raise InvalidInput(f"{action} takes no rating")
    if action == "resolve":
        new = replace(new, resolved_at=at)
    elif action == "close":
        new = replace(new, closed_at=at)
    elif action == "escalate":
        new = replace(new, escalation_level=incident.escalation_level + 1, escalated_at=at)

    step = Transition(action, incident.state, rule.target, at, actor, note)
    return replace(new, history=(*incident.history, step)), step


def restore(
    *,
    incident_id: int,
    category_code: str,
    state: str,
    reported_at: datetime,
    events: Iterable[tuple[str | None, str, datetime, str | None, str | None]],
    reporter_id: int | None = None,
    assignee_id: int | None = None,
    deadline: datetime | None = None,
    closed_at: datetime | None = None,
    rating: int | None = None,
) -> IncidentState:
    """A stored incident as the life cycle sees it, its derived times replayed from its events.

    Parameters
    ----------
    incident_id, category_code, state, reported_at, reporter_id, assignee_id, deadline,
    closed_at, rating
        The ``incident`` row.
    events
        Its ``incident_event`` rows as (from state, to state, at, actor, note), by time.
        The action of each follows from its state pair (:data:`ACTION_OF`); a step that
        leaves the state unchanged and is no action (a note, e.g. a merge) is kept as
        action ``"note"``.  The role of a past actor is not stored: replayed steps
        carry the recorded user name with role ``admin`` and are for display only
        (guards compare the incident's current fields, never past actors).

    Returns
    -------
    IncidentState
        With ``dispatched_at`` (first dispatch), ``resolved_at`` (latest), and the
        escalation level and time counted from the 督办 steps.
    """
    history: list[Transition] = []
    dispatched_at = resolved_at = escalated_at = None
    level = 0
    for from_state, to_state, at, actor, note in events:
        at = _local(at, "event time")
        action = "report" if from_state is None else ACTION_OF.get((from_state, to_state), "note")
        if action == "dispatch" and dispatched_at is None:
            dispatched_at = at
        elif action == "resolve":
            resolved_at = at
        elif action == "escalate":
            level, escalated_at = min(level + 1, STREET), at
        history.append(
            Transition(action, from_state, to_state, at, Actor(actor or "system", "admin"), note)
        )
    return IncidentState(
        id=incident_id,
        category_code=category_code,
        state=state,
        reported_at=_local(reported_at),
        reporter_id=reporter_id,
        assignee_id=assignee_id,
        dispatched_at=dispatched_at,
        deadline=None if deadline is None else _local(deadline),
        resolved_at=resolved_at,
        closed_at=None if closed_at is None else _local(closed_at),
        rating=rating,
        escalation_level=level,
        escalated_at=escalated_at,
        history=tuple(history),
    )


# ------------------------------------------------------------------ reminders, 督办


@dataclass(frozen=True)
class EscalationPolicy:
    """When to remind the assignee and when an overdue case goes up a level.

    Parameters
    ----------
    remind_at
        A reminder is due at this fraction of the time limit after dispatch.
    street_after
        A fixed delay after the community escalation before the street's; when None,
        ``street_after_fraction`` of the category's time limit.
    street_after_fraction
        The street's delay as a fraction of the time limit (a 1-hour 火情 waits half
        an hour, a 240-hour 违章建筑 five days).
    """

    remind_at: float = 0.8
    street_after: timedelta | None = None
    street_after_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.remind_at < 1:
            raise InvalidInput(f"remind_at must lie strictly between 0 and 1, not {self.remind_at}")
        if self.street_after is not None and self.street_after < timedelta(0):
            raise InvalidInput("street_after must not be negative")
        if self.street_after_fraction < 0:
            raise InvalidInput("street_after_fraction must not be negative")

    def street_delay(self, category: Category) -> timedelta:
        """How long the community has, after its escalation, before the street takes over."""
        if self.street_after is not None:
            return self.street_after
        return timedelta(hours=category.time_limit_hours * self.street_after_fraction)


@dataclass(frozen=True)
class Reminder:
    """A reminder to the assignee: the deadline is near."""

    incident_id: int | None
    assignee_id: int | None
    due_at: datetime
    deadline: datetime


@dataclass(frozen=True)
class Escalation:
    """An overdue case to escalate (督办) to ``level``: 1 community, 2 street."""

    incident_id: int | None
    level: int
    due_at: datetime
    deadline: datetime
    overdue_by: timedelta

    @property
    def to(self) -> str:
        """``'community'`` or ``'street'``."""
        return LEVEL_NAMES[self.level]


@dataclass(frozen=True)
class DueNow:
    """What :func:`escalation_due` finds: reminders and escalations, earliest due first."""

    reminders: tuple[Reminder, ...]
    escalations: tuple[Escalation, ...]


def escalation_due(
    incidents: Iterable[IncidentState],
    now: datetime,
    *,
    since: datetime | None = None,
    policy: EscalationPolicy | None = None,
    categories: Mapping[str, Category] = CATEGORY_BY_CODE,
) -> DueNow:
    """Which open cases need a reminder, and which must escalate and to which level.

    Only open cases (dispatched, in progress, returned or escalated: not yet reported
    back) with a deadline count.  A case not yet escalated escalates to the community
    once its deadline has passed; one escalated to the community escalates to the
    street once the policy's further delay has passed since that escalation; one at
    the street goes no higher.  One level per call: applying the escalation (action
    ``escalate``) is what moves the case on.

    A reminder is due at ``policy.remind_at`` of the time limit after dispatch, while
    the deadline has not passed and the case was never escalated.  Reminders are not
    recorded on the case, so pass ``since`` (the previous run) to get only those that
    fell due after it.

    Parameters
    ----------
    incidents
        The cases to look at; closed and other cases are skipped.
    now
        The time of the check (timezone-aware).
    since
        Only reminders that fell due after this time (exclusive); all when None.
    policy
        Reminder and escalation timings; the defaults when None.
    categories
        The category table, for the time limits.

    Returns
    -------
    DueNow
        Reminders and escalations, each sorted by when they fell due.
    """
    policy = policy or EscalationPolicy()
    now = _local(now, "now")
    since = _local(since, "since") if since is not None else None
    reminders: list[Reminder] = []
    escalations: list[Escalation] = []
    for incident in incidents:
        if incident.state not in OPEN_STATES or incident.deadline is None:
            continue
        category = _category(incident.category_code, categories)
        deadline = incident.deadline
        if incident.escalation_level == 0:
            if now >= deadline:
                escalations.append(
                    Escalation(incident.id, COMMUNITY, deadline, deadline, now - deadline)
                )
                continue
            start = incident.dispatched_at or deadline - timedelta(hours=category.time_limit_hours)
            remind = start + (deadline - start) * policy.remind_at
            if remind <= now and (since is None or remind > since):
                reminders.append(Reminder(incident.id, incident.assignee_id, remind, deadline))
        elif incident.escalation_level == COMMUNITY:
            base = incident.escalated_at or deadline
            due = max(base + policy.street_delay(category), deadline)
            if now >= due:
                escalations.append(Escalation(incident.id, STREET, due, deadline, now - deadline))
    reminders.sort(key=lambda r: r.due_at)
    escalations.sort(key=lambda e: e.due_at)
    return DueNow(tuple(reminders), tuple(escalations))
