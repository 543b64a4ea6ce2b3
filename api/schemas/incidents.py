"""The incident family's requests and answers: reports, cases, dispatch, the hotline import.

The answers read the services' dataclasses (:mod:`api.services.intake`,
:mod:`api.services.casework`, :mod:`api.services.dispatching`) by attribute, so a
route may return a service's result as it is; times are shown in China time (+08:00).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.inputs import BigId, Id, Text
from api.schemas.common import BeidouLocated
from api.services.casework import Case
from api.services.intake import Filed, Imported
from gis.coords import COORD_TYPES
from gis.db.models import INCIDENT_STATES
from grids.incidents import ACTIONS, SHANGHAI

#: The states of the incident life cycle, as a type (an unknown state is refused with 422).
IncidentStateName = Literal[INCIDENT_STATES]  # type: ignore[valid-type]


class Answer(BaseModel):
    """An answer read from a service's dataclass by attribute."""

    model_config = ConfigDict(from_attributes=True)


# ------------------------------------------------------------------ reports


class NewIncident(BeidouLocated):
    """A report as the resident app, a worker's tablet or a staff member sends it."""

    category_code: Text = Field(description="a code of GET /api/categories, e.g. 10101")
    description: Text = Field(min_length=1, max_length=2000)
    lon: float = Field(description="longitude, degrees (in coord_type); or send beidou")
    lat: float = Field(description="latitude, degrees (in coord_type)")
    coord_type: Text = Field("wgs84", description=f"one of {', '.join(COORD_TYPES)}")
    source: Literal["patrol", "resident_app", "hotline_12345"] | None = Field(
        None, description="default: resident_app for residents, patrol for grid workers"
    )
    address: Text | None = Field(None, max_length=500)
    contact_name: Text | None = Field(None, max_length=100)
    contact_phone: Text | None = Field(None, max_length=32)
    reported_at: datetime | None = Field(None, description="default: now (with time zone)")


class PossibleDuplicate(Answer):
    """An earlier report of the same category close by."""

    id: int
    state: str
    distance_m: float
    reported_at: datetime


class FiledAnswer(Answer):
    """A stored report: where it landed and what to check."""

    id: int
    state: str
    public_token: str
    grid_code: str
    grid_name: str
    community: str
    h3_cell: str
    beidou: str | None = Field(description="北斗 grid code (GB/T 39409-2020) of its cell")
    lon: float
    lat: float
    reported_at: datetime
    near_boundary: bool
    edge_distance_m: float
    duplicate_of: int | None
    possible_duplicates: list[PossibleDuplicate] = Field(
        description="the nearest likely duplicates (at most WANGGE_DUPLICATE_MAX_LISTED), "
        "nearest then most recent first"
    )
    duplicate_count: int = Field(
        description="how many earlier reports of the category you may see lie this close, "
        "listed or not"
    )
    similar_report_nearby: bool = Field(
        False,
        description="a similar report you may not see lies nearby and is being handled "
        "(nothing more is said about it)",
    )
    checks: list[str] = Field(description="what a dispatcher should check, in words")

    @classmethod
    def of(cls, filed: Filed) -> FiledAnswer:
        """The answer to a filed report, with the checks a dispatcher should make in words."""
        checks = []
        if filed.near_boundary:
            checks.append(
                f"距网格边界 {filed.edge_distance_m:.0f} 米，请确认所属网格 "
                f"(within {filed.edge_distance_m:.0f} m of the grid edge: confirm the grid)"
            )
        if filed.duplicate_of is not None:
            checks.append(
                f"疑似与事件 {filed.duplicate_of} 重复 (likely a duplicate of {filed.duplicate_of})"
            )
            if filed.duplicate_count > 1:
                checks.append(
                    f"附近同类事件共 {filed.duplicate_count} 起 "
                    f"({filed.duplicate_count} likely duplicates nearby)"
                )
        elif filed.similar_elsewhere:
            checks.append(
                "附近已有类似报告正在处理 (a similar report nearby is already being handled)"
            )
        return cls(
            id=filed.id,
            state=filed.state,
            public_token=filed.public_token,
            grid_code=filed.grid_code,
            grid_name=filed.grid_name,
            community=filed.community,
            h3_cell=filed.h3_cell,
            beidou=filed.beidou,
            lon=filed.lon,
            lat=filed.lat,
            reported_at=filed.reported_at,
            near_boundary=filed.near_boundary,
            edge_distance_m=filed.edge_distance_m,
            duplicate_of=filed.duplicate_of,
            possible_duplicates=[
                PossibleDuplicate(
                    id=d["id"],
                    state=d["state"],
                    distance_m=round(float(d["distance_m"]), 1),
                    reported_at=d["reported_at"].astimezone(SHANGHAI),
                )
                for d in filed.duplicates
            ],
            duplicate_count=filed.duplicate_count,
            similar_report_nearby=filed.similar_elsewhere and filed.duplicate_of is None,
            checks=checks,
        )


class HotlineFiled(FiledAnswer):
    """A report filed from one row of a hotline file (rows numbered from 1, no header)."""

    row: int


class HotlineRepeat(Answer):
    """A row of a hotline file filed before, and the incident filed from it.

    ``id`` is null when another office filed it (a 12345 case is filed once, wherever;
    another office's case is not for this one to see).
    """

    row: int
    id: int | None


class HotlineAnswer(Answer):
    """The outcome of a hotline file: counts, each new incident by row, earlier ones by row."""

    rows: int
    filed: int
    already_filed: int
    likely_duplicates: int
    incidents: list[HotlineFiled]
    already_filed_incidents: list[HotlineRepeat]

    @classmethod
    def of(cls, imported: Imported) -> HotlineAnswer:
        """The answer to an imported file."""
        return cls(
            rows=imported.rows,
            filed=len(imported.filed),
            already_filed=len(imported.already_filed),
            likely_duplicates=sum(f.duplicate_of is not None for _, f in imported.filed),
            incidents=[
                HotlineFiled(row=row, **dict(FiledAnswer.of(f))) for row, f in imported.filed
            ],
            already_filed_incidents=[
                HotlineRepeat(row=row, id=i) for row, i in imported.already_filed
            ],
        )


class CategoryAnswer(Answer):
    """An incident category: code, Chinese name, family, time limit (hours), priority."""

    code: str
    name: str
    family: str
    group_name: str
    time_limit_hours: int
    priority: int = Field(description="1 = urgent")


# ------------------------------------------------------------------ cases


class ListedIncident(Answer):
    """One case of a listing."""

    id: int
    category_code: str
    category_name: str
    priority: int
    source: str
    description: str
    state: str
    reported_at: datetime
    deadline: datetime | None
    closed_at: datetime | None
    assignee_id: int | None
    reporter_id: int | None
    rating: int | None
    grid_id: int | None
    grid_code: str | None
    h3_cell: str | None = Field(description="the H3 cell, hexadecimal")
    beidou: str | None = Field(description="北斗 grid code (GB/T 39409-2020) of its cell")
    near_boundary: bool
    duplicate_of: int | None
    merged_into: int | None
    address: str | None
    lon: float
    lat: float


class HistoryAnswer(Answer):
    """One recorded step of a case."""

    action: str
    from_state: str | None
    to_state: str
    at: datetime
    actor: str
    note: str | None


class PhotoAnswer(Answer):
    """A stored photo of a case (its bytes at ``url``)."""

    id: int
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime | None
    url: str


class ContactAnswer(Answer):
    """How to reach the reporter."""

    name: str | None
    phone: str | None
    email: str | None


class CandidateAnswer(Answer):
    """A worker who could take the case, by which rule, and why."""

    worker_id: int
    worker_name: str | None
    rule: str
    relation: str | None = Field(description="primary, backup, community or area")
    travel_s: float | None = Field(description="walking time to the case, seconds")
    open_tasks: int
    reason: str


class NotChosenAnswer(Answer):
    """A worker ruled out, and why."""

    worker_id: int
    why: str


class RecommendationAnswer(Answer):
    """Who should take a case (``worker_id`` null: nobody can), the alternatives, and why."""

    incident_id: int
    worker_id: int | None
    worker_name: str | None
    rule: str = Field(description="primary, backup, best or none")
    relation: str | None
    travel_s: float | None
    open_tasks: int
    reason: str
    alternatives: list[CandidateAnswer]
    not_chosen: list[NotChosenAnswer]


class CaseAnswer(Answer):
    """One case with its full history, photos and the actions the user may take.

    ``contact`` is present only for staff and the reporter; ``recommendation`` only
    after a dispatch to the recommended worker.
    """

    id: int
    category_code: str
    category_name: str | None
    priority: int | None
    source: str
    description: str
    address: str | None
    state: str
    state_name: str = Field(description="the state in Chinese")
    reported_at: datetime
    dispatched_at: datetime | None
    deadline: datetime | None
    overdue: bool
    closed_at: datetime | None
    escalation_level: int
    assignee_id: int | None
    rating: int | None
    lon: float
    lat: float
    grid_code: str | None
    grid_name: str | None
    h3_cell: str | None
    beidou: str | None
    near_boundary: bool
    duplicate_of: int | None
    merged_into: int | None
    merged: list[int] = Field(description="the reports merged into this case")
    history: list[HistoryAnswer]
    photos: list[PhotoAnswer]
    allowed_actions: list[str]
    contact: ContactAnswer | None = None
    recommendation: RecommendationAnswer | None = None

    @classmethod
    def of(cls, case: Case) -> CaseAnswer:
        """The answer to a case; ``contact`` and ``recommendation`` left unset when absent.

        Routes answering a case declare ``response_model_exclude_unset=True``, so an
        absent contact is no key at all rather than a null.
        """
        answer = cls.model_validate(case)
        unset = {k for k in ("contact", "recommendation") if getattr(case, k) is None}
        return cls.model_construct(answer.model_fields_set - unset, **dict(answer))


# ------------------------------------------------------------------ actions and dispatch


class ActionRequest(BaseModel):
    """An action on a case: one of the life-cycle actions, with what it needs."""

    # free text, not a Literal: an action unknown to the life cycle is a 409 (not possible)
    action: Text = Field(description=f"one of {', '.join(ACTIONS)}")
    note: Text | None = Field(None, max_length=2000)
    assignee_id: Id | None = Field(None, description="the worker, to dispatch or reassign")
    rating: int | None = Field(None, description="1–5, to rate")


class RedispatchMove(BaseModel):
    """One move of a preview, sent back unchanged to confirm it (other fields are ignored)."""

    incident_id: BigId
    version: BigId | None = Field(description="the case's latest event id when previewed")
    state: Literal["registered", "dispatched"]
    from_worker_id: Id | None
    to_worker_id: Id
    action: Literal["dispatch", "reassign"]
    reason: str = Field(max_length=4000)


class RedispatchRequest(BaseModel):
    """Preview a batch re-dispatch of the area's backlog, or confirm a preview."""

    widen: Literal["grid", "community", "area"] = Field(
        "grid",
        description="who may take a case: its grid's own primary and backups (grid), also "
        "its community's workers (community), or any worker of your area (area)",
    )
    include_dispatched: bool = Field(
        False, description="also move dispatched cases not yet started, if that is better"
    )
    incident_ids: list[BigId] | None = Field(
        None, max_length=10_000, description="only these cases (default: the whole backlog)"
    )
    limit: int = Field(2000, ge=1, le=10_000)
    confirm: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="the preview_id of a preview to apply, sent with its widen and moves",
    )
    moves: list[RedispatchMove] | None = Field(
        None, max_length=10_000, description="with confirm: the moves of the preview, unchanged"
    )


class MoveAnswer(Answer):
    """A move of a re-dispatch: send it back unchanged to confirm it."""

    incident_id: int
    version: int | None = Field(description="the case's latest event id when previewed")
    state: str
    from_worker_id: int | None
    to_worker_id: int
    action: str
    reason: str


class ShownMoveAnswer(MoveAnswer):
    """A move as the preview shows it: the grid, the workers' names, travel now and after."""

    grid_code: str
    from_worker_name: str | None
    to_worker_name: str | None
    relation: str
    travel_s: float
    current_travel_s: float | None


class UnassignedAnswer(Answer):
    """A case the optimum leaves where it is, and why."""

    incident_id: int
    stays_with: int | None
    reason: str


class PreviewAnswer(Answer):
    """A batch re-dispatch previewed: nothing changed yet; confirm with ``preview_id``."""

    preview_id: str
    widen: str
    include_dispatched: bool
    cases: int
    workers: int
    cost: float = Field(description="walking seconds plus load penalty of the optimum")
    travel_s: float
    assigned: int
    current_cost: float
    current_travel_s: float
    current_assigned: int
    greedy_cost: float
    solve_s: float
    moves: list[ShownMoveAnswer]
    unchanged: list[int]
    unassigned: list[UnassignedAnswer]


class AppliedMoveAnswer(MoveAnswer):
    """A move of a confirmed preview, applied with this note in the case's history."""

    note: str


class MoveConflictAnswer(Answer):
    """A move of a confirmed preview that was not applied, and why."""

    incident_id: int
    reason: str


class ConfirmAnswer(Answer):
    """A preview confirmed: the moves applied and those refused."""

    preview_id: str
    applied: list[AppliedMoveAnswer]
    conflicts: list[MoveConflictAnswer]


class MergeRequest(BaseModel):
    """Merge this report into the case it repeats."""

    into: BigId


class GridConfirmation(BaseModel):
    """The grid a report near an edge belongs to (none: the one it was placed in)."""

    grid_code: str | None = Field(None, pattern=r"^\d{15}$")


class ReminderAnswer(Answer):
    """An assignee reminded of a near deadline."""

    incident_id: int
    assignee_id: int | None
    deadline: datetime | None


class EscalatedAnswer(Answer):
    """A case escalated one level (督办)."""

    incident_id: int
    level: Literal["community", "street"]


class SkippedAnswer(Answer):
    """A case someone moved while the job ran."""

    incident_id: int
    reason: str


class EscalationAnswer(Answer):
    """What one run of the reminder / 督办 job did."""

    reminders: list[ReminderAnswer]
    escalated: list[EscalatedAnswer]
    skipped: list[SkippedAnswer]


class MeAnswer(BaseModel):
    """Who the token belongs to, their role and how many grids they cover."""

    username: str
    display_name: str
    role: str
    worker_id: int | None
    area_id: int | None
    grids: int | None = Field(description="how many grids they cover (null: every grid)")
    sources: list[str] = Field(description="the sources of incidents")
