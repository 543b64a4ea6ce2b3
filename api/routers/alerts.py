"""Alerts over HTTP (预警通知): send one for a hazard area, confirm who was reached, follow it.

Sending and reading the status are the command centre's (staff; a resident or a grid
worker: 403), over the households and grids they cover; confirming is also the grid
worker's, for their own grids, recorded under the caller's username.  Recipients carry
ids and flags, never names or phones.  The work is :mod:`api.services.alerts`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from api.auth import CurrentUser
from api.deps import EngineDep, ImpactsDep
from api.inputs import Id
from api.schemas.alerts import AlertIn, AlertOut, ConfirmationOut, ConfirmIn, SentAlertOut
from api.services import alerts

router = APIRouter(tags=["awareness"])


@router.post("/api/hazards/{hazard_id}/alerts", status_code=201, response_model=SentAlertOut)
def create_alert(
    engine: EngineDep,
    user: CurrentUser,
    impacts: ImpactsDep,
    hazard_id: Id,
    alert: Annotated[AlertIn, Body()] = AlertIn(),  # noqa: B008 - FastAPI body default
) -> SentAlertOut:
    """Alert the residents of a hazard area (or one group), each told a safe shelter.

    Stored with who was alerted and when (the caller's username), and delivered through
    the outbox.  Staff only, to the households of the grids they cover; nobody to alert
    there is a 422 ("No recipients").
    """
    sent = alerts.send_alert(
        engine,
        hazard_id,
        alert.request(),
        impact_of=impacts,
        user=user,
    )
    return SentAlertOut.of(sent)


@router.post("/api/alerts/{alert_id}/confirm", response_model=ConfirmationOut)
def confirm_alert(
    engine: EngineDep, user: CurrentUser, alert_id: Id, body: ConfirmIn
) -> ConfirmationOut:
    """Record that residents were reached (已通知到位); answers the grid's status after it.

    The grid worker of the recipients' grids or staff covering them; recipients outside
    the caller's grids are not confirmed (answered as not recipients).  Recorded under
    the caller's username.
    """
    done = alerts.confirm(
        engine,
        user,
        alert_id,
        resident_ids=body.resident_ids,
        household_ids=body.household_ids,
        note=body.note,
    )
    return ConfirmationOut.of(done)


@router.get("/api/alerts/{alert_id}", response_model=AlertOut, response_model_exclude_unset=True)
def get_alert(
    engine: EngineDep,
    user: CurrentUser,
    alert_id: Id,
    recipients: Annotated[bool, Query(description="also list every recipient")] = False,
) -> AlertOut:
    """An alert: who sent what when, and per grid how many were reached and who is pending.

    Staff only; the grids (and recipients) of the caller's area, and the counts over
    them; an alert that reached nobody in it is 404.
    """
    status = alerts.alert_status(engine, user, alert_id, with_recipients=recipients)
    return AlertOut.of(status)
