"""Alerts to the residents of a hazard area (预警通知): send, deliver, confirm, follow.

An alert picks its recipients among the households the hazard touches (one group or
all), tells each the nearest safe shelter, is stored with who sent it and when, and is
handed to the outbox, from which the relay (:mod:`api.services.relay`) publishes it to
the broker and the SMS / WeChat gateways; the same warning sent again for the same hazard
and group is not queued again (:func:`dedupe_key`).  Grid workers then confirm
who was reached (已通知到位); the status per grid says who is still pending.

Access (:mod:`grids.access`): ``user`` is who asks over HTTP (None: the operator at the
command line, every household).  Sending and reading the status are the command
centre's; confirming is also the grid worker's; each sees and touches only the
recipients of the grids they cover.  Recipients carry ids and flags, never names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from analysis.alerts import (
    GROUP_NAMES,
    GROUPS,
    NoRecipients,
    compose_messages,
    nearest_safe_shelters,
    select_recipients,
)
from analysis.hazard import KIND_NAMES
from api.services.awareness import now
from api.services.impact import Impact, ImpactOf
from gis import clock
from gis.db.models import ALERT_CHANNELS
from gis.errors import InvalidInput, NotFound, ServiceError
from gis.store import awareness_store as store
from gis.store.awareness_store import AlertRow
from grids.access import (
    Principal,
    require_alert_confirmer,
    require_command_centre,
    rows_in_area,
)
from grids.locate import representative_points


class AlertInputError(ServiceError, InvalidInput):
    """An alert or a confirmation that cannot be sent or recorded; the message says why."""


@dataclass(frozen=True)
class AlertRequest:
    """An alert to send for a hazard area.

    ``group``: one of :data:`analysis.alerts.GROUPS`; ``message``: default from the
    hazard; ``families``: for a group, also message each member's household.
    """

    group: str = "all"
    message: str | None = None
    channel: str = "outbox"
    created_by: str | None = None
    families: bool = True


def check_alert(alert: AlertRequest) -> None:
    """Refuse an unknown group or channel, or a channel this deployment does not have."""
    if alert.group not in GROUPS:
        raise AlertInputError(f"group must be one of {', '.join(GROUPS)}, not {alert.group!r}")
    if alert.channel not in ALERT_CHANNELS:
        raise AlertInputError(
            f"channel must be one of {', '.join(ALERT_CHANNELS)}, not {alert.channel!r}"
        )
    if alert.channel != "outbox":
        raise AlertInputError(
            f"the {alert.channel} channel is not configured in this deployment: use "
            "channel 'outbox' (a relay delivers the outbox to SMS or WeChat)"
        )


@dataclass(frozen=True)
class SentAlert:
    """An alert stored and delivered: counts, and the status of the user's grids."""

    alert_id: int
    hazard_id: int
    group: str
    group_name: str
    channel: str
    created_at: datetime
    message: str
    recipients: int
    residents: int
    households: int
    without_safe_shelter: int
    outbox_messages: int
    already_queued: int
    grids: pd.DataFrame


def send_alert(
    engine: Engine,
    hazard_id: int,
    alert: AlertRequest,
    *,
    impact_of: ImpactOf,
    user: Principal | None = None,
) -> SentAlert:
    """Alert the residents of a hazard area (or one group), each told a safe shelter.

    The shelters are those reachable on the network the impact was computed on.  Over
    HTTP (``user``) the sender is the caller and only the households of the grids they
    cover are alerted.

    Raises
    ------
    NoRecipients
        When nobody in the hazard area (and the user's area) matches the group.
    """
    if user is not None:
        require_command_centre(user, "send alerts")
        alert = replace(alert, created_by=user.username)
    check_alert(alert)
    got = impact_of(hazard_id)
    return _deliver(engine, got, alert, user)


def _deliver(engine: Engine, got: Impact, alert: AlertRequest, user: Principal | None) -> SentAlert:
    """Pick the recipients, store the alert and hand its messages to the outbox."""
    hazard_id = got.hazard.id
    imp, inputs, hazard = got.impact, got.inputs, got.hazard
    households = inputs.households[inputs.households["id"].isin(imp.households)]
    if user is not None:
        households = households[rows_in_area(user, households["grid_id"])]
        if households.empty:
            raise NoRecipients(
                f"nobody would be alerted: hazard {hazard_id} meets no household of the "
                "grids you cover"
            )
    buildings = inputs.buildings.set_index("id")
    lon, lat = representative_points(
        np.asarray(buildings.loc[households["building_id"]].geometry.array, dtype=object)
    )
    safe = nearest_safe_shelters(
        got.network, hazard.geom, households["id"].to_numpy(), lon, lat, inputs.shelters
    )
    recipients = select_recipients(
        households.rename(columns={"id": "household_id"}),
        inputs.residents,
        alert.group,
        reference_year=clock.now().year,
        shelters=safe.frame,
        families=alert.families,
    )
    message = alert.message or (
        f"【{KIND_NAMES.get(hazard.kind, hazard.kind)}预警】{hazard.name}影响您所在区域，"
        "请做好防范，必要时前往避难场所。"
    )
    names = dict(
        zip(inputs.shelters["facility_id"].tolist(), inputs.shelters["name"].tolist(), strict=True)
    )
    at = now()
    with engine.begin() as conn:
        alert_id = store.insert_alert(
            conn,
            hazard_id=hazard_id,
            message=message,
            target_group=alert.group,
            channel=alert.channel,
            created_by=alert.created_by,
            created_at=at,
        )
        ids = store.insert_recipients(conn, alert_id, recipients)
        messages = compose_messages(recipients, message, shelter_names=names, recipient_ids=ids)
        keys = [dedupe_key(hazard_id, alert.group, message, m.recipient) for m in messages]
        outbox_ids = store.OutboxChannel(conn).deliver(messages, keys)
        store.mark_sent(conn, ids, at)
        store.announce(conn, "alert", alert_id)  # the residents' open pages show it live
    return SentAlert(
        alert_id=alert_id,
        hazard_id=hazard_id,
        group=alert.group,
        group_name=GROUP_NAMES[alert.group],
        channel=alert.channel,
        created_at=at,
        message=message,
        recipients=len(ids),
        residents=int(recipients["resident_id"].notna().sum()),
        households=int(recipients["household_id"].nunique()),
        without_safe_shelter=int(recipients["shelter_id"].isna().sum()),
        outbox_messages=len(outbox_ids),
        already_queued=len(messages) - len(outbox_ids),
        grids=_status(engine, alert_id, user),
    )


def dedupe_key(hazard_id: int, group: str, message: str, recipient: str) -> str:
    """The outbox key of one alert message.

    The same warning of the same hazard to the same group and recipient is queued (so
    delivered) once, however often it is sent.
    """
    digest = hashlib.sha256(message.encode()).hexdigest()[:16]
    return f"alert:{hazard_id}:{group}:{recipient}:{digest}"


def _status(engine: Engine, alert_id: int, user: Principal | None) -> pd.DataFrame:
    """Per grid of the user's area: recipients, sent, confirmed, vulnerable, pending."""
    status = store.alert_status(engine, alert_id)
    return status if user is None else status[rows_in_area(user, status["grid_id"])]


def _recipients_in_area(engine: Engine, user: Principal | None, alert_id: int) -> pd.DataFrame:
    """The alert's recipients in the user's grids; NotFound when none (or no such alert)."""
    recipients = store.alert_recipients(engine, alert_id)
    mine = recipients if user is None else recipients[rows_in_area(user, recipients["grid_id"])]
    if store.read_alert(engine, alert_id) is None or (user is not None and mine.empty):
        raise NotFound(f"no alert has id {alert_id}{'' if user is None else ' in your area'}")
    return mine


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation recorded, and the status of the user's grids after it."""

    alert_id: int
    confirmed: int
    confirmed_by: str
    newly_confirmed: int
    not_recipients: list[int]
    grids: pd.DataFrame


def confirm(
    engine: Engine,
    user: Principal,
    alert_id: int,
    *,
    resident_ids: list[int],
    household_ids: list[int],
    note: str | None = None,
) -> Confirmation:
    """Record that residents (or whole households) were reached, under the user's name.

    Recipients outside the user's grids are not confirmed (answered as not recipients).
    """
    require_alert_confirmer(user)
    if not resident_ids and not household_ids:
        raise AlertInputError("give resident_ids or household_ids to confirm")
    mine = _recipients_in_area(engine, user, alert_id)
    own_residents = set(mine["resident_id"].dropna().astype(int))
    own_households = set(mine["household_id"].astype(int))
    with engine.begin() as conn:
        rows = store.confirm_recipients(
            conn,
            alert_id,
            by=user.username,
            at=now(),
            resident_ids=[r for r in resident_ids if r in own_residents],
            household_ids=[h for h in household_ids if h in own_households],
            note=note,
        )
    rows = rows[rows_in_area(user, rows["grid_id"])]
    if rows.empty:
        raise AlertInputError(
            f"none of residents {resident_ids} / households {household_ids} "
            f"is a recipient of alert {alert_id}: GET /api/alerts/{alert_id} lists them"
        )
    matched_res = set(rows["resident_id"].dropna().astype(int))
    matched_hh = set(rows["household_id"].astype(int))
    unknown = sorted(set(resident_ids) - matched_res) + sorted(set(household_ids) - matched_hh)
    return Confirmation(
        alert_id=alert_id,
        confirmed=len(rows),
        confirmed_by=user.username,
        newly_confirmed=int(rows["newly"].sum()),
        not_recipients=unknown,
        grids=_status(engine, alert_id, user),
    )


@dataclass(frozen=True)
class AlertStatus:
    """An alert: who sent what when; per grid, how many were reached and who is pending.

    ``recipients`` (the frame): every recipient of the user's grids, when asked for.
    """

    alert: AlertRow
    recipients_total: int
    confirmed_total: int
    grids: pd.DataFrame
    recipients: pd.DataFrame | None


def alert_status(
    engine: Engine, user: Principal | None, alert_id: int, *, with_recipients: bool = False
) -> AlertStatus:
    """The status of an alert over the user's grids (an alert reaching none of them: 404)."""
    if user is not None:
        require_command_centre(user, "read the status of alerts")
    mine = _recipients_in_area(engine, user, alert_id)
    row = store.read_alert(engine, alert_id)
    if row is None:  # deleted meanwhile
        raise NotFound(f"no alert has id {alert_id}")
    status = _status(engine, alert_id, user)
    return AlertStatus(
        alert=row,
        recipients_total=int(status["recipients"].sum()) if len(status) else 0,
        confirmed_total=int(status["confirmed"].sum()) if len(status) else 0,
        grids=status,
        recipients=mine if with_recipients else None,
    )
