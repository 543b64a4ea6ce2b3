"""The registry desk's SQL (人口房屋): search households, read one, move residents in and out.

Contract: every read takes the grids of the caller's area (``grid_ids``; None: every grid)
and returns only rows placed in them, so a caller that passes the area of
:func:`grids.access.registry_grids` cannot read another area's records.  Identities
(name, ID number, phone) are returned in clear (opened from their sealed form): masking
them, and auditing a reveal
(:func:`gis.store.access_store.audit`), is the service's job.  Writers take an open
connection and leave the commit to the caller.

Search is by substring over the trigram (``pg_trgm``) indexes of migration 0016: a text of
three characters or more matches anywhere in a household's address or number (户编号),
a building's name or address, a resident's name; a resident's phone or ID number is
matched whole (they are sealed: :mod:`gis.crypt`, found through their blind index); a
shorter text matches the
start of a household's address or number and of a resident's name (a surname, ``王``),
and anywhere in a building's name (there are few buildings).

A short text that is frequent (a common surname by the planner's statistics, a word of
many buildings' names: :func:`_frequent`) is first looked for by walking the area's
households in id order (:data:`SHORT_SCAN` at most), which finds its first page at once;
any other text, or a walk that ends without a full page, asks the indexes.  Both ways
give the same page.  The area's condition is written into each branch, so the planner
may start from the area (a community) or from the index (a rare name in a street).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from gis import crypt
from gis.store.register_store import new_ids

#: The vulnerability flags of ``resident`` the desk filters and edits by.
FLAGS = ("living_alone_elderly", "disabled", "mobility_impaired", "low_income")


def like_escape(value: str) -> str:
    """``value`` with LIKE's wildcards (``%``, ``_``) and its escape character taken literally."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def patterns(query: str) -> tuple[str, str]:
    """The LIKE patterns of a search text: (anywhere, for long texts or the start of a field).

    Returns ``(contains, field)``: ``contains`` is ``%text%`` (buildings, which are few);
    ``field`` is ``%text%`` for three characters or more, ``text%`` for fewer (the
    trigram index cannot find a shorter text inside a field).
    """
    escaped = like_escape(query)
    contains = f"%{escaped}%"
    return contains, contains if len(query) >= 3 else f"{escaped}%"


_AREA = "(CAST(:grids AS bigint[]) IS NULL OR h.grid_id = ANY(CAST(:grids AS bigint[])))"
#: How many households of the area a short search walks (in id order) before it asks the
#: indexes instead: a short text (a surname) is usually frequent, and its first page is
#: then found within the first few hundred households.
SHORT_SCAN = 2500
#: A short text held by this share of residents' names (at least :data:`FREQUENT_NAMES`)
#: or by this many buildings is frequent: a walk of :data:`SHORT_SCAN` households (about
#: 2.6 residents each) then expects some 100 matches, enough for a page.
FREQUENT_SHARE = 0.015
FREQUENT_NAMES = 2000
FREQUENT_BUILDINGS = 20


def _in_area(grid_ids: Sequence[int] | None, alias: str = "h") -> str:
    """The area condition on ``alias.grid_id``, written out (the planner then sees it as is)."""
    return "TRUE" if grid_ids is None else f"{alias}.grid_id = ANY(CAST(:grids AS bigint[]))"


#: A resident whose phone or ID number is the search text (their sealed values are found
#: through the blind index: :mod:`gis.crypt`).
_EXACT = " OR i.phone_hash = ANY(:phone_hashes) OR i.id_number_hash = ANY(:id_hashes)"


def exact_kind(query: str) -> bool:
    """Whether a search text may be a phone or an ID number (matched exactly)."""
    return re.fullmatch(r"[0-9+\- ]{3,}|[0-9]{17}[0-9Xx]", query.strip()) is not None


def _exact_params(query: str) -> dict[str, Any]:
    ring = crypt.keyring()
    return {
        "phone_hashes": ring.digests("phone", query),
        "id_hashes": ring.digests("id_number", query),
    }


def _hits(digits: bool, area: str) -> str:
    """The ids of households of the area matching a search: each field's index, then a union.

    A resident's match reaches their household by key, one row at a time (``OFFSET 0``
    keeps the planner from hashing all 500,000 residents for a few thousand matches).
    """
    phone = _EXACT if digits else ""
    return f"""
        SELECT h.id FROM household h WHERE (h.address ILIKE :field OR h.ref ILIKE :field)
        AND {area}
        UNION
        SELECT h.id FROM building b JOIN household h ON h.building_id = b.id
        WHERE (b.name ILIKE :contains OR b.address ILIKE :contains) AND {area}
        UNION
        SELECT h.id FROM resident_identity i
        CROSS JOIN LATERAL (
            SELECT r.household_id FROM resident r WHERE r.id = i.resident_id OFFSET 0
        ) r
        CROSS JOIN LATERAL (
            SELECT h.id, h.grid_id FROM household h WHERE h.id = r.household_id OFFSET 0
        ) h
        WHERE (i.name ILIKE :field{phone}) AND {area}
    """


def _order(area: str) -> str:
    """What households are ordered by: their id; ``id + 0`` in an area.

    In an area (a community is a few thousand households of 200,000) walking the primary
    key from the first id would pass every household before the area's; ``id + 0`` hides
    that order, so the planner reads the area's households by grid and sorts them.
    """
    return "h.id" if area == "TRUE" else "h.id + 0"


def _walk(digits: bool, where: str, order: str) -> str:
    """The first matches among the area's first :data:`SHORT_SCAN` households, in id order.

    Every join is a nested loop on a key (``OFFSET 0`` keeps the planner from hashing the
    buildings or every resident of the district), so the id order of the households is
    kept and the walk stops at the page's last match.
    """
    phone = _EXACT if digits else ""
    return f"""
        SELECT s.id FROM (
            SELECT {order} AS k, h.id, h.building_id, h.address, h.ref FROM household h
            WHERE {where} ORDER BY k LIMIT :scan
        ) s
        CROSS JOIN LATERAL (
            SELECT b.name, b.address FROM building b WHERE b.id = s.building_id OFFSET 0
        ) b
        LEFT JOIN LATERAL (
            SELECT 1 AS hit FROM resident r JOIN resident_identity i ON i.resident_id = r.id
            WHERE r.household_id = s.id AND (i.name ILIKE :field{phone}) LIMIT 1
        ) m ON true
        WHERE s.address ILIKE :field OR s.ref ILIKE :field OR b.name ILIKE :contains
           OR b.address ILIKE :contains OR m.hit IS NOT NULL
        ORDER BY s.k LIMIT :limit
    """


def _frequent(conn: Connection, params: dict[str, Any]) -> bool:
    """Whether a short text is frequent: many residents' names, or many buildings, hold it.

    Names: the planner's estimate from the column's statistics (its most common values and
    histogram, under a millisecond; counting the matches would read thousands of rows),
    against :data:`FREQUENT_SHARE` of the estimated residents.  Buildings: counted through
    their index up to :data:`FREQUENT_BUILDINGS`.
    """
    plan = conn.execute(
        text("EXPLAIN (FORMAT JSON) SELECT 1 FROM resident_identity i WHERE i.name ILIKE :field"),
        params,
    ).scalar_one()
    names = float(plan[0]["Plan"]["Plan Rows"])
    estimate = conn.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = 'resident_identity'::regclass")
    ).scalar_one()
    if names >= max(FREQUENT_NAMES, FREQUENT_SHARE * max(float(estimate or 0), 0)):
        return True
    buildings = conn.execute(
        text(
            "SELECT count(*) FROM (SELECT 1 FROM building b WHERE b.name ILIKE :contains "
            "OR b.address ILIKE :contains LIMIT :n) b"
        ),
        {**params, "n": FREQUENT_BUILDINGS},
    ).scalar_one()
    return buildings >= FREQUENT_BUILDINGS


def _page_ids(
    conn: Connection, where: str, params: dict[str, Any], query: str | None, area: str
) -> list[int]:
    """The ids of the page: households satisfying ``where`` (and the search), by id."""
    order = _order(area)
    if not query:
        sql = f"SELECT h.id FROM household h WHERE {where} ORDER BY {order} LIMIT :limit"
        return [int(r[0]) for r in conn.execute(text(sql), params)]
    digits = exact_kind(query)
    if digits:
        params = {**params, **_exact_params(query)}
    if len(query) < 3 and _frequent(conn, params):
        walk = {**params, "scan": SHORT_SCAN}
        ids = [int(r[0]) for r in conn.execute(text(_walk(digits, where, order)), walk)]
        if len(ids) >= params["limit"]:
            return ids
        scanned = conn.execute(
            text(
                f"SELECT count(*) FROM (SELECT 1 FROM household h WHERE {where} "
                f"ORDER BY {order} LIMIT :scan) s"
            ),
            walk,
        ).scalar_one()
        if scanned < SHORT_SCAN:  # the walk saw every household there is
            return ids
    sql = f"""
        SELECT hit.id FROM ({_hits(digits, area)}) hit JOIN household h ON h.id = hit.id
        WHERE {where} ORDER BY hit.id LIMIT :limit
    """
    return [int(r[0]) for r in conn.execute(text(sql), params)]


_HOUSEHOLD_COLUMNS = """
    h.id, h.ref, h.address, h.unit, h.room, h.size, h.building_id,
    b.name AS building_name, b.address AS building_address, h.grid_id, g.code AS grid_code,
    g.name AS grid_name, c.name AS community_name
"""

_RESIDENT_COLUMNS = """
    r.id, r.household_id, r.ref, r.relation, r.birth_year, r.sex, r.living_alone_elderly,
    r.disabled, r.mobility_impaired, r.low_income, i.name, i.id_number, i.phone
"""


def _grids_param(grid_ids: Sequence[int] | None) -> list[int] | None:
    return None if grid_ids is None else [int(g) for g in grid_ids]


def search_households(
    conn: Connection,
    *,
    grid_ids: Sequence[int] | None,
    query: str | None = None,
    building_id: int | None = None,
    flags: Sequence[str] = (),
    after_id: int = 0,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Households of the area matching the search, by id after ``after_id``, at most ``limit``.

    Parameters
    ----------
    grid_ids
        The caller's area (None: every grid).
    query
        Text searched as described in the module docstring; None or empty: every household.
    building_id
        Only this building's households.
    flags
        Only households with a resident of each of these groups (:data:`FLAGS`).
    after_id, limit
        Keyset paging: households with a greater id, this many.

    Returns
    -------
    list of dict
        The columns of a household (id, ref, address, unit, room, size, building and grid),
        with ``residents`` (count), one count per flag, and ``head_name`` / ``head_phone``
        (the first resident's, as stored).
    """
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise ValueError(f"unknown flags {sorted(unknown)}")
    area = _in_area(grid_ids)
    where = [area, "h.id > :after"]
    params: dict[str, Any] = {
        "grids": _grids_param(grid_ids),
        "after": after_id,
        "limit": limit,
    }
    if query:
        contains, field = patterns(query)
        params |= {"contains": contains, "field": field}
    if building_id is not None:
        where.append("h.building_id = :building")
        params["building"] = building_id
    for flag in flags:
        where.append(f"EXISTS (SELECT 1 FROM resident f WHERE f.household_id = h.id AND f.{flag})")
    # a search is a few milliseconds of index probes: compiling it (JIT, tens of ms, set
    # off by the planner's cost of the walk) would cost more than it saves
    conn.execute(text("SET LOCAL jit = off"))
    ids = _page_ids(conn, " AND ".join(where), params, query, area)
    if not ids:
        return []
    sql = f"""
        WITH page AS (SELECT unnest(CAST(:ids AS bigint[])) AS id)
        SELECT {_HOUSEHOLD_COLUMNS},
               coalesce(p.residents, 0) AS residents,
               {", ".join(f"coalesce(p.{f}, 0) AS {f}" for f in FLAGS)},
               head.name AS head_name, head.phone AS head_phone
        FROM page JOIN household h ON h.id = page.id
        JOIN building b ON b.id = h.building_id
        LEFT JOIN grid g ON g.id = h.grid_id
        LEFT JOIN admin_area c ON c.id = g.community_id
        LEFT JOIN LATERAL (
            SELECT count(*) AS residents,
                   {", ".join(f"count(*) FILTER (WHERE r.{f}) AS {f}" for f in FLAGS)}
            FROM resident r WHERE r.household_id = h.id
        ) p ON true
        LEFT JOIN LATERAL (
            SELECT i.name, i.phone FROM resident r JOIN resident_identity i ON i.resident_id = r.id
            WHERE r.household_id = h.id ORDER BY (r.relation IN ('本人', '户主')) DESC, r.id
            LIMIT 1
        ) head ON true
        ORDER BY h.id
    """
    return crypt.open_rows(
        (dict(r) for r in conn.execute(text(sql), {"ids": ids}).mappings()),
        {"head_phone": "phone"},
    )


def search_buildings(
    conn: Connection, *, grid_ids: Sequence[int] | None, query: str, limit: int = 20
) -> list[dict[str, Any]]:
    """Buildings of the area whose name or address holds ``query``, with their household counts."""
    contains, _ = patterns(query)
    sql = f"""
        SELECT b.id, b.name, b.address, b.floors, b.units, g.code AS grid_code,
               count(h.id) AS households
        FROM building b LEFT JOIN grid g ON g.id = b.grid_id
        JOIN household h ON h.building_id = b.id
        WHERE (b.name ILIKE :contains OR b.address ILIKE :contains) AND {_AREA}
        GROUP BY b.id, g.code ORDER BY b.name, b.id LIMIT :limit
    """
    params = {"contains": contains, "grids": _grids_param(grid_ids), "limit": limit}
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def building(conn: Connection, building_id: int, grid_ids: Sequence[int] | None) -> dict | None:
    """One building with a household of the area (its households are the area's), or None."""
    row = (
        conn.execute(
            text(
                "SELECT b.id, b.name, b.address, b.floors, b.units, b.use FROM building b "
                f"WHERE b.id = :b AND EXISTS (SELECT 1 FROM household h WHERE "
                f"h.building_id = b.id AND {_AREA})"
            ),
            {"b": building_id, "grids": _grids_param(grid_ids)},
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def household(
    conn: Connection, household_id: int, grid_ids: Sequence[int] | None, *, lock: bool = False
) -> dict[str, Any] | None:
    """One household of the area with its building and grid, or None (also when outside it).

    ``lock``: hold the household's row until the transaction ends (writers).
    """
    row = (
        conn.execute(
            text(
                f"SELECT {_HOUSEHOLD_COLUMNS}, ST_X(ST_Centroid(b.geom)) AS lon, "
                "ST_Y(ST_Centroid(b.geom)) AS lat "
                "FROM household h JOIN building b ON b.id = h.building_id "
                "LEFT JOIN grid g ON g.id = h.grid_id "
                "LEFT JOIN admin_area c ON c.id = g.community_id "
                f"WHERE h.id = :h AND {_AREA}" + (" FOR UPDATE OF h" if lock else "")
            ),
            {"h": household_id, "grids": _grids_param(grid_ids)},
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def residents(conn: Connection, household_id: int) -> list[dict[str, Any]]:
    """The residents of a household with their identities (as stored), head first."""
    rows = conn.execute(
        text(
            f"SELECT {_RESIDENT_COLUMNS} FROM resident r "
            "LEFT JOIN resident_identity i ON i.resident_id = r.id "
            "WHERE r.household_id = :h ORDER BY (r.relation IN ('本人', '户主')) DESC, r.id"
        ),
        {"h": household_id},
    ).mappings()
    return crypt.open_rows((dict(r) for r in rows), {"id_number": "id_number", "phone": "phone"})


def id_number_taken(conn: Connection, id_number: str) -> int | None:
    """The household of the resident holding this ID number, or None when nobody does."""
    found = conn.execute(
        text(
            "SELECT r.household_id FROM resident_identity i JOIN resident r "
            "ON r.id = i.resident_id WHERE i.id_number_hash = ANY(:n)"
        ),
        {"n": crypt.keyring().digests("id_number", id_number)},
    ).scalar()
    return None if found is None else int(found)


@dataclass(frozen=True)
class NewResident:
    """A resident moving in: who they are to the household, birth year, sex, flags, identity."""

    name: str
    sex: str
    birth_year: int
    relation: str | None = None
    id_number: str | None = None
    phone: str | None = None
    living_alone_elderly: bool = False
    disabled: bool = False
    mobility_impaired: bool = False
    low_income: bool = False


def insert_resident(conn: Connection, household_id: int, person: NewResident) -> int:
    """Add a resident (and their identity) to a household; its size grows by one.  Their id."""
    resident_id = int(new_ids(conn, "resident", 1)[0])
    ring = crypt.keyring()
    conn.execute(
        text(
            # the household's office is the resident's (its ids, its --replace, its versions)
            "INSERT INTO resident (id, household_id, office_id, relation, birth_year, sex, "
            "living_alone_elderly, disabled, mobility_impaired, low_income) SELECT "
            ":id, :h, h.office_id, :relation, :birth_year, :sex, :living_alone_elderly, "
            ":disabled, :mobility_impaired, :low_income FROM household h WHERE h.id = :h"
        ),
        {
            "id": resident_id,
            "h": household_id,
            "relation": person.relation,
            "birth_year": person.birth_year,
            "sex": person.sex,
            **{f: getattr(person, f) for f in FLAGS},
        },
    )
    conn.execute(
        text(
            "INSERT INTO resident_identity (resident_id, name, id_number, phone, "
            "id_number_hash, phone_hash) "
            "VALUES (:id, :name, :id_number, :phone, :id_number_hash, :phone_hash)"
        ),
        {
            "id": resident_id,
            "name": person.name,
            "id_number": ring.seal("id_number", person.id_number),
            "phone": ring.seal("phone", person.phone),
            "id_number_hash": ring.digest("id_number", person.id_number),
            "phone_hash": ring.digest("phone", person.phone),
        },
    )
    conn.execute(
        text("UPDATE household SET size = LEAST(size + 1, 30) WHERE id = :h"), {"h": household_id}
    )
    return resident_id


def delete_resident(conn: Connection, household_id: int, resident_id: int) -> bool:
    """Remove a resident from a household (迁出; identity with them); its size shrinks by one.

    False when the household has no such resident.
    """
    gone = conn.execute(
        text("DELETE FROM resident WHERE id = :r AND household_id = :h RETURNING id"),
        {"r": resident_id, "h": household_id},
    ).first()
    if gone is None:
        return False
    conn.execute(
        text("UPDATE household SET size = GREATEST(size - 1, 0) WHERE id = :h"),
        {"h": household_id},
    )
    return True


def set_flags(
    conn: Connection, household_id: int, resident_id: int, flags: dict[str, bool]
) -> dict[str, bool] | None:
    """Set a resident's vulnerability flags; the flags they had before, None if not there."""
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise ValueError(f"unknown flags {sorted(unknown)}")
    before = (
        conn.execute(
            text(
                f"SELECT {', '.join(FLAGS)} FROM resident WHERE id = :r AND household_id = :h "
                "FOR UPDATE"
            ),
            {"r": resident_id, "h": household_id},
        )
        .mappings()
        .first()
    )
    if before is None:
        return None
    if flags:
        sets = ", ".join(f"{f} = :{f}" for f in flags)
        conn.execute(text(f"UPDATE resident SET {sets} WHERE id = :r"), {"r": resident_id, **flags})
    return {f: bool(before[f]) for f in FLAGS}


def add_history(
    conn: Connection,
    household_id: int,
    *,
    at: datetime,
    username: str | None,
    action: str,
    resident_id: int | None,
    reason: str | None,
    detail: dict[str, Any],
) -> None:
    """Append one change to a household's history."""
    conn.execute(
        text(
            "INSERT INTO household_history (household_id, at, username, action, resident_id, "
            "reason, detail) VALUES (:h, :at, :u, :a, :r, :reason, CAST(:d AS jsonb))"
        ),
        {
            "h": household_id,
            "at": at,
            "u": username,
            "a": action,
            "r": resident_id,
            "reason": reason,
            "d": json.dumps(detail, ensure_ascii=False),
        },
    )


def history(conn: Connection, household_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """A household's changes, newest first."""
    rows = conn.execute(
        text(
            "SELECT id, at, username, action, resident_id, reason, detail FROM household_history "
            "WHERE household_id = :h ORDER BY at DESC, id DESC LIMIT :n"
        ),
        {"h": household_id, "n": limit},
    ).mappings()
    return [dict(r) for r in rows]


def reveals(conn: Connection, household_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Who revealed a household's identities, when and why (from the audit log), newest first."""
    rows = conn.execute(
        text(
            "SELECT at, username, detail->>'reason' AS reason FROM audit_log "
            "WHERE action = 'reveal_identity' AND object_type = 'household' "
            "AND object_id = :h ORDER BY at DESC, id DESC LIMIT :n"
        ),
        {"h": str(household_id), "n": limit},
    ).mappings()
    return [dict(r) for r in rows]
