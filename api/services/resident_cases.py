"""For residents: filing a problem from the phone (报事报修) and following it (办理进度).

A report comes signed in (a resident's account) or anonymous with a phone number for
the call-back (:data:`api.services.intake.ANONYMOUS` files it; the phone is its contact).
Either way it is checked and placed by the one intake path, its photos checked and
stripped of EXIF first (:func:`etl.photos.check_photo`), and everything stored in one
transaction.  The answer's public token is the tracking code (查询码).

The progress a resident sees is a timeline in plain Chinese: the steps of the case
(受理, 已派给网格员, 处理中, 已办结 …) and their times, never the staff who took them
nor their notes or reasons.  The tracking code is the proof of being the reporter: who
holds it may rate the closed case (the life cycle's ``rate``, reporter only).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, Engine

from api.services import casework, intake, reminders
from etl.photos import Photo, PhotoRejected, check_photo
from gis.db.principal import as_system
from gis.errors import InvalidInput, NotFound, Problem, ValidationError
from gis.settings import Settings
from gis.store import incident_store
from gis.store.incident_store import IncidentRow
from grids.access import Principal
from grids.incidents import SHANGHAI
from grids.locate import CurrentGrids

#: A call-back number: a mobile (11 digits from 1) or a landline with its area code.
PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")
#: The tracking code's shape (the public token is a UUID).
CODE = re.compile(r"^[0-9a-fA-F-]{32,36}$")
MAX_COMMENT = 500

#: The step a case reached, as a resident reads it (no staff names, no reasons).
PUBLIC_STEP = {
    "reported": "已提交",
    "registered": "受理",
    "rejected": "不予受理",
    "dispatched": "已派给网格员",
    "in_progress": "处理中",
    "resolved": "已处理，等待核查",
    "verified": "核查通过",
    "returned": "重新处理中",
    "closed": "已办结",
    "rated": "已评价",
    "escalated": "已督办，加快处理",
}
#: The state a case is in now, as a resident reads it.
PUBLIC_STATE = PUBLIC_STEP | {"reported": "等待受理", "rated": "已办结（已评价）"}


@dataclass(frozen=True)
class TimelineStep:
    """One step of a case as the public may see it: what happened, and when (China time)."""

    label: str
    at: datetime


@dataclass(frozen=True)
class Progress:
    """A case as its reporter follows it: no staff names, notes, contact or internal ids."""

    id: int
    category_name: str
    state: str
    state_label: str
    reported_at: datetime
    place: str | None
    steps: list[TimelineStep]
    rating: int | None
    may_rate: bool
    closed: bool
    #: the reminders sent about the case (办理提醒), newest first
    reminders: tuple[reminders.Reminder, ...] = ()


@dataclass(frozen=True)
class MyRequest:
    """One line of a resident's own requests."""

    id: int
    category_name: str
    state_label: str
    reported_at: datetime


#: The intake's problems as a resident reads them, by field (the intake speaks to systems).
PROBLEMS_ZH = {
    "category_code": ("问题类别不对", "请从列表中选择一个问题类别"),
    "description": ("问题描述为空或太长", f"请用 {intake.MAX_DESCRIPTION} 字以内说明问题"),
    "lon/lat": ("这个位置不在本辖区的网格内", "请允许定位，或把地图上的图钉拖到问题所在处"),
    "coord_type": ("位置的坐标类型不对", "请刷新页面后重新定位"),
}


def _in_chinese(p: Problem) -> Problem:
    said = PROBLEMS_ZH.get(p.field or "")
    return p if said is None else replace(p, message=f"{said[0]}（{p.message}）", fix=said[1])


def _problem(fld: str, message: str, fix: str) -> Problem:
    return Problem(layer="report", row=None, record_id=None, field=fld, message=message, fix=fix)


def check_photos(
    files: Sequence[tuple[str | None, bytes]], settings: Settings
) -> tuple[list[Photo], list[Problem]]:
    """The photos checked and stripped, at most ``photo_max_count``; the problems in Chinese."""
    problems: list[Problem] = []
    photos: list[Photo] = []
    if len(files) > settings.photo_max_count:
        problems.append(
            _problem(
                "photos",
                f"选了 {len(files)} 张照片",
                f"最多 {settings.photo_max_count} 张，请删去几张",
            )
        )
        return photos, problems
    for i, (name, data) in enumerate(files, start=1):
        try:
            photos.append(check_photo(data, max_bytes=settings.photo_max_bytes, filename=name))
        except PhotoRejected as exc:
            problems.append(_problem("photos", f"第 {i} 张照片无法使用：{exc}", "换一张照片"))
    return photos, problems


def file_resident_report(
    engine: Engine,
    snap: CurrentGrids,
    settings: Settings,
    user: Principal | None,
    rep: intake.Report,
    files: Sequence[tuple[str | None, bytes]] = (),
) -> intake.Filed:
    """File a resident's report with its photos, signed in or anonymous with a phone.

    A signed-in resident files as themself; anyone else (no account, or a staff member's
    browser) files anonymously and must give a call-back phone number.

    Raises
    ------
    ValidationError
        Every problem found (the report's, the phone's, each photo's); nothing stored.
    """
    signed_in = user is not None and user.role == "resident"
    filer = user if signed_in and user is not None else intake.ANONYMOUS
    problems: list[Problem] = []
    phone = (rep.contact_phone or "").replace(" ", "") or None
    if phone is not None and not PHONE.match(phone):
        problems.append(
            _problem(
                "contact_phone",
                f"电话号码 {phone!r} 格式不对",
                "填 11 位手机号，或带区号的固定电话（如 021-12345678）",
            )
        )
    elif phone is None and not signed_in:
        problems.append(
            _problem(
                "contact_phone",
                "未登录时需要留下电话号码",
                "填写手机号以便网格员回电联系，或先登录再报事",
            )
        )
    photos, photo_problems = check_photos(files, settings)
    problems += photo_problems
    rep = replace(rep, contact_phone=phone, source="resident_app")
    placed, report_problems = intake.check_report(
        rep,
        filer,
        snap,
        settings,
        intake.categories(engine),
        area=intake.service_area(engine, settings),
    )
    problems += [_in_chinese(p) for p in report_problems]
    if problems or placed is None:
        raise ValidationError(problems)
    # an anonymous report has no account the database could check it against: the
    # service decided what it may file (one report, a call-back phone), and files it as
    # the system; a signed-in resident files as themself
    with nullcontext() if signed_in else as_system(), engine.begin() as conn:
        filed = intake.store_report(conn, placed, filer, snap, settings)
        for p in photos:
            incident_store.insert_photo(
                conn,
                filed.id,
                content_type=p.content_type,
                data=p.data,
                sha256=p.sha256,
                uploaded_by=filer.username,
            )
    return filed


def _progress(
    conn: Connection, row: IncidentRow, category_name: str, place: str | None, may_rate: bool
) -> Progress:
    steps = [
        TimelineStep(
            "已改派网格员"
            if e.from_state == e.to_state == "dispatched"
            else PUBLIC_STEP.get(e.to_state, "处理中"),
            e.at.astimezone(SHANGHAI),
        )
        for e in row.events
    ]
    return Progress(
        id=int(row.id or 0),
        category_name=category_name,
        state=row.state,
        state_label=PUBLIC_STATE.get(row.state, "处理中"),
        reported_at=row.reported_at.astimezone(SHANGHAI),
        place=place,
        steps=steps,
        rating=row.rating,
        may_rate=may_rate and row.state == "closed",
        closed=row.state in ("closed", "rated"),
        reminders=tuple(reminders.reminders_of_case(conn, int(row.id or 0))),
    )


def _incident_of(conn: Connection, code: str) -> IncidentRow:
    found = incident_store.id_by_token(conn, code) if CODE.match(code) else None
    row = None if found is None else incident_store.read_incident(conn, found)
    if row is None:
        raise NotFound(
            f"没有查询码为 {code[:40]} 的报事。请核对查询码（报事提交后页面上显示的那一串），"
            "或登录后在“我的报事”中查看"
        )
    return row


def _place_name(conn: Connection, row: IncidentRow) -> str | None:
    grid = incident_store.grid_label(conn, row.grid_id)
    return None if grid is None else grid[1]


def track(engine: Engine, code: str) -> Progress:
    """The public progress of the case filed under a tracking code (404 in Chinese if none)."""
    # the tracking code is the capability: whoever holds it reads this one case's
    # public progress (built here without names or notes), as the system
    with as_system(), engine.connect() as conn:
        row = _incident_of(conn, code)
        category = casework.categories_cached(conn).get(row.category_code)
        return _progress(
            conn, row, category.name if category else "其他", _place_name(conn, row), may_rate=True
        )


def my_case(engine: Engine, user: Principal, incident_id: int) -> Progress:
    """A signed-in resident's own case, as its timeline (404 for anyone else's)."""
    with engine.connect() as conn:
        row = casework.visible_incident(conn, user, incident_id)
        if row.reporter_id != user.user_id:
            raise NotFound(f"没有编号为 {incident_id} 的您的报事")
        category = casework.categories_cached(conn).get(row.category_code)
        return _progress(
            conn, row, category.name if category else "其他", _place_name(conn, row), may_rate=True
        )


def my_requests(engine: Engine, user: Principal, limit: int = 100) -> list[MyRequest]:
    """The cases a resident reported, newest first."""
    if user.role != "resident":
        return []
    listed = casework.list_cases(engine, user, casework.CaseQuery(limit=limit))
    return [
        MyRequest(
            id=c.id,
            category_name=c.category_name,
            state_label=PUBLIC_STATE.get(c.state, "处理中"),
            reported_at=c.reported_at,
        )
        for c in listed
        if c.reporter_id == user.user_id
    ]


def _rating(rating: int | None, comment: str | None) -> tuple[int, str | None]:
    if rating is None or not 1 <= rating <= 5:
        raise InvalidInput("请选择 1 到 5 颗星再提交评价")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise InvalidInput(f"评价内容有 {len(comment)} 个字，请控制在 {MAX_COMMENT} 字以内")
    return rating, comment


def _refuse_unless_closed(row: IncidentRow) -> None:
    if row.state == "rated":
        raise InvalidInput("这件报事已经评价过了，谢谢您")
    if row.state != "closed":
        raise InvalidInput("这件报事还没有办结，办结后才能评价")


def rate_by_code(engine: Engine, code: str, rating: int | None, comment: str | None) -> None:
    """Rate a closed case as its reporter, proven by the tracking code."""
    rating, comment = _rating(rating, comment)
    with as_system(), engine.begin() as conn:  # the code proves the reporter (see track)
        row = _incident_of(conn, code)
        _refuse_unless_closed(row)
        who = row.reporter_id or 0
        reporter = Principal(user_id=who, username="报事人", display_name="报事人", role="resident")
        casework.apply_step(
            conn,
            reporter,
            replace(row, reporter_id=who),
            casework.Step("rate", note=comment, rating=rating),
        )


def rate_mine(
    engine: Engine, user: Principal, incident_id: int, rating: int | None, comment: str | None
) -> None:
    """Rate one's own closed case (signed in)."""
    rating, comment = _rating(rating, comment)
    with engine.begin() as conn:
        row = casework.visible_incident(conn, user, incident_id)
        if row.reporter_id != user.user_id:
            raise NotFound(f"没有编号为 {incident_id} 的您的报事")
        _refuse_unless_closed(row)
        casework.apply_step(conn, user, row, casework.Step("rate", note=comment, rating=rating))
