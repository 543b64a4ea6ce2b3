"""The registry desk (人口房屋): search, read, reveal and edit the households of the caller's area.

One use case per function, called by the page (``/registry``) and the JSON API
(``/api/registry``) alike.  Who may see what is decided by :mod:`grids.access`
(:func:`~grids.access.registry_grids`, :func:`~grids.access.require_reveal`): a record
outside the caller's area is not found (404).  Names, ID numbers and phones are
masked in every answer except :func:`reveal`, which unmasks one household for a stated
reason and writes the reveal to the audit log in the same transaction.  Moving a
resident in or out and changing their flags append to the household's history
(``household_history``), with personal data only masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from gis import clock
from gis.errors import Conflict, InvalidInput, NotFound, ServiceError
from gis.store import access_store, registry_store
from gis.store.registry_store import FLAGS, NewResident
from grids.access import (
    Principal,
    mask_id_number,
    mask_name,
    mask_phone,
    may_reveal_identity,
    registry_grids,
    require_reveal,
)
from grids.incidents import SHANGHAI

#: The vulnerable groups in Chinese, in the order of :data:`FLAGS`.
FLAG_NAMES_ZH = {
    "living_alone_elderly": "独居老人",
    "disabled": "残疾人",
    "mobility_impaired": "行动不便",
    "low_income": "低保/低收入",
}
#: What the history records, in Chinese.
ACTION_NAMES_ZH = {"move_in": "迁入", "move_out": "迁出", "flags": "标记变更"}
#: A reason for a reveal or a move out must say at least this much (characters).
MIN_REASON = 4
MAX_LIMIT = 200
_ID_NUMBER = re.compile(r"^[0-9]{17}[0-9X]$")
_PHONE = re.compile(r"^[0-9+\-]{5,20}$")


class HouseholdNotFound(ServiceError, NotFound):
    """No household (or resident) with that id in the caller's area."""


class IdNumberTaken(ServiceError, Conflict):
    """A resident moving in has an ID number another resident already holds."""


@dataclass(frozen=True)
class SearchQuery:
    """A checked registry search: text, building, vulnerable groups, keyset page."""

    text: str | None = None
    building_id: int | None = None
    flags: tuple[str, ...] = ()
    after_id: int = 0
    limit: int = 50


def search_query(
    q: str | None = None,
    *,
    building_id: int | None = None,
    flags: list[str] | tuple[str, ...] = (),
    after_id: int = 0,
    limit: int = 50,
) -> SearchQuery:
    """A checked search from the parameters as given; every mistake names its parameter."""
    text = (q or "").strip() or None
    if text is not None and len(text) > 64:
        raise InvalidInput(f"q: a search text of {len(text)} characters; use at most 64")
    unknown = [f for f in flags if f not in FLAGS]
    if unknown:
        raise InvalidInput(
            f"flag={', '.join(unknown)}: unknown vulnerable group; use any of {', '.join(FLAGS)}"
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit={limit}: give 1 to {MAX_LIMIT}")
    if after_id < 0:
        raise InvalidInput(f"after={after_id}: give the last household id of the previous page")
    return SearchQuery(text, building_id, tuple(dict.fromkeys(flags)), after_id, limit)


@dataclass(frozen=True)
class Person:
    """A resident as the desk shows them; name, ID number and phone masked unless revealed."""

    id: int
    name: str | None
    sex: str
    birth_year: int
    relation: str | None
    id_number: str | None
    phone: str | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class HouseholdRow:
    """A household in a search result (identities masked)."""

    id: int
    ref: str | None
    address: str
    building_id: int
    building_name: str | None
    grid_code: str | None
    grid_name: str | None
    community_name: str | None
    size: int
    residents: int
    groups: dict[str, int]
    head_name: str | None
    head_phone: str | None


@dataclass(frozen=True)
class SearchResult:
    """A page of households, the buildings matching the text, and the next page's key."""

    query: SearchQuery
    households: list[HouseholdRow]
    buildings: list[dict[str, Any]]
    building: dict[str, Any] | None
    next_after: int | None


@dataclass(frozen=True)
class HouseholdView:
    """One household: where, who (masked, or revealed), its history and past reveals."""

    id: int
    ref: str | None
    address: str
    building_id: int
    building_name: str | None
    grid_code: str | None
    grid_name: str | None
    community_name: str | None
    size: int
    lon: float | None
    lat: float | None
    people: list[Person]
    history: list[dict[str, Any]]
    reveals: list[dict[str, Any]]
    revealed: bool = False
    reason: str | None = None
    may_reveal: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def address_of(row: dict[str, Any]) -> str:
    """A household's address: as the office wrote it, or its building, unit and room."""
    if row.get("address"):
        return str(row["address"])
    building = (
        row.get("building_address") or row.get("building_name") or f"楼栋{row['building_id']}"
    )
    return f"{building}{row['unit']}单元{row['room']}室"


def _local(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their ``at`` in China time, as every time the desk shows."""
    return [{**row, "at": row["at"].astimezone(SHANGHAI)} for row in rows]


def _flags(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(f for f in FLAGS if row.get(f))


def _person(row: dict[str, Any], revealed: bool) -> Person:
    name, id_number, phone = row.get("name"), row.get("id_number"), row.get("phone")
    if not revealed:
        name, id_number, phone = mask_name(name), mask_id_number(id_number), mask_phone(phone)
    return Person(
        id=int(row["id"]),
        name=name,
        sex=row["sex"],
        birth_year=int(row["birth_year"]),
        relation=row.get("relation"),
        id_number=id_number,
        phone=phone,
        flags=_flags(row),
    )


def counts_as_search(query: SearchQuery) -> bool:
    """Whether a request is a search by text (bounded an hour per account), not a next page."""
    return query.text is not None and query.after_id == 0


def identity_searched(text: str | None) -> str | None:
    """The phone or ID number a search text names, masked; None for any other text.

    Such a search is written to the audit log with what it found: the answer is masked,
    but that a household came back says the number is theirs.
    """
    if text is None or not registry_store.exact_kind(text):
        return None
    digits = re.sub(r"[^0-9Xx]", "", text).upper()
    if len(digits) == 18:
        return mask_id_number(digits)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return mask_phone(digits) if len(digits) >= 7 else None


def search(engine: Engine, user: Principal, query: SearchQuery) -> SearchResult:
    """The households (and buildings) of the user's area that match ``query``, masked.

    A search by phone or ID number is audited (``search_identity``: the number masked,
    the households found) in the same transaction.
    """
    grids = registry_grids(user)
    with engine.begin() as conn:
        the_building = None
        if query.building_id is not None:
            the_building = registry_store.building(conn, query.building_id, grids)
            if the_building is None:
                raise HouseholdNotFound(
                    f"building {query.building_id} is not in your area; search by name instead"
                )
        rows = registry_store.search_households(
            conn,
            grid_ids=grids,
            query=query.text,
            building_id=query.building_id,
            flags=query.flags,
            after_id=query.after_id,
            limit=query.limit + 1,
        )
        buildings = (
            registry_store.search_buildings(conn, grid_ids=grids, query=query.text)
            if counts_as_search(query) and query.building_id is None
            else []
        )
        number = identity_searched(query.text)
        if number is not None:
            access_store.audit(
                conn,
                user.username,
                "search_identity",
                "household",
                None,
                {"q": number, "households": [int(r["id"]) for r in rows[: query.limit]]},
            )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    households = [
        HouseholdRow(
            id=int(r["id"]),
            ref=r["ref"],
            address=address_of(r),
            building_id=int(r["building_id"]),
            building_name=r["building_name"],
            grid_code=r["grid_code"],
            grid_name=r["grid_name"],
            community_name=r["community_name"],
            size=int(r["size"]),
            residents=int(r["residents"]),
            groups={f: int(r[f]) for f in FLAGS if r[f]},
            head_name=mask_name(r["head_name"]),
            head_phone=mask_phone(r["head_phone"]),
        )
        for r in rows
    ]
    next_after = households[-1].id if more and households else None
    return SearchResult(query, households, buildings, the_building, next_after)


def _view(
    conn: Any, user: Principal, household_id: int, *, revealed: bool = False
) -> HouseholdView:
    grids = registry_grids(user)
    row = registry_store.household(conn, household_id, grids)
    if row is None:
        raise HouseholdNotFound(
            f"household {household_id} is not in your area (or does not exist); "
            "find it with the search of /registry"
        )
    people = [_person(r, revealed) for r in registry_store.residents(conn, household_id)]
    return HouseholdView(
        id=int(row["id"]),
        ref=row["ref"],
        address=address_of(row),
        building_id=int(row["building_id"]),
        building_name=row["building_name"],
        grid_code=row["grid_code"],
        grid_name=row["grid_name"],
        community_name=row["community_name"],
        size=int(row["size"]),
        lon=row["lon"],
        lat=row["lat"],
        people=people,
        history=_local(registry_store.history(conn, household_id)),
        reveals=_local(registry_store.reveals(conn, household_id)),
        revealed=revealed,
        may_reveal=may_reveal_identity(user),
    )


def household(engine: Engine, user: Principal, household_id: int) -> HouseholdView:
    """One household of the user's area, identities masked, with its history and reveals."""
    with engine.connect() as conn:
        return _view(conn, user, household_id)


def _reason(reason: str | None, what: str) -> str:
    text = (reason or "").strip()
    if len(text) < MIN_REASON:
        raise InvalidInput(
            f"reason: say why you {what} in at least {MIN_REASON} characters "
            "(e.g. 独居老人走访需联系家属); the reason is written to the audit log"
        )
    if len(text) > 500:
        raise InvalidInput(f"reason: {len(text)} characters; keep it under 500")
    return text


def reveal(engine: Engine, user: Principal, household_id: int, reason: str | None) -> HouseholdView:
    """Unmask one household's identities for a stated reason; the reveal is audited.

    Raises
    ------
    Forbidden
        For a role that may not read identities.
    HouseholdNotFound
        Outside the user's area.
    InvalidInput
        Without a reason of at least :data:`MIN_REASON` characters.
    """
    require_reveal(user)
    why = _reason(reason, "reveal the household's names, ID numbers and phones")
    with engine.begin() as conn:
        view = _view(conn, user, household_id, revealed=True)
        access_store.audit(
            conn,
            user.username,
            "reveal_identity",
            "household",
            household_id,
            {"reason": why, "residents": [p.id for p in view.people]},
        )
        view = HouseholdView(**{**view.__dict__, "reason": why})
    return view


def _check_person(
    name: str | None,
    sex: str | None,
    birth_year: int | None,
    id_number: str | None,
    phone: str | None,
    now: datetime,
) -> list[str]:
    problems = []
    if not (name or "").strip() or len(name or "") > 40:
        problems.append("name: give the resident's name (1 to 40 characters)")
    if sex not in ("M", "F"):
        problems.append(f"sex={sex!r}: use M (男) or F (女)")
    if birth_year is None or not 1890 <= birth_year <= now.year:
        problems.append(f"birth_year={birth_year!r}: give a year from 1890 to {now.year}")
    if id_number and not _ID_NUMBER.match(id_number):
        problems.append(
            "id_number: 18 characters, 17 digits and a digit or X (e.g. 330106199001011234)"
        )
    if phone and not _PHONE.match(phone):
        problems.append("phone: 5 to 20 digits (+ and - allowed)")
    return problems


#: The key that holds one resident per ID number across every area.
ID_NUMBER_KEY = "uq_resident_identity_id_number_hash"


def _constraint(exc: IntegrityError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def move_in(
    engine: Engine,
    user: Principal,
    household_id: int,
    person: NewResident,
    reason: str | None = None,
) -> int:
    """Add a resident to a household of the user's area (迁入); the new resident's id.

    Raises
    ------
    InvalidInput
        Naming every wrong field.
    IdNumberTaken
        When another resident holds the ID number (409; the message says which household).
    HouseholdNotFound
        Outside the user's area.
    """
    now = clock.now()
    person = NewResident(
        **{
            **person.__dict__,
            "name": (person.name or "").strip(),
            "id_number": (person.id_number or "").strip().upper() or None,
            "phone": (person.phone or "").strip() or None,
            "relation": (person.relation or "").strip() or None,
        }
    )
    problems = _check_person(
        person.name, person.sex, person.birth_year, person.id_number, person.phone, now
    )
    if problems:
        raise InvalidInput(
            f"cannot move a resident into household {household_id}: " + "; ".join(problems)
        )
    grids = registry_grids(user)
    with engine.begin() as conn:
        if registry_store.household(conn, household_id, grids, lock=True) is None:
            raise HouseholdNotFound(f"household {household_id} is not in your area")
        if person.id_number:
            holder = registry_store.id_number_taken(conn, person.id_number)
            if holder is not None:
                raise IdNumberTaken(
                    f"ID number {mask_id_number(person.id_number)} already belongs to a resident "
                    f"of household {holder}: move them out there first, or check the number"
                )
        try:
            resident_id = registry_store.insert_resident(conn, household_id, person)
        except IntegrityError as exc:
            # a resident of another area holds it: the read above could not see them
            if _constraint(exc) != ID_NUMBER_KEY:
                raise
            raise IdNumberTaken(
                f"ID number {mask_id_number(person.id_number)} is registered to a resident "
                "outside your area: the office that holds them must move them out first, "
                "or check the number"
            ) from exc
        registry_store.add_history(
            conn,
            household_id,
            at=now,
            username=user.username,
            action="move_in",
            resident_id=resident_id,
            reason=(reason or "").strip() or None,
            detail={
                "name": mask_name(person.name),
                "sex": person.sex,
                "birth_year": person.birth_year,
                "flags": list(_flags(person.__dict__)),
            },
        )
    return resident_id


def move_out(
    engine: Engine, user: Principal, household_id: int, resident_id: int, reason: str | None
) -> None:
    """Remove a resident from a household of the user's area (迁出), saying why."""
    why = _reason(reason, "move the resident out")
    grids = registry_grids(user)
    with engine.begin() as conn:
        if registry_store.household(conn, household_id, grids, lock=True) is None:
            raise HouseholdNotFound(f"household {household_id} is not in your area")
        people = {int(r["id"]): r for r in registry_store.residents(conn, household_id)}
        if resident_id not in people:
            raise HouseholdNotFound(
                f"household {household_id} has no resident {resident_id}; reload the household"
            )
        gone = people[resident_id]
        registry_store.delete_resident(conn, household_id, resident_id)
        registry_store.add_history(
            conn,
            household_id,
            at=clock.now(),
            username=user.username,
            action="move_out",
            resident_id=resident_id,
            reason=why,
            detail={
                "name": mask_name(gone["name"]),
                "sex": gone["sex"],
                "birth_year": gone["birth_year"],
            },
        )


def set_flags(
    engine: Engine,
    user: Principal,
    household_id: int,
    resident_id: int,
    flags: dict[str, bool],
    reason: str | None = None,
) -> dict[str, bool]:
    """Set a resident's vulnerable groups (独居老人, 残疾 …); the flags as they are now."""
    unknown = sorted(set(flags) - set(FLAGS))
    if unknown:
        raise InvalidInput(f"unknown vulnerable group {', '.join(unknown)}; use {', '.join(FLAGS)}")
    grids = registry_grids(user)
    with engine.begin() as conn:
        if registry_store.household(conn, household_id, grids, lock=True) is None:
            raise HouseholdNotFound(f"household {household_id} is not in your area")
        before = registry_store.set_flags(conn, household_id, resident_id, flags)
        if before is None:
            raise HouseholdNotFound(
                f"household {household_id} has no resident {resident_id}; reload the household"
            )
        after = {**before, **{k: bool(v) for k, v in flags.items()}}
        changed = {f: after[f] for f in FLAGS if after[f] != before[f]}
        if changed:
            registry_store.add_history(
                conn,
                household_id,
                at=clock.now(),
                username=user.username,
                action="flags",
                resident_id=resident_id,
                reason=(reason or "").strip() or None,
                detail={"changed": changed},
            )
    return after
