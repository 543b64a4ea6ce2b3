"""Who may see what (数据权限): the one place the access rules of Wangge are decided.

Every door (the HTTP API, the maps, the exports, Open311) asks this module, and only
this module, whether a user may see an incident, a grid's households, or a resident's
personal data, and gets the masked form when they may see the record but not the
identity.  The rules, by role (``app_user.role``):

=================  ===========================================  ==========================
role               sees incidents                               sees households / identity
=================  ===========================================  ==========================
resident           the ones they reported                       none
grid_worker        in their grids, or assigned to them          their grids; names and
                                                                phones masked unless an
                                                                open task of theirs is at
                                                                the building (the task
                                                                needs them)
community_staff    in their community's grids                   their community, in full
street_staff       in their street's grids                      their street, in full
district_staff     in the grids of every street and community   their district; names, ID
                   of their district (区), at any depth          numbers and phones masked
                                                                (revealed one household at
                                                                a time on the registry
                                                                desk, with a reason,
                                                                audited)
city_staff         in the grids of every district, street and   their city; masked, as
                   community of their city (市), at any depth    for district staff
admin              all                                          all, in full
=================  ===========================================  ==========================

District and city staff (区级 / 市级工作人员) supervise: they act on the cases of their
area as any staff do (立案, 派遣, 督办, 核查, 结案; a case's reporter contact is theirs to
call back, as for all staff), read its registers, its KPIs (考核) and its live picture,
but the registers' residents stay masked for them, in exports too: a district holds
hundreds of thousands of people, and nobody supervising it needs their identities in
bulk.  They reveal one household at a time on the registry desk, saying why
(:func:`may_reveal_identity`).  They do not store grid designs: a street's grids are
drawn and saved by its street office (:func:`require_street_staff`).

Full identity reads are written to the audit log by the caller (the store), so the
rule here says *whether*, the store records *that*.  On the staff's registry desk
(``/registry``) identities are masked for every role at first and revealed one household
at a time with a stated reason (:func:`may_reveal_identity`), each reveal audited.

Anything not visible is reported to the caller as "not found" (404), never as
"forbidden with a hint", so a user cannot probe which incident ids exist outside their
area.

Pure: the ids a user's area covers are resolved by :mod:`gis.store.access_store` and handed
in as a :class:`Principal`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from gis.db.models import ROLES
from gis.errors import Forbidden, Unauthorized  # the policy's refusals (re-exported)
from gis.store.access_store import UserRow
from grids.incidents import Actor

if TYPE_CHECKING:  # pandas is imported where a frame is read: the accounts' commands need none
    import pandas as pd

#: Roles that see personal data of residents in their area in full (audited).
FULL_IDENTITY_ROLES = frozenset({"community_staff", "street_staff", "admin"})
#: Roles that may act as staff on incidents of their area (立案, 派遣, 核查, 结案).
STAFF_ROLES = frozenset(
    {"community_staff", "street_staff", "district_staff", "city_staff", "admin"}
)
#: Roles that may reveal one household's identities at a time on the registry desk, with a
#: reason (audited): those who read them in full, and the supervising district and city
#: staff, who otherwise read them masked.
REVEAL_ROLES = FULL_IDENTITY_ROLES | {"district_staff", "city_staff"}
#: Who the staff are, as the refusals say it.
STAFF_WHO = "community, street, district or city staff"

ROLE_NAMES_ZH = {
    "resident": "居民",
    "grid_worker": "网格员",
    "community_staff": "社区工作人员",
    "street_staff": "街道工作人员",
    "district_staff": "区级工作人员",
    "city_staff": "市级工作人员",
    "admin": "系统管理员",
}


@dataclass(frozen=True)
class Principal:
    """A signed-in user and the area their role covers.

    Parameters
    ----------
    user_id, username, display_name, role
        From ``app_user``.
    worker_id
        ``grid_worker.id`` when the user is a grid worker.
    area_id
        ``admin_area.id`` of a staff member's community, street, district or city.
    grid_ids
        Every grid (all versions) the user covers; None means every grid (admin).
    """

    user_id: int
    username: str
    display_name: str
    role: str
    worker_id: int | None = None
    area_id: int | None = None
    grid_ids: frozenset[int] | None = frozenset()

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; roles are {', '.join(ROLES)}")

    @classmethod
    def of(cls, row: UserRow) -> Principal:
        """The principal of a stored user (its grids as the store read them)."""
        return cls(
            user_id=row.id,
            username=row.username,
            display_name=row.display_name,
            role=row.role,
            worker_id=row.worker_id,
            area_id=row.area_id,
            grid_ids=row.grid_ids,
        )

    @property
    def actor(self) -> Actor:
        """The actor of the incident life cycle this user is."""
        return Actor(self.username, self.role, user_id=self.user_id, worker_id=self.worker_id)

    @property
    def sees_everything(self) -> bool:
        """Whether no area limits what the user sees (admin)."""
        return self.grid_ids is None

    @property
    def is_staff(self) -> bool:
        """Community, street, district or city staff, or admin (:data:`STAFF_ROLES`)."""
        return self.role in STAFF_ROLES

    def covers_grid(self, grid_id: int | None) -> bool:
        """Whether the grid lies in the user's area (a record in no grid: admin only)."""
        if self.grid_ids is None:
            return True
        return grid_id is not None and grid_id in self.grid_ids


@dataclass(frozen=True)
class IncidentFilter:
    """What a listing of incidents must be limited to for a user (SQL-ready plain values).

    A row is visible when any given condition holds: ``everything``; its grid in
    ``grid_ids``; its assignee is ``worker_id``; its reporter is ``reporter_id``.
    """

    everything: bool
    grid_ids: tuple[int, ...] = ()
    worker_id: int | None = None
    reporter_id: int | None = None


def incident_filter(user: Principal) -> IncidentFilter:
    """The rows of ``incident`` the user may see, as plain values a query can apply."""
    if user.sees_everything:
        return IncidentFilter(everything=True)
    if user.role == "resident":
        return IncidentFilter(everything=False, reporter_id=user.user_id)
    grids = tuple(sorted(user.grid_ids or ()))
    worker = user.worker_id if user.role == "grid_worker" else None
    return IncidentFilter(everything=False, grid_ids=grids, worker_id=worker)


def may_see_incident(
    user: Principal, *, grid_id: int | None, reporter_id: int | None, assignee_id: int | None
) -> bool:
    """Whether the user may see one incident (the same rule as :func:`incident_filter`)."""
    rule = incident_filter(user)
    return (
        rule.everything
        or (grid_id is not None and grid_id in rule.grid_ids)
        or (rule.worker_id is not None and assignee_id == rule.worker_id)
        or (rule.reporter_id is not None and reporter_id == rule.reporter_id)
    )


def kpi_filter(user: Principal) -> IncidentFilter:
    """The cases whose performance (考核) the user may review, as for :func:`incident_filter`.

    Staff and admins review their whole area (every grid, worker, category and source in
    it).  A grid worker reviews their own record only: the cases assigned to them, in any
    breakdown, not their colleagues' (a worker's grids also hold cases assigned to a
    backup).  Residents are assessed by nobody and assess nobody here.

    Raises
    ------
    Forbidden
        For a resident, or a grid worker account not linked to a worker.
    """
    if user.is_staff:
        return incident_filter(user)
    if user.role == "grid_worker" and user.worker_id is not None:
        return IncidentFilter(everything=False, worker_id=user.worker_id)
    raise Forbidden(
        f"the performance review (考核) is for {STAFF_WHO}, admins and "
        f"grid workers (their own cases); you are {user.role} ({ROLE_NAMES_ZH[user.role]})"
    )


def may_see_contact(user: Principal, *, reporter_id: int | None) -> bool:
    """Whether the user may read how to reach an incident's reporter (name, phone).

    Staff of the area and the reporter themself; not the grid worker, who acts on the
    case through staff and the case record.
    """
    return user.is_staff or (reporter_id is not None and reporter_id == user.user_id)


def may_add_photos(user: Principal, *, reporter_id: int | None, assignee_id: int | None) -> bool:
    """Whether the user may add photos to an incident they see.

    Staff, the reporter (a picture of what they reported) and the worker it is
    assigned to (the evidence of its handling); not a colleague who merely sees it.
    """
    return (
        user.is_staff
        or (reporter_id is not None and reporter_id == user.user_id)
        or (user.worker_id is not None and user.worker_id == assignee_id)
    )


def may_see_households(user: Principal) -> bool:
    """Whether the user's role may see households at all (workers and staff, not residents)."""
    return user.role != "resident"


def require_households(user: Principal) -> None:
    """Raise :class:`Forbidden` unless the user's role may see households."""
    if not may_see_households(user):
        raise Forbidden(
            f"a {ROLE_NAMES_ZH[user.role]} ({user.role}) may not see households or residents"
        )


def require_staff(user: Principal, what: str) -> None:
    """Raise :class:`Forbidden` unless the user is staff (:data:`STAFF_ROLES`) or admin."""
    if not user.is_staff:
        raise Forbidden(
            f"only {STAFF_WHO} or an admin may {what}; "
            f"you are {user.role} ({ROLE_NAMES_ZH[user.role]})"
        )


def require_street_staff(user: Principal, what: str) -> None:
    """Raise :class:`Forbidden` unless the user is street staff or an admin.

    For what the street office itself does to its streets (store a grid design, simulate
    a new layout, run the escalation job): district and city staff supervise the streets
    of their area, they do not redraw them.
    """
    if user.role not in ("street_staff", "admin"):
        raise Forbidden(
            f"only street staff or an admin may {what}; "
            f"you are {user.role} ({ROLE_NAMES_ZH[user.role]})"
        )


def require_admin(user: Principal, what: str) -> None:
    """Raise :class:`Forbidden` unless the user is an admin (accounts, audit, imports)."""
    if user.role != "admin":
        raise Forbidden(
            f"only an admin (系统管理员) may {what}; "
            f"you are {user.role} ({ROLE_NAMES_ZH[user.role]})"
        )


def require_grid_worker(user: Principal) -> int:
    """The user's ``grid_worker.id``; :class:`Forbidden` unless they are a linked grid worker.

    The worker's tablet (网格员工作台) shows *my* grids and *my* tasks: it has nothing to
    show to an account that is not a grid worker.
    """
    if user.role != "grid_worker" or user.worker_id is None:
        raise Forbidden(
            "the worker's tablet (网格员工作台) is for grid workers; you are "
            f"{user.role} ({ROLE_NAMES_ZH[user.role]})"
            + ("" if user.role != "grid_worker" else " without a linked grid_worker record")
        )
    return user.worker_id


def is_own_task(user: Principal, *, assignee_id: int | None) -> bool:
    """Whether a case is the user's own task (assigned to them): a worker checks in only there.

    A worker may *see* other cases of their grids (a colleague's, as a backup), but the
    tablet's task list, route and check-in (proof of presence) are for their own.
    """
    return user.worker_id is not None and assignee_id == user.worker_id


def identity_visible(user: Principal, *, building_id: int, task_buildings: Collection[int]) -> bool:
    """Whether the user may read residents' names and phones in one building unmasked.

    Parameters
    ----------
    user
        Who asks; they must already cover the building's grid.
    building_id
        The building the residents live in.
    task_buildings
        Buildings at the user's open tasks (for a grid worker: the task needs the
        residents' identity, e.g. a 独居老人关爱 visit); ignored for other roles.
    """
    if user.role in FULL_IDENTITY_ROLES:
        return True
    if user.role == "grid_worker":
        return building_id in task_buildings
    return False


def mask_name(name: str | None) -> str | None:
    """``张三丰`` → ``张**``: the family name only, as on a notice board."""
    if not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str | None) -> str | None:
    """``13812345678`` → ``138****5678``: enough to recognise, not to call."""
    if not phone:
        return phone
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(id_number: str | None) -> str | None:
    """``330106199001011234`` → ``3****************4``: the first and last character only.

    Why so little: the region code and the last four digits beside a birth year shown
    elsewhere leave about 33 candidate ID numbers (the check digit does the rest), so
    masking that keeps them can be undone; with one character at each end the region,
    the birth date and the sequence stay unknown.
    """
    if not id_number:
        return id_number
    if len(id_number) < 10:
        return "*" * len(id_number)
    return id_number[0] + "*" * (len(id_number) - 2) + id_number[-1]


# ---------------------------------------------------------------- situational awareness, planning


def require_command_centre(user: Principal, what: str) -> None:
    """Raise :class:`Forbidden` unless the user may use the command centre (指挥中心) doors.

    Situational awareness — aggregates, hotspots, early warnings, hazard areas and their
    impact, alerts, the live picture and stream, the daily report — is for the street
    office and the communities: community staff, street staff and admins.  A resident
    or a grid worker gets 403 (a worker has their own tablet and check-on list).

    What each door then shows is limited by area where the data are per place (the
    open incidents, check-on rows, alert status per grid: see :func:`rows_in_area`);
    aggregate counts without personal data (incidents per cell, hotspots, warnings,
    hazard areas, shelters) stay district-wide, so a community sees its neighbours'
    trends.
    """
    if not user.is_staff:
        raise Forbidden(
            f"the command centre (指挥中心) is for {STAFF_WHO} and admins: "
            f"only they may {what}; you are {user.role} ({ROLE_NAMES_ZH[user.role]})"
        )


def require_planner(user: Principal, what: str) -> None:
    """Raise :class:`Forbidden` unless the user may plan facilities (设施规划).

    The planners of the street office are its staff (community staff, street staff,
    admins); they see the district's aggregates (people per H3 cell, grid and
    community — no personal data) and may save and delete scenarios.  Residents and
    grid workers get 403.
    """
    if not user.is_staff:
        raise Forbidden(
            f"facility planning (设施规划) is for the offices' staff: only {STAFF_WHO} "
            f"or an admin may {what}; you are {user.role} "
            f"({ROLE_NAMES_ZH[user.role]})"
        )


def require_check_on(user: Principal) -> None:
    """Raise :class:`Forbidden` unless the user may read check-on lists (走访名单) at all.

    Staff read the lists of the grids they cover; a grid worker reads those of their own
    grids (whom to check on in a typhoon is exactly what they need).  Rows outside the
    user's grids are then left out by :func:`rows_in_area`.  Residents get 403.
    """
    if not (user.is_staff or (user.role == "grid_worker" and user.worker_id is not None)):
        raise Forbidden(
            "check-on lists (走访名单) are for grid workers (their grids) and community or "
            f"street staff (their area); you are {user.role} ({ROLE_NAMES_ZH[user.role]})"
        )


def require_alert_confirmer(user: Principal) -> None:
    """Raise :class:`Forbidden` unless the user may confirm that alerted people were reached.

    The same people as :func:`require_check_on`: the grid worker of the recipients'
    grids, or staff covering them; which recipients they may confirm is
    :func:`rows_in_area`.  The confirmation is recorded under the user's own name.
    """
    if not (user.is_staff or (user.role == "grid_worker" and user.worker_id is not None)):
        raise Forbidden(
            "confirming that residents were reached (已通知到位) is for the grid worker of "
            "their grid or community / street staff; you are "
            f"{user.role} ({ROLE_NAMES_ZH[user.role]})"
        )


def rows_in_area(user: Principal, grid_ids: Any) -> NDArray[np.bool_]:
    """Which per-place rows (by their grid id) lie in the user's area, as a boolean mask.

    Used for every per-place answer of situational awareness: open incidents on the live
    picture, check-on rows, alert recipients and alert status per grid, hazard impact
    per grid.  A row in no grid (NA) is in the admin's area only, as for
    :meth:`Principal.covers_grid`.

    Parameters
    ----------
    user
        Who asks.
    grid_ids
        One grid id per row (a column, list or array; nullable).
    """
    import pandas as pd

    ids = pd.Series(grid_ids, dtype="Int64")
    if user.sees_everything:
        return np.ones(len(ids), dtype=bool)
    return ids.isin(list(user.grid_ids or ())).fillna(False).to_numpy(dtype=bool)


def may_see_area(user: Principal, area_grid_ids: Collection[int]) -> bool:
    """Whether the user may read a report about a whole street or community (每日态势报告).

    Only when the area lies within theirs: every current grid of it is one they cover
    (a community's staff read their community, not the street around it; the street's
    staff read the street and each of its communities; a district's or city's staff
    every street and community under theirs).  An area without grids: admin
    only.  Anything else is answered as not found (404).
    """
    if user.sees_everything:
        return True
    covered = user.grid_ids or frozenset()
    return bool(area_grid_ids) and all(int(g) in covered for g in area_grid_ids)


def may_see_worker(user: Principal, worker_grid_ids: Collection[int]) -> bool:
    """Whether the user may see where a grid worker is (their last position).

    A worker's position is personal data of the worker: staff see the workers of the
    grids they cover (admin: all).  Grid workers and residents use no door that shows it.
    """
    if not user.is_staff:
        return False
    return user.sees_everything or any(user.covers_grid(int(g)) for g in worker_grid_ids)


def home_grids(assignments: pd.DataFrame) -> pd.DataFrame:
    """Where each grid worker belongs: the grids they are primary of (主责网格).

    A worker who is primary of no grid (a standby) belongs to the grids they back up.

    Parameters
    ----------
    assignments
        Who covers which current grid (``grid_assignment``): columns ``grid_id``,
        ``worker_id`` and ``role`` (``primary`` / ``backup``); other columns (e.g.
        ``community_id``) are kept.

    Returns
    -------
    pandas.DataFrame
        The rows of ``assignments`` that are home grids.
    """
    primary = (assignments["role"] == "primary").to_numpy(dtype=bool)
    has_primary = assignments["worker_id"].isin(assignments.loc[primary, "worker_id"])
    return assignments[primary | ~has_primary.to_numpy(dtype=bool)]


def workers_in_area(user: Principal, assignments: pd.DataFrame) -> frozenset[int]:
    """The grid workers a staff member may give cases to: those who belong to their area.

    A worker belongs where their home grids are (:func:`home_grids`) and is in the
    user's area when every one of them lies in it: a community's staff give cases to
    their community's workers, a street's staff to the street's, an admin to anyone
    with a grid.  A worker who backs up a grid of the area but belongs to another
    community (a community with a single grid takes its backup from the next one) is
    outside it: nobody assigns across the line of their own area.

    Parameters
    ----------
    user
        Who assigns.
    assignments
        Who covers which current grid, as for :func:`home_grids`.
    """
    import pandas as pd

    home = home_grids(assignments)
    inside = pd.Series(rows_in_area(user, home["grid_id"]), index=home["worker_id"].to_numpy())
    every = inside.groupby(level=0).all()
    return frozenset(int(w) for w in every.index[every.to_numpy(dtype=bool)])


def require_own_position(user: Principal, worker_id: int) -> None:
    """Raise :class:`Forbidden` unless the user may report this worker's position.

    Only the worker themself (their tablet, ``user.worker_id == worker_id``) or an admin
    (for a device bridge): a position is evidence of presence, so nobody may set
    someone else's.
    """
    if user.role == "admin" or (user.worker_id is not None and user.worker_id == worker_id):
        return
    raise Forbidden(
        f"only grid worker {worker_id} themself (or an admin) may report their position; "
        f"you are {user.role} ({ROLE_NAMES_ZH[user.role]})"
        + (f", grid worker {user.worker_id}" if user.worker_id is not None else "")
    )


# ---------------------------------------------------------------- exports of the registers


def require_exporter(user: Principal) -> None:
    """Raise :class:`Forbidden` unless the user may export registers (workers and staff)."""
    if user.role == "resident":
        raise Forbidden(
            "exports of the registers (台账导出) are for grid workers and community or street "
            f"staff; you are {user.role} ({ROLE_NAMES_ZH[user.role]})"
        )


def export_grids(user: Principal, area_grid_ids: Collection[int]) -> tuple[int, ...]:
    """The grids of an area whose registers the user may export; empty: answer not found.

    Staff export an area that lies within theirs (:func:`may_see_area`), whole; a grid
    worker exports the grids of the area they cover.
    """
    require_exporter(user)
    grids = tuple(sorted(int(g) for g in area_grid_ids))
    if user.is_staff:
        return grids if may_see_area(user, grids) else ()
    return tuple(g for g in grids if user.covers_grid(g))


def mask_identities(user: Principal, residents: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Residents' names, ID numbers and phones as the user may read them in an export.

    Roles that see identities in full (:data:`FULL_IDENTITY_ROLES`) get them unmasked
    (the caller audits that); anyone else gets them masked: an export is not a task, so
    a grid worker's open tasks unmask nothing here.

    Parameters
    ----------
    residents
        With columns ``name``, ``id_number`` and ``phone`` (others kept as they are).

    Returns
    -------
    (frame, masked)
        The frame to export and whether it was masked.
    """
    if user.role in FULL_IDENTITY_ROLES:
        return residents, False
    out = residents.copy()
    for column, mask in (("name", mask_name), ("id_number", mask_id_number), ("phone", mask_phone)):
        if column in out:
            out[column] = out[column].map(lambda v, m=mask: m(v) if isinstance(v, str) else None)
    return out, True


# ---------------------------------------------------------------- published maps (tiles, OGC API)

#: Map layers (vector tiles) anyone may read: places, and people only as counts, each
#: suppressed below k.
PUBLIC_MAP_LAYERS = frozenset({"basemap", "grids", "buildings", "roads", "h3", "shelters"})
#: Map layers of the command centre: open incidents, hazard areas.
STAFF_MAP_LAYERS = frozenset({"incidents", "hazards"})
#: The check-on layer (走访: vulnerable residents' buildings and their routes to safety).
CHECK_ON_LAYER = "checkon"

#: OGC API collections (``pub_*`` views) anyone may read.
PUBLIC_COLLECTIONS = frozenset(
    {
        "pub_grid",
        "pub_admin_area",
        "pub_building",
        "pub_facility",
        "pub_shelter",
        "pub_road",
        "pub_map_area",
    }
)
#: OGC API collections for the command centre; rows of ``pub_incident`` limited to the area.
STAFF_COLLECTIONS = frozenset({"pub_incident", "pub_hazard"})
#: Collections whose rows carry a ``grid_id`` and are shown only in the user's area.
AREA_COLLECTIONS = frozenset({"pub_incident"})


def require_map_layer(user: Principal | None, layer: str) -> None:
    """Raise unless the user may read a map layer (vector tiles).

    The public layers are for anyone, signed in or not; incidents and hazards for the
    command centre (:func:`require_command_centre`); the check-on layer for those who
    read check-on lists (:func:`require_check_on`).

    Raises
    ------
    Unauthorized
        For a layer that is not public, asked without signing in.
    Forbidden
        For a role that may not read it.
    """
    if layer in PUBLIC_MAP_LAYERS:
        return
    if user is None:
        raise Unauthorized(
            f"the map layer '{layer}' is not public: sign in at /login in a browser, or "
            "send 'Authorization: Bearer TOKEN'"
        )
    if layer == CHECK_ON_LAYER:
        require_check_on(user)
    else:
        require_command_centre(user, f"read the map layer '{layer}'")


def visible_collections(user: Principal | None) -> frozenset[str]:
    """The OGC API collections the user may list and read.

    The public set for anyone; the staff set too for the command centre's staff.
    """
    if user is not None and user.is_staff:
        return PUBLIC_COLLECTIONS | STAFF_COLLECTIONS
    return PUBLIC_COLLECTIONS


def collection_grids(user: Principal | None, collection: str) -> frozenset[int] | None:
    """The grids whose rows of a collection the user may read; None: every row.

    Only :data:`AREA_COLLECTIONS` are limited (to the grids the user covers, as for the
    live picture's incidents); the others are district-wide for whoever may read them.
    """
    if collection not in AREA_COLLECTIONS or user is None or user.sees_everything:
        return None
    return frozenset(int(g) for g in (user.grid_ids or ()))


# ---------------------------------------------------------------- the staff desk: registry, grids


def require_registry(user: Principal, what: str = "use the registry desk (人口房屋)") -> None:
    """Raise :class:`Forbidden` unless the user may open the registry desk (人口房屋).

    The desk is for the staff of an area (community staff, street staff, admins): the
    buildings, households and residents of the grids they cover.  A grid worker reads
    their own grids on their tablet; a resident reads nothing of others.
    """
    if not user.is_staff:
        raise Forbidden(
            f"the registry desk (人口房屋) is for {STAFF_WHO} and admins: "
            f"only they may {what}; you are {user.role} ({ROLE_NAMES_ZH[user.role]})"
            + ("; grid workers use their tablet (/worker)" if user.role == "grid_worker" else "")
        )


def registry_grids(user: Principal) -> tuple[int, ...] | None:
    """The grids whose buildings, households and residents the desk shows; None: every one.

    Staff see exactly the grids their area covers (every version, so a household placed
    in a grid that was since redrawn stays theirs).  A record outside them — another
    community's household, one in no grid — is answered as not found (404).
    """
    require_registry(user)
    if user.sees_everything:
        return None
    return tuple(sorted(user.grid_ids or ()))


def may_reveal_identity(user: Principal) -> bool:
    """Whether the user may reveal residents' names, ID numbers and phones at the desk.

    On the registry desk everyone sees identities masked at first, even the roles that
    may read them in full (:data:`FULL_IDENTITY_ROLES`): they reveal one household at a
    time, saying why, and each reveal is written to the audit log (``reveal_identity``).
    District and city staff, who read identities masked everywhere else, may reveal them
    so too (:data:`REVEAL_ROLES`).
    """
    return user.role in REVEAL_ROLES


def require_reveal(user: Principal) -> None:
    """Raise :class:`Forbidden` unless the user may reveal a household's identities."""
    if not may_reveal_identity(user):
        raise Forbidden(
            "revealing residents' names, ID numbers and phones (查看实名信息) is for "
            f"{STAFF_WHO} and admins; you are {user.role} ({ROLE_NAMES_ZH[user.role]})"
        )


def may_manage_grid(user: Principal, grid_id: int) -> bool:
    """Whether the user may hand one grid over to another worker (网格交接).

    Staff covering the grid (its community's staff, its street's staff, an admin).  A
    grid outside their area is answered as not found.
    """
    return user.is_staff and user.covers_grid(grid_id)


def require_grid_desk(user: Principal, what: str = "open the grids desk (网格与人员)") -> None:
    """Raise :class:`Forbidden` unless the user may use the grids desk (网格与人员)."""
    if not user.is_staff:
        raise Forbidden(
            f"the grids desk (网格与人员) is for {STAFF_WHO} and admins: "
            f"only they may {what}; you are {user.role} ({ROLE_NAMES_ZH[user.role]})"
        )


#: Category groups (大类) whose cases are never published, not even coarsened: disputes
#: between neighbours and the care of vulnerable residents name or point at people.
PRIVATE_CATEGORY_GROUPS = frozenset({"矛盾纠纷", "特殊人群"})


def may_publish_category(group_name: str) -> bool:
    """Whether cases of a category group may be shown to strangers (Open311 without a key).

    What is shown is coarse even then: category, state, dates, the community and an H3
    cell, never the description, the exact place, photos or any contact.
    """
    return group_name not in PRIVATE_CATEGORY_GROUPS


# ------------------------------------------------------------------ notices, wishes


def require_resident(user: Principal, what: str) -> None:
    """Only a resident's own account may ``what`` (post a wish, support one, read notices)."""
    if user.role != "resident":
        raise Forbidden(
            f"only a resident's account may {what}; you are signed in as "
            f"{ROLE_NAMES_ZH.get(user.role, user.role)}"
        )


def require_community_desk(user: Principal, what: str) -> None:
    """Community staff, street staff or admin may ``what`` (post notices, decide on wishes)."""
    if not user.is_staff:
        raise Forbidden(f"only community or street staff may {what}")


def may_manage_community(user: Principal, community_grid_ids: Collection[int]) -> bool:
    """Whether staff may post to a community and decide on its residents' wishes.

    Only a community inside their area: every current grid of it is one they cover
    (:func:`may_see_area`); a resident or a grid worker never.
    """
    return user.is_staff and may_see_area(user, community_grid_ids)
