"""Who an alert (预警通知) goes to, the safe shelter named in each message, and how it leaves.

When a typhoon or flood warning comes, the street office alerts the households in the
hazard area — all of them, or one group such as the elderly living alone (独居老人)
and, through their household, their families — and tells each household the nearest
shelter it can still walk to safely.  This module is the pure part of that:

* :func:`group_mask` — which residents belong to a target group;
* :func:`nearest_safe_shelters` — each household's nearest shelter outside the hazard
  area, on the walking network with the roads meeting the area closed (shelters inside
  are unusable): :func:`analysis.hazard.close_hazard`, the rule of the check-on lists,
  so an alert and a check-on list name the same shelter;
* :func:`select_recipients` — one row per household (group ``all``) or per resident of
  the group, with the household's grid and safe shelter; :class:`NoRecipients` when
  nobody matches, with the reason;
* :func:`compose_messages` and the :class:`Channel` protocol — the text of each
  message and the pluggable way out (an outbox table here, SMS or WeChat in
  production).  Messages name residents by id only: the channel looks up phones
  behind access control, so no personal data passes through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

import shapely
from shapely.geometry.base import BaseGeometry

from analysis.hazard import close_hazard
from analysis.network import RoadNetwork
from gis.errors import AnalysisError, InvalidInput

#: Target groups of an alert, and what each means (the database allows the same names).
GROUPS: dict[str, str] = {
    "all": "every household in the area (one message per household)",
    "vulnerable": "elderly living alone, disabled or mobility-impaired residents",
    "elderly_alone": "elderly residents living alone (独居老人)",
    "disabled": "disabled residents (残疾人)",
    "mobility_impaired": "mobility-impaired residents (行动不便)",
    "children": "children under 15 (儿童)",
}
#: A child is younger than this (the census's 0–14 band).
CHILD_AGE_LIMIT = 15
#: Chinese names of the groups, for messages and pages.
GROUP_NAMES: dict[str, str] = {
    "all": "全体住户",
    "vulnerable": "重点人群",
    "elderly_alone": "独居老人",
    "disabled": "残疾人",
    "mobility_impaired": "行动不便人员",
    "children": "儿童",
}


class NoRecipients(AnalysisError, InvalidInput):
    """Nobody matches the alert's target; the message says why and what to do."""

    title = "No recipients"


class AlertTargetError(AnalysisError, InvalidInput):
    """The target group is unknown or an input frame lacks a column."""


def group_mask(residents: pd.DataFrame, group: str, *, reference_year: int) -> NDArray[np.bool_]:
    """Which residents belong to ``group``.

    Parameters
    ----------
    residents
        Columns ``birth_year``, ``living_alone_elderly``, ``disabled``,
        ``mobility_impaired``.
    group
        One of :data:`GROUPS`.
    reference_year
        The year ages are counted in (children: ``reference_year - birth_year`` below
        :data:`CHILD_AGE_LIMIT`).

    Raises
    ------
    AlertTargetError
        If ``group`` is not one of :data:`GROUPS`.
    """
    if group not in GROUPS:
        raise AlertTargetError(f"unknown target group {group!r}: use one of {', '.join(GROUPS)}")
    n = len(residents)
    if group == "all":
        return np.ones(n, dtype=bool)
    flag = {
        "elderly_alone": ["living_alone_elderly"],
        "disabled": ["disabled"],
        "mobility_impaired": ["mobility_impaired"],
        "vulnerable": ["living_alone_elderly", "disabled", "mobility_impaired"],
    }
    if group == "children":
        age = reference_year - residents["birth_year"].to_numpy(dtype=np.int64)
        return (age >= 0) & (age < CHILD_AGE_LIMIT)
    mask = np.zeros(n, dtype=bool)
    for column in flag[group]:
        mask |= residents[column].fillna(False).to_numpy(dtype=bool)
    return mask


# ---------------------------------------------------------------- safe shelters


@dataclass(frozen=True)
class SafeShelters:
    """Each household's nearest usable shelter, walking around the hazard area.

    Attributes
    ----------
    frame
        ``household_id``, ``shelter_id`` (-1 when none can be reached), ``distance_m``
        and ``walk_s`` (``inf`` when none).
    unusable
        Ids of the shelters inside the hazard area (or closed), left out.
    closed_edges
        ``road_edge`` ids closed because they meet the hazard area.
    """

    frame: pd.DataFrame
    unusable: NDArray[np.int64]
    closed_edges: NDArray[np.int64]


def nearest_safe_shelters(
    network: RoadNetwork,
    hazard: BaseGeometry,
    household_id: ArrayLike,
    lon: ArrayLike,
    lat: ArrayLike,
    shelters: pd.DataFrame,
) -> SafeShelters:
    """Nearest open shelter outside the hazard area for each household, on the safe network.

    Parameters
    ----------
    network
        The walking network.
    hazard
        The hazard area, WGS84.
    household_id, lon, lat
        Households and their building points (WGS84).
    shelters
        ``facility_id``, ``is_open``, ``capacity``, ``occupancy`` and a point geometry
        (WGS84).  Shelters inside the hazard area are unusable.

    Returns
    -------
    SafeShelters
    """
    ids = np.asarray(household_id, dtype=np.int64)
    points = np.asarray(shelters.geometry.array, dtype=object)
    closure = close_hazard(
        network,
        hazard,
        shelters["facility_id"].to_numpy(dtype=np.int64),
        shapely.get_x(points),
        shapely.get_y(points),
        is_open=shelters["is_open"].fillna(False).to_numpy(dtype=bool),
    )
    shelter = np.full(len(ids), -1, dtype=np.int64)
    distance = np.full(len(ids), np.inf)
    index = closure.shelter_index() if len(ids) else None
    if index is not None:
        shelter, distance = index.query(lon, lat)
    walk_s = distance / network.walk_speed_mps
    frame = pd.DataFrame(
        {"household_id": ids, "shelter_id": shelter, "distance_m": distance, "walk_s": walk_s}
    )
    return SafeShelters(
        frame=frame,
        unusable=np.sort(closure.shelter_id[~closure.usable]),
        closed_edges=closure.closed_edges,
    )


# ---------------------------------------------------------------- recipients


def select_recipients(
    households: pd.DataFrame,
    residents: pd.DataFrame,
    group: str,
    *,
    reference_year: int,
    shelters: pd.DataFrame | None = None,
    families: bool = False,
) -> pd.DataFrame:
    """The recipients of an alert: households (group ``all``) or residents of a group.

    Parameters
    ----------
    households
        The households in the hazard area: ``household_id``, ``grid_id``.
    residents
        Their residents: ``id``, ``household_id`` and the flag columns of
        :func:`group_mask`.
    group
        One of :data:`GROUPS`.
    reference_year
        Year in which ages are counted.
    shelters
        Optional ``household_id``, ``shelter_id``, ``walk_s`` (from
        :func:`nearest_safe_shelters`): each recipient is told its household's shelter.
    families
        For a group: also one row per household of the group's members (``resident_id``
        NA), so that the channel reaches their families (the household's contacts).

    Returns
    -------
    pandas.DataFrame
        ``household_id``, ``resident_id`` (NA for a whole household), ``grid_id``,
        ``shelter_id`` (NA when none), ``walk_s`` (NaN when none), ordered by grid,
        household and resident (the household row first).

    Raises
    ------
    NoRecipients
        When the area holds no household, or no resident of the group.
    AlertTargetError
        For an unknown group.
    """
    for name, frame, needed in (
        ("households", households, ("household_id", "grid_id")),
        ("residents", residents, ("id", "household_id")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise AlertTargetError(f"{name} lack columns {missing}")
    if group not in GROUPS:
        group_mask(residents.iloc[:0], group, reference_year=reference_year)  # raises
    if households.empty:
        raise NoRecipients(
            "no household lies in the hazard area, so nobody would be alerted: check the "
            "hazard polygon (coord_type, lon/lat order) or alert a larger area"
        )
    base = households[["household_id", "grid_id"]].drop_duplicates("household_id")
    if group == "all":
        out = base.assign(resident_id=pd.array([pd.NA] * len(base), dtype="Int64"))
    else:
        people = residents[residents["household_id"].isin(base["household_id"])]
        chosen = people[group_mask(people, group, reference_year=reference_year)]
        if chosen.empty:
            raise NoRecipients(
                f"no resident of the group '{group}' ({GROUP_NAMES[group]}) lives in the "
                f"{len(base)} household(s) of the hazard area: nobody would be alerted. "
                "Choose another group (e.g. 'all'), or check the residents' flags"
            )
        out = chosen[["id", "household_id"]].rename(columns={"id": "resident_id"})
        out = out.merge(base, on="household_id", how="left")
        out["resident_id"] = out["resident_id"].astype("Int64")
        if families:
            homes = base[base["household_id"].isin(out["household_id"])]
            homes = homes.assign(resident_id=pd.array([pd.NA] * len(homes), dtype="Int64"))
            out = pd.concat([out, homes], ignore_index=True)
    if shelters is not None and not shelters.empty:
        pick = shelters[["household_id", "shelter_id", "walk_s"]]
        out = out.merge(pick, on="household_id", how="left")
        out["shelter_id"] = out["shelter_id"].where(out["shelter_id"] >= 0)
        out["walk_s"] = out["walk_s"].where(np.isfinite(out["walk_s"]))
    else:
        out["shelter_id"] = pd.NA
        out["walk_s"] = np.nan
    out["shelter_id"] = out["shelter_id"].astype("Int64")
    out["grid_id"] = out["grid_id"].astype("Int64")
    out = out.sort_values(["grid_id", "household_id", "resident_id"], na_position="first")
    columns = ["household_id", "resident_id", "grid_id", "shelter_id", "walk_s"]
    return out[columns].reset_index(drop=True)


# ---------------------------------------------------------------- messages, channel


@dataclass(frozen=True)
class Message:
    """One message to deliver.

    ``recipient`` is ``household:<id>`` or ``resident:<id>``: the channel resolves the
    phone or WeChat id behind access control.
    """

    recipient: str
    body: str
    alert_recipient_id: int | None = None


class Channel(Protocol):
    """A way out for alert messages (outbox here; SMS or WeChat in production).

    ``deliver`` hands the messages over and returns one id per message (the outbox
    row, the gateway's message id); it must raise rather than drop a message.
    """

    name: str

    def deliver(self, messages: Sequence[Message]) -> Sequence[int]:
        """Hand the messages over; one id per message, in order."""
        ...


def compose_messages(
    recipients: pd.DataFrame,
    message: str,
    *,
    shelter_names: dict[int, str],
    recipient_ids: Sequence[int] | None = None,
) -> list[Message]:
    """The text of each recipient's message: the warning plus their safe shelter.

    Parameters
    ----------
    recipients
        As returned by :func:`select_recipients`.
    message
        The warning itself (e.g. "台风'海葵'将于今晚登陆，请做好防范").
    shelter_names
        Shelter (facility) id → name.
    recipient_ids
        The stored ``alert_recipient`` ids, one per row, to link each message.
    """
    out = []
    ids = list(recipient_ids) if recipient_ids is not None else [None] * len(recipients)
    rows = zip(
        recipients["household_id"],
        recipients["resident_id"],
        recipients["shelter_id"],
        recipients["walk_s"],
        ids,
        strict=True,
    )
    for household, resident, shelter, walk_s, rid in rows:
        if pd.isna(shelter):
            where = "附近暂无可安全到达的避难场所，请听从网格员安排。"
        else:
            name = shelter_names.get(int(shelter), f"避难场所{int(shelter)}")
            minutes = max(1, round(float(walk_s) / 60)) if not pd.isna(walk_s) else None
            walk = f"，步行约{minutes}分钟" if minutes is not None else ""
            where = f"最近的安全避难场所：{name}{walk}（已避开危险区域）。"
        to = f"resident:{int(resident)}" if not pd.isna(resident) else f"household:{household}"
        out.append(Message(recipient=to, body=f"{message} {where}", alert_recipient_id=rid))
    return out
