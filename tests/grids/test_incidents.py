"""The incident life cycle: transitions, guards, deadlines, rework, reminders and 督办."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.db.models import INCIDENT_STATES
from gis.db.models import ROLES as MODEL_ROLES
from grids.categories import CATEGORY_BY_CODE, Category
from grids.incidents import (
    ACTION_OF,
    ACTIONS,
    COMMUNITY,
    FINAL_STATES,
    ROLES,
    RULE_BY_ACTION,
    SHANGHAI,
    STATE_NAMES_ZH,
    STATES,
    STREET,
    SYSTEM,
    TRANSITIONS,
    Actor,
    EscalationPolicy,
    IllegalTransition,
    IncidentState,
    InvalidInput,
    NotAllowed,
    allowed_actions,
    apply,
    deadline_for,
    escalation_due,
    possible_actions,
    report,
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=SHANGHAI)
RESIDENT = Actor("wang.fang", "resident", user_id=101)
OTHER_RESIDENT = Actor("li.lei", "resident", user_id=102)
WORKER = Actor("zhang.wei", "grid_worker", user_id=201, worker_id=7)
OTHER_WORKER = Actor("chen.jing", "grid_worker", user_id=202, worker_id=8)
COMMUNITY_STAFF = Actor("liu.min", "community_staff", user_id=301)
STREET_STAFF = Actor("zhao.qiang", "street_staff", user_id=401)
ADMIN = Actor("root", "admin", user_id=1)

MANHOLE = "10101"  # 井盖破损缺失, 24 h
FIRE = "20402"  # 火情, 1 h


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def dispatched(code: str = MANHOLE, at: datetime = T0) -> IncidentState:
    """A resident's report, registered and dispatched to worker 7 at ``at``."""
    inc, _ = report(code, RESIDENT, at - h(1), incident_id=1)
    inc, _ = apply(inc, "register", COMMUNITY_STAFF, at - h(0.5))
    inc, _ = apply(inc, "dispatch", COMMUNITY_STAFF, at, assignee_id=7)
    return inc


def in_state(state: str) -> IncidentState:
    """A case sitting in ``state``, with an assignee, a reporter and a deadline."""
    return IncidentState(
        id=42,
        category_code=MANHOLE,
        state=state,
        reported_at=T0 - h(2),
        reporter_id=RESIDENT.user_id,
        assignee_id=7,
        dispatched_at=T0 - h(1),
        deadline=T0 + h(23),
    )


def details(action: str) -> dict[str, Any]:
    """What each action needs besides the actor and the time."""
    needs: dict[str, dict[str, Any]] = {
        "dispatch": {"assignee_id": 7},
        "reassign": {"assignee_id": 9},
        "rate": {"rating": 4},
        "reject": {"note": "重复上报"},
        "return": {"note": "井盖未固定"},
    }
    return needs.get(action, {})


# ------------------------------------------------------------------ the table


def test_states_and_roles_are_the_data_models() -> None:
    assert STATES == INCIDENT_STATES
    assert ROLES == MODEL_ROLES
    assert set(STATE_NAMES_ZH) == set(STATES)


def test_table_uses_known_states_and_every_state_is_reachable() -> None:
    assert {s for s, _ in TRANSITIONS} | set(TRANSITIONS.values()) <= set(STATES)
    reachable = {"reported"} | set(TRANSITIONS.values())
    assert reachable == set(STATES)
    for state in FINAL_STATES:
        assert possible_actions(state) == ()


def test_action_follows_from_the_two_states_so_events_lose_nothing() -> None:
    assert len(ACTION_OF) == len(TRANSITIONS)
    for (source, action), target in TRANSITIONS.items():
        assert ACTION_OF[source, target] == action


# ------------------------------------------------------------------ the happy path


def test_a_residents_report_goes_round_the_whole_loop_to_a_rating() -> None:
    inc, first = report(MANHOLE, RESIDENT, T0, "井盖缺失，有人差点踩空", incident_id=1)
    assert (inc.state, inc.reporter_id, first.from_state) == ("reported", 101, None)
    steps: list[tuple[str, Actor, timedelta, str | None, dict[str, Any]]] = [
        ("register", COMMUNITY_STAFF, h(0.5), "属实，立案", {}),
        ("dispatch", COMMUNITY_STAFF, h(1), None, {"assignee_id": 7}),
        ("start", WORKER, h(1.5), "已到现场", {}),
        ("resolve", WORKER, h(5), "已更换井盖", {}),
        ("verify", COMMUNITY_STAFF, h(6), "现场核查通过", {}),
        ("close", COMMUNITY_STAFF, h(6.5), None, {}),
        ("rate", RESIDENT, h(30), "很快", {"rating": 5}),
    ]
    for action, actor, after, note, extra in steps:
        inc, step = apply(inc, action, actor, T0 + after, note, **extra)
        assert (step.action, step.actor, step.at, step.note) == (action, actor, T0 + after, note)
    assert inc.state == "rated"
    assert [t.to_state for t in inc.history] == [
        "reported",
        "registered",
        "dispatched",
        "in_progress",
        "resolved",
        "verified",
        "closed",
        "rated",
    ]
    for before, then in zip(inc.history, inc.history[1:], strict=False):
        assert then.from_state == before.to_state
        assert then.at >= before.at
    assert [t.actor.username for t in inc.history] == [
        "wang.fang",
        "liu.min",
        "liu.min",
        "zhang.wei",
        "zhang.wei",
        "liu.min",
        "liu.min",
        "wang.fang",
    ]
    assert inc.history[0].note == "井盖缺失，有人差点踩空"
    assert inc.assignee_id == 7
    assert inc.dispatched_at == T0 + h(1)
    assert inc.deadline == T0 + h(25)  # 24 h from dispatch
    assert inc.resolved_at == T0 + h(5)
    assert inc.closed_at == T0 + h(6.5)
    assert inc.rating == 5
    assert allowed_actions(inc, ADMIN) == ()


def test_a_report_can_be_rejected_with_a_reason() -> None:
    inc, _ = report(MANHOLE, RESIDENT, T0)
    with pytest.raises(InvalidInput, match="needs a note"):
        apply(inc, "reject", COMMUNITY_STAFF, T0 + h(1))
    inc, step = apply(inc, "reject", COMMUNITY_STAFF, T0 + h(1), "不属于本网格职责")
    assert (inc.state, step.note) == ("rejected", "不属于本网格职责")
    assert allowed_actions(inc, ADMIN) == ()


def test_states_are_frozen_and_apply_returns_a_new_one() -> None:
    inc, _ = report(MANHOLE, RESIDENT, T0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        field = "state"
        setattr(inc, field, "closed")
    new, _ = apply(inc, "register", COMMUNITY_STAFF, T0 + h(1))
    assert (inc.state, len(inc.history)) == ("reported", 1)
    assert (new.state, len(new.history)) == ("registered", 2)


# ------------------------------------------------------------------ illegal transitions


@pytest.mark.parametrize("state", STATES)
def test_every_illegal_transition_is_refused_with_a_message(state) -> None:
    inc = in_state(state)
    legal = possible_actions(state)
    for action in ACTIONS:
        if action in legal:
            continue
        with pytest.raises(IllegalTransition) as err:
            apply(inc, action, ADMIN, T0, **details(action))
        message = str(err.value)
        assert action in message
        assert state in message and STATE_NAMES_ZH[state] in message
        if legal:
            assert "possible now: " + ", ".join(legal) in message
        else:
            assert "no action is possible" in message


@pytest.mark.parametrize(("state", "action"), sorted(TRANSITIONS))
def test_every_legal_transition_is_taken(state, action) -> None:
    inc, step = apply(in_state(state), action, ADMIN, T0, **details(action))
    assert inc.state == TRANSITIONS[state, action] == step.to_state
    assert step.from_state == state


def test_an_unknown_action_lists_the_actions() -> None:
    with pytest.raises(IllegalTransition, match=r"unknown action 'approve'.*register, reject"):
        apply(in_state("reported"), "approve", ADMIN, T0)


def test_bad_details_are_refused() -> None:
    inc = in_state("registered")
    with pytest.raises(InvalidInput, match="needs assignee_id"):
        apply(inc, "dispatch", COMMUNITY_STAFF, T0)
    with pytest.raises(InvalidInput, match="no time zone"):
        apply(inc, "dispatch", COMMUNITY_STAFF, datetime(2026, 5, 4, 9), assignee_id=7)
    with pytest.raises(InvalidInput, match="before the latest step"):
        apply(dispatched(), "start", WORKER, T0 - h(1))
    with pytest.raises(InvalidInput, match="already the assignee"):
        apply(in_state("dispatched"), "reassign", COMMUNITY_STAFF, T0, assignee_id=7)
    with pytest.raises(InvalidInput, match="takes no rating"):
        apply(in_state("resolved"), "verify", COMMUNITY_STAFF, T0, rating=3)
    closed = in_state("closed")
    bad: Any
    for bad in (0, 6, None, True, 4.5):
        with pytest.raises(InvalidInput, match="rating from 1 to 5"):
            apply(closed, "rate", RESIDENT, T0, rating=bad)
    with pytest.raises(InvalidInput, match="unknown incident category"):
        report("99999", RESIDENT, T0)
    with pytest.raises(InvalidInput, match="unknown role"):
        Actor("x", "mayor")


# ------------------------------------------------------------------ who may


def test_a_resident_cannot_dispatch() -> None:
    with pytest.raises(NotAllowed, match=r"resident wang.fang may not dispatch.*community_staff"):
        apply(in_state("registered"), "dispatch", RESIDENT, T0, assignee_id=7)
    # refused for the role whatever the state, without telling the state
    with pytest.raises(NotAllowed):
        apply(in_state("reported"), "dispatch", RESIDENT, T0, assignee_id=7)


def test_only_the_assignee_may_start_and_resolve() -> None:
    inc = dispatched()
    with pytest.raises(NotAllowed, match=r"only the assignee \(worker 7\).*not worker 8"):
        apply(inc, "start", OTHER_WORKER, T0 + h(1))
    inc, _ = apply(inc, "start", WORKER, T0 + h(1))
    with pytest.raises(NotAllowed, match="only the assignee"):
        apply(inc, "resolve", OTHER_WORKER, T0 + h(2))
    with pytest.raises(NotAllowed, match="grid_worker"):
        apply(inc, "resolve", COMMUNITY_STAFF, T0 + h(2))
    inc, _ = apply(inc, "resolve", WORKER, T0 + h(2))
    assert inc.state == "resolved"


def test_a_reassigned_case_belongs_to_the_new_worker() -> None:
    inc, _ = apply(
        dispatched(), "reassign", COMMUNITY_STAFF, T0 + h(1), "原网格员请假", assignee_id=8
    )
    assert (inc.state, inc.assignee_id, inc.deadline) == ("dispatched", 8, T0 + h(24))
    with pytest.raises(NotAllowed):
        apply(inc, "start", WORKER, T0 + h(2))
    inc, _ = apply(inc, "start", OTHER_WORKER, T0 + h(2))
    assert inc.state == "in_progress"


def test_only_the_reporter_rates() -> None:
    inc = in_state("closed")
    for actor in (OTHER_RESIDENT, WORKER, COMMUNITY_STAFF):
        with pytest.raises(NotAllowed):
            apply(inc, "rate", actor, T0, rating=1)
    assert apply(inc, "rate", RESIDENT, T0, rating=2)[0].rating == 2
    assert apply(inc, "rate", ADMIN, T0, rating=3)[0].rating == 3


def test_workers_and_residents_do_not_manage_cases() -> None:
    for action, state in [("register", "reported"), ("verify", "resolved"), ("close", "verified")]:
        for actor in (RESIDENT, WORKER):
            with pytest.raises(NotAllowed, match=f"may not {action}"):
                apply(in_state(state), action, actor, T0, **details(action))
        for actor in (COMMUNITY_STAFF, STREET_STAFF, ADMIN):
            apply(in_state(state), action, actor, T0, **details(action))


def test_anyone_may_report_and_the_reporter_is_remembered() -> None:
    for actor in (RESIDENT, WORKER, COMMUNITY_STAFF, STREET_STAFF, ADMIN):
        inc, _ = report(MANHOLE, actor, T0)
        assert inc.reporter_id == actor.user_id


@pytest.mark.parametrize(
    ("state", "actor", "expected"),
    [
        ("reported", RESIDENT, ()),
        ("reported", COMMUNITY_STAFF, ("register", "reject")),
        ("registered", COMMUNITY_STAFF, ("dispatch",)),
        ("registered", WORKER, ()),
        ("dispatched", WORKER, ("start",)),
        ("dispatched", OTHER_WORKER, ()),
        ("dispatched", COMMUNITY_STAFF, ("reassign", "escalate")),
        ("in_progress", WORKER, ("resolve",)),
        ("resolved", COMMUNITY_STAFF, ("verify", "return")),
        ("returned", WORKER, ("start",)),
        ("escalated", WORKER, ("start", "resolve")),
        ("closed", RESIDENT, ("rate",)),
        ("closed", OTHER_RESIDENT, ()),
        ("rated", ADMIN, ()),
    ],
)
def test_allowed_actions(state, actor, expected) -> None:
    assert allowed_actions(in_state(state), actor) == expected


def test_allowed_actions_are_exactly_those_apply_accepts() -> None:
    for state in STATES:
        for actor in (RESIDENT, OTHER_RESIDENT, WORKER, OTHER_WORKER, COMMUNITY_STAFF, ADMIN):
            allowed = set(allowed_actions(in_state(state), actor))
            for action in ACTIONS:
                try:
                    apply(in_state(state), action, actor, T0, **details(action))
                except (IllegalTransition, NotAllowed):
                    assert action not in allowed, (state, actor.username, action)
                else:
                    assert action in allowed, (state, actor.username, action)


# ------------------------------------------------------------------ deadlines


@pytest.mark.parametrize("code", ["20402", "20401", "10101", "10102", "10501"])
def test_deadline_is_dispatch_time_plus_the_categorys_time_limit(code) -> None:
    inc = dispatched(code)
    assert inc.deadline == T0 + h(CATEGORY_BY_CODE[code].time_limit_hours)
    assert inc.deadline is not None and inc.deadline.tzinfo == SHANGHAI


def test_deadline_starts_at_dispatch_not_at_report() -> None:
    inc, _ = report(FIRE, RESIDENT, T0)
    inc, _ = apply(inc, "register", COMMUNITY_STAFF, T0 + h(3))
    assert inc.deadline is None
    inc, _ = apply(inc, "dispatch", COMMUNITY_STAFF, T0 + h(5), assignee_id=7)
    assert inc.deadline == T0 + h(6)


def test_times_are_kept_in_shanghai_whatever_zone_they_come_in() -> None:
    utc = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    inc, step = report(MANHOLE, RESIDENT, utc)
    assert step.at.tzinfo == SHANGHAI and step.at.hour == 9
    inc, _ = apply(inc, "register", COMMUNITY_STAFF, utc)
    inc, _ = apply(inc, "dispatch", COMMUNITY_STAFF, utc, assignee_id=7)
    assert inc.deadline == datetime(2026, 5, 5, 9, 0, tzinfo=SHANGHAI)
    assert deadline_for(CATEGORY_BY_CODE[FIRE], utc) == T0 + h(1)


def test_a_deployments_own_category_table_drives_the_deadline() -> None:
    mine = {"90001": Category("90001", "共享单车乱停", "event", "街面秩序", 6, 4)}
    inc, _ = report("90001", RESIDENT, T0, categories=mine)
    inc, _ = apply(inc, "register", COMMUNITY_STAFF, T0)
    inc, _ = apply(inc, "dispatch", COMMUNITY_STAFF, T0, assignee_id=7, categories=mine)
    assert inc.deadline == T0 + h(6)


# ------------------------------------------------------------------ rework


def test_a_failed_check_sends_the_case_back_for_rework_until_it_passes() -> None:
    inc, _ = apply(dispatched(), "start", WORKER, T0 + h(1))
    inc, _ = apply(inc, "resolve", WORKER, T0 + h(2), "已清理")
    with pytest.raises(InvalidInput, match="needs a note"):
        apply(inc, "return", COMMUNITY_STAFF, T0 + h(3), "   ")
    inc, step = apply(inc, "return", COMMUNITY_STAFF, T0 + h(3), "井盖仍松动")
    assert (inc.state, step.note) == ("returned", "井盖仍松动")
    assert allowed_actions(inc, WORKER) == ("start",)
    with pytest.raises(IllegalTransition, match="possible now: reassign, start, escalate"):
        apply(inc, "resolve", WORKER, T0 + h(4))
    inc, _ = apply(inc, "start", WORKER, T0 + h(4), "返工")
    inc, _ = apply(inc, "resolve", WORKER, T0 + h(6), "已加固")
    inc, _ = apply(inc, "verify", COMMUNITY_STAFF, T0 + h(7))
    assert [t.action for t in inc.history] == [
        "report",
        "register",
        "dispatch",
        "start",
        "resolve",
        "return",
        "start",
        "resolve",
        "verify",
    ]
    assert inc.resolved_at == T0 + h(6)
    assert inc.deadline == T0 + h(24)  # rework does not restart the clock


# ------------------------------------------------------------------ reminders and 督办


def test_escalation_levels_over_time() -> None:
    inc = dispatched(MANHOLE)  # 24 h limit from T0; street delay 12 h by default
    assert escalation_due([inc], T0 + h(10)) == escalation_due([], T0)
    assert escalation_due([inc], T0 + h(23.9)).escalations == ()

    due = escalation_due([inc], T0 + h(25))
    assert [(e.incident_id, e.level, e.to) for e in due.escalations] == [(1, 1, "community")]
    assert due.escalations[0].overdue_by == h(1)
    assert due.escalations[0].due_at == T0 + h(24)
    assert due.reminders == ()

    inc, step = apply(inc, "escalate", SYSTEM, T0 + h(25), "超期督办")
    assert (inc.state, inc.escalation_level, step.actor) == ("escalated", COMMUNITY, SYSTEM)
    assert escalation_due([inc], T0 + h(25)).escalations == ()
    assert escalation_due([inc], T0 + h(36.9)).escalations == ()  # the community's 12 h
    due = escalation_due([inc], T0 + h(37))
    assert [(e.level, e.to, e.overdue_by) for e in due.escalations] == [(2, "street", h(13))]

    # the worker picks it up again: still at community level, still overdue
    inc, _ = apply(inc, "start", WORKER, T0 + h(30))
    assert inc.state == "in_progress" and inc.escalation_level == COMMUNITY
    assert escalation_due([inc], T0 + h(37)).escalations[0].to == "street"

    inc, _ = apply(inc, "escalate", STREET_STAFF, T0 + h(37), "街道督办")
    assert (inc.state, inc.escalation_level) == ("escalated", STREET)
    assert escalation_due([inc], T0 + h(500)) == escalation_due([], T0)
    with pytest.raises(IllegalTransition, match="already escalated to the street"):
        apply(inc, "escalate", ADMIN, T0 + h(38))
    assert "escalate" not in allowed_actions(inc, ADMIN)

    inc, _ = apply(inc, "resolve", WORKER, T0 + h(40), "已处置")
    assert escalation_due([inc], T0 + h(500)) == escalation_due([], T0)


def test_the_street_delay_is_configurable() -> None:
    inc, _ = apply(dispatched(), "escalate", SYSTEM, T0 + h(24))
    fixed = EscalationPolicy(street_after=h(2))
    assert escalation_due([inc], T0 + h(25.9), policy=fixed).escalations == ()
    assert escalation_due([inc], T0 + h(26), policy=fixed).escalations[0].level == STREET
    by_fraction = EscalationPolicy(street_after_fraction=0.25)  # 6 h of 24
    assert escalation_due([inc], T0 + h(29.9), policy=by_fraction).escalations == ()
    assert escalation_due([inc], T0 + h(30), policy=by_fraction).escalations[0].level == STREET


def test_an_urgent_case_escalates_within_the_hour() -> None:
    fire = dispatched(FIRE)  # 1 h
    assert escalation_due([fire], T0 + h(0.9)).escalations == ()
    fire, _ = apply(fire, "escalate", SYSTEM, T0 + h(1))
    assert escalation_due([fire], T0 + h(1.4)).escalations == ()
    assert escalation_due([fire], T0 + h(1.5)).escalations[0].to == "street"


def test_reminders_fall_due_at_80_percent_of_the_time_limit() -> None:
    inc = dispatched(MANHOLE)  # reminder at 19.2 h
    assert escalation_due([inc], T0 + h(19.1)).reminders == ()
    due = escalation_due([inc], T0 + h(19.2))
    assert [(r.incident_id, r.assignee_id, r.due_at, r.deadline) for r in due.reminders] == [
        (1, 7, T0 + h(19.2), T0 + h(24))
    ]
    # a run after the one that sent it finds nothing new
    assert escalation_due([inc], T0 + h(20), since=T0 + h(19.5)).reminders == ()
    assert len(escalation_due([inc], T0 + h(20), since=T0 + h(19)).reminders) == 1
    # once overdue the case escalates instead of being reminded
    assert escalation_due([inc], T0 + h(24)).reminders == ()
    # a policy of its own
    early = EscalationPolicy(remind_at=0.5)
    assert len(escalation_due([inc], T0 + h(12), policy=early).reminders) == 1
    with pytest.raises(InvalidInput):
        EscalationPolicy(remind_at=1.0)


def test_only_open_dispatched_cases_are_watched_and_results_are_ordered() -> None:
    late = dispatched(MANHOLE, T0 - h(48))
    later = dispatched(MANHOLE, T0 - h(30))
    reminded = dispatched(FIRE, T0 - h(0.85))
    waiting = in_state("registered")
    resolved = dataclasses.replace(in_state("resolved"), deadline=T0 - h(100))
    closed = dataclasses.replace(in_state("closed"), deadline=T0 - h(100))
    due = escalation_due([later, closed, reminded, waiting, late, resolved], T0)
    assert [e.due_at for e in due.escalations] == [T0 - h(24), T0 - h(6)]
    assert [r.deadline for r in due.reminders] == [T0 + h(0.15)]
    with pytest.raises(InvalidInput, match="no time zone"):
        escalation_due([late], datetime(2026, 5, 4))


# ------------------------------------------------------------------ random walks


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10), max_size=25))
def test_any_walk_an_admin_takes_keeps_a_consistent_history(choices) -> None:
    inc, _ = report(MANHOLE, RESIDENT, T0)
    at = T0
    for n, choice in enumerate(choices):
        actions = allowed_actions(inc, ADMIN)
        if not actions:
            break
        action = actions[choice % len(actions)]
        extra = details(action)
        if action == "reassign":
            extra = {"assignee_id": 100 + n}
        at += h(1)
        inc, _ = apply(inc, action, ADMIN, at, **extra)
        assert inc.state in STATES
    for before, after in zip(inc.history, inc.history[1:], strict=False):
        assert after.from_state == before.to_state
        assert ACTION_OF[after.from_state, after.to_state] == after.action
    assert inc.escalation_level == sum(t.action == "escalate" for t in inc.history) <= STREET
    if inc.history[-1].to_state in ("dispatched", "in_progress", "resolved", "closed", "rated"):
        assert inc.deadline is not None
    assert RULE_BY_ACTION  # the table is importable as data
