"""Models of alerts: what to send, what was sent, confirmations, the status per grid.

Recipients carry ids, rooms and flags, never names or phones.
"""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from analysis.alerts import GROUPS
from api.inputs import BigId, Text, one_of
from api.schemas.common import records
from api.services import alerts as alert_service
from gis.db.models import ALERT_CHANNELS

#: The groups an alert can target, and the channels it can go by.
AlertGroup = one_of("group", tuple(GROUPS))
AlertChannel = one_of("channel", ALERT_CHANNELS)


class AlertIn(BaseModel):
    """An alert to send for a hazard area."""

    group: AlertGroup = Field(default="all", description=", ".join(GROUPS))
    message: Text | None = Field(
        default=None, max_length=500, description="default: from the hazard"
    )
    channel: AlertChannel = Field(
        default="outbox", description="outbox (here); sms, wechat in production"
    )
    created_by: Text | None = Field(
        default=None, max_length=64, description="over HTTP: always the caller's username"
    )
    families: bool = Field(
        default=True,
        description="for a group: also message each member's household (their family)",
    )

    def request(self) -> alert_service.AlertRequest:
        """As the alert service takes it."""
        return alert_service.AlertRequest(**self.model_dump())


class GridStatus(BaseModel):
    """An alert in one grid: recipients, sent, confirmed reached, vulnerable still pending."""

    model_config = ConfigDict(extra="allow")

    grid_id: int | None
    grid_code: str | None
    recipients: int
    sent: int
    confirmed: int
    vulnerable: int
    vulnerable_confirmed: int
    pending_resident_ids: list[int]


def _grids(frame: pd.DataFrame) -> list[GridStatus]:
    return [GridStatus(**r) for r in records(frame)]


class SentAlertOut(BaseModel):
    """An alert stored and handed to the outbox."""

    alert_id: int
    hazard_id: int
    group: str
    group_name: str
    channel: str
    created_at: str
    message: str
    recipients: int
    residents: int
    households: int
    without_safe_shelter: int
    outbox_messages: int = Field(description="messages newly queued for delivery")
    already_queued: int = Field(
        description="messages not queued again: the same warning of this hazard to this "
        "group and recipient was sent before"
    )
    grids: list[GridStatus]

    @classmethod
    def of(cls, sent: alert_service.SentAlert) -> SentAlertOut:
        """From :func:`api.services.alerts.send_alert`."""
        fields = {**vars(sent), "created_at": sent.created_at.isoformat()}
        return cls(**{**fields, "grids": _grids(sent.grids)})


class ConfirmIn(BaseModel):
    """A grid worker's confirmation that residents (or households) were reached."""

    resident_ids: list[BigId] = Field(default_factory=list)
    household_ids: list[BigId] = Field(default_factory=list)
    note: Text | None = Field(default=None, max_length=500)


class ConfirmationOut(BaseModel):
    """What was confirmed, and the status of the caller's grids after it."""

    alert_id: int
    confirmed: int
    confirmed_by: str
    newly_confirmed: int
    not_recipients: list[int] = Field(description="ids given that are not recipients here")
    grids: list[GridStatus]

    @classmethod
    def of(cls, done: alert_service.Confirmation) -> ConfirmationOut:
        """From :func:`api.services.alerts.confirm`."""
        return cls(**{**vars(done), "grids": _grids(done.grids)})


class Recipient(BaseModel):
    """One recipient of an alert: place, safe shelter, delivery and confirmation (no names)."""

    model_config = ConfigDict(extra="allow")

    id: int
    household_id: int
    resident_id: int | None
    grid_id: int | None
    grid_code: str | None
    building_id: int
    room: str | None
    shelter_id: int | None
    shelter_name: str | None
    walk_s: float | None
    sent_at: str | None
    confirmed_at: str | None
    confirmed_by: str | None
    note: str | None
    living_alone_elderly: bool | None
    disabled: bool | None
    mobility_impaired: bool | None
    birth_year: int | None


class AlertOut(BaseModel):
    """An alert and its status over the caller's grids (``recipient_list`` when asked)."""

    id: int
    hazard_id: int
    created_at: str
    created_by: str | None
    message: str
    group: str
    channel: str
    recipients: int
    confirmed: int
    grids: list[GridStatus]
    recipient_list: list[Recipient] | None = None

    @classmethod
    def of(cls, status: alert_service.AlertStatus) -> AlertOut:
        """From :func:`api.services.alerts.alert_status`."""
        row = status.alert
        out = cls(
            id=row.id,
            hazard_id=row.hazard_id,
            created_at=row.created_at.isoformat(),
            created_by=row.created_by,
            message=row.message,
            group=row.target_group,
            channel=row.channel,
            recipients=status.recipients_total,
            confirmed=status.confirmed_total,
            grids=_grids(status.grids),
        )
        if status.recipients is not None:
            out.recipient_list = [Recipient(**r) for r in records(status.recipients)]
        return out
