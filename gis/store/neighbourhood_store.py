"""The statements of the residents' side: homes, nearby facilities, notices, wishes.

Where a resident lives, nearby facilities, notices (小区公告 / 社区通知) and their reads,
hazard alerts sent to a household, and residents' wishes (你说我做) with their supports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, text

from gis.store.awareness_store import announce

#: A resident's groups as SQL over ``resident r`` (``:year`` the current year).
GROUP_SQL = {
    "elderly_alone": "r.living_alone_elderly",
    "disabled": "r.disabled",
    "mobility_impaired": "r.mobility_impaired",
    "children": "r.birth_year > :year - 15",
    "vulnerable": "(r.living_alone_elderly OR r.disabled OR r.mobility_impaired OR r.low_income)",
}


@dataclass(frozen=True)
class Residence:
    """Where a signed-in resident lives, as far as the register knows (None: unknown)."""

    resident_id: int | None
    household_id: int | None
    grid_id: int | None
    estate_id: int | None
    estate_name: str | None
    community_id: int | None
    groups: frozenset[str]


def residence(engine: Engine, user_id: int, year: int) -> Residence:
    """The resident linked to the account (``resident_account``), else the account's area."""
    groups = ", ".join(f"{sql} AS {name}" for name, sql in GROUP_SQL.items())
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT r.id, h.id AS household_id, h.grid_id, b.estate_id, "
                "e.name AS estate_name, "
                f"COALESCE(g.community_id, e.parent_id) AS community_id, {groups} "
                "FROM resident_account ra JOIN resident r ON r.id = ra.resident_id "
                "JOIN household h ON h.id = r.household_id JOIN building b ON b.id = h.building_id "
                "LEFT JOIN admin_area e ON e.id = b.estate_id LEFT JOIN grid g ON g.id = h.grid_id "
                "WHERE ra.user_id = :u"
            ),
            {"u": user_id, "year": year},
        ).first()
        if row is not None:
            m = row._mapping
            return Residence(
                int(m["id"]),
                int(m["household_id"]),
                m["grid_id"],
                m["estate_id"],
                m["estate_name"],
                m["community_id"],
                frozenset(g for g in GROUP_SQL if m[g]),
            )
        area = conn.execute(
            text(
                "SELECT a.id, a.level, a.name, a.parent_id FROM app_user u "
                "JOIN admin_area a ON a.id = u.area_id WHERE u.id = :u"
            ),
            {"u": user_id},
        ).first()
    if area is None:
        return Residence(None, None, None, None, None, None, frozenset())
    if area.level == "estate":
        return Residence(None, None, None, area.id, area.name, area.parent_id, frozenset())
    if area.level == "community":
        return Residence(None, None, None, None, None, area.id, frozenset())
    return Residence(None, None, None, None, None, None, frozenset())


def area_names(engine: Engine, ids: list[int]) -> dict[int, str]:
    """Names of admin areas by id."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, name FROM admin_area WHERE id = ANY(:i)"), {"i": ids}
        ).all()
    return {int(r.id): str(r.name) for r in rows}


def communities_in(engine: Engine, area_id: int | None) -> list[tuple[int, str, tuple[int, ...]]]:
    """The communities of an area, each with its current grids.

    The area itself and every area under it at any depth (a street's communities, a
    district's or city's; every one for None): ``(id, name, grid ids)``.
    """
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "WITH RECURSIVE under_area(id) AS (SELECT CAST(:a AS integer) "
                "UNION SELECT c.id FROM admin_area c JOIN under_area u ON c.parent_id = u.id) "
                "SELECT a.id, a.name, COALESCE(array_agg(g.id ORDER BY g.id) "
                "FILTER (WHERE g.id IS NOT NULL), '{}') AS grids FROM admin_area a "
                "LEFT JOIN grid g ON g.community_id = a.id AND g.valid_to IS NULL "
                "WHERE a.level = 'community' AND (CAST(:a AS integer) IS NULL "
                "OR a.id IN (SELECT id FROM under_area)) GROUP BY a.id ORDER BY a.name, a.id"
            ),
            {"a": area_id},
        ).all()
    return [(int(r.id), str(r.name), tuple(int(g) for g in r.grids)) for r in rows]


def community_targets(
    engine: Engine, community_id: int
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The estates ``(id, name)`` and current grids ``(id, code)`` of a community."""
    with engine.connect() as conn:
        estates = conn.execute(
            text(
                "SELECT id, name FROM admin_area WHERE level = 'estate' AND parent_id = :c "
                "ORDER BY name, id"
            ),
            {"c": community_id},
        ).all()
        grids = conn.execute(
            text(
                "SELECT id, code FROM grid WHERE community_id = :c AND valid_to IS NULL "
                "ORDER BY code"
            ),
            {"c": community_id},
        ).all()
    return [(int(r.id), str(r.name)) for r in estates], [(int(r.id), str(r.code)) for r in grids]


def estate_community(engine: Engine, estate_id: int) -> int | None:
    """The community an estate lies in (None: no such estate)."""
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT parent_id FROM admin_area WHERE id = :e AND level = 'estate'"),
            {"e": estate_id},
        ).scalar()


def grid_community(engine: Engine, grid_id: int) -> int | None:
    """The community of a current grid (None: no such grid)."""
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT community_id FROM grid WHERE id = :g AND valid_to IS NULL"),
            {"g": grid_id},
        ).scalar()


# ------------------------------------------------------------------ nearby facilities


def service_facilities(engine: Engine, kinds: tuple[str, ...]) -> pd.DataFrame:
    """Every facility of ``kinds``, with lon/lat (the columns of :func:`facilities_near`)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, kind, name, address, opening_hours, phone, ST_X(geom) AS lon, "
                "ST_Y(geom) AS lat FROM facility WHERE kind = ANY(:k) ORDER BY id"
            ),
            {"k": list(kinds)},
        ).all()
    columns = ["id", "kind", "name", "address", "opening_hours", "phone", "lon", "lat"]
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def facilities_near(
    engine: Engine, lon: float, lat: float, radius_m: float, kinds: tuple[str, ...]
) -> pd.DataFrame:
    """Facilities of ``kinds`` within ``radius_m`` (straight) of a point, with lon/lat."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, kind, name, address, opening_hours, phone, ST_X(geom) AS lon, "
                "ST_Y(geom) AS lat FROM facility WHERE kind = ANY(:k) AND ST_DWithin("
                "geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, :r) "
                "ORDER BY id"
            ),
            {"k": list(kinds), "x": lon, "y": lat, "r": radius_m},
        ).all()
    columns = ["id", "kind", "name", "address", "opening_hours", "phone", "lon", "lat"]
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


# ------------------------------------------------------------------ notices

NOTICE_COLUMNS = (
    "n.id, n.community_id, n.scope, n.estate_id, n.grid_id, n.target_group, n.title, n.body, "
    "n.created_at, n.created_by"
)


def insert_notice(engine: Engine, values: dict[str, Any]) -> int:
    """Store a notice and announce it to the residents' live pages; its id."""
    with engine.begin() as conn:
        notice_id = int(
            conn.execute(
                text(
                    "INSERT INTO notice (community_id, scope, estate_id, grid_id, target_group, "
                    "title, body, created_at, created_by) VALUES (:community_id, :scope, "
                    ":estate_id, :grid_id, :target_group, :title, :body, :created_at, "
                    ":created_by) RETURNING id"
                ),
                values,
            ).scalar_one()
        )
        announce(conn, "notice", notice_id)
    return notice_id


def notices_of_communities(engine: Engine, community_ids: list[int], limit: int) -> list[Any]:
    """The latest notices posted to these communities, with how many have read each."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    f"SELECT {NOTICE_COLUMNS}, (SELECT count(*) FROM notice_read r "
                    "WHERE r.notice_id = n.id) AS reads FROM notice n "
                    "WHERE n.community_id = ANY(:c) ORDER BY n.created_at DESC, n.id DESC LIMIT :l"
                ),
                {"c": community_ids, "l": limit},
            ).all()
        )


def _notice_filter(place: Residence) -> tuple[str, dict[str, Any]]:
    """SQL condition over ``notice n``: the notices for a resident living at ``place``."""
    groups = sorted(place.groups)
    return (
        "(n.community_id = :c AND (n.scope = 'community' OR (n.scope = 'group' "
        "AND n.target_group = ANY(:groups)))) OR (n.scope = 'estate' AND n.estate_id = :e) "
        "OR (n.scope = 'grid' AND n.grid_id = :g)",
        {"c": place.community_id, "e": place.estate_id, "g": place.grid_id, "groups": groups},
    )


def notices_for(engine: Engine, place: Residence, user_id: int, limit: int) -> list[Any]:
    """The notices for a resident, newest first, each with ``read_at`` (None: unread)."""
    where, params = _notice_filter(place)
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    f"SELECT {NOTICE_COLUMNS}, r.read_at FROM notice n LEFT JOIN notice_read r "
                    f"ON r.notice_id = n.id AND r.user_id = :u WHERE {where} "
                    "ORDER BY n.created_at DESC, n.id DESC LIMIT :l"
                ),
                params | {"u": user_id, "l": limit},
            ).all()
        )


def unread_count(engine: Engine, place: Residence, user_id: int) -> int:
    """How many notices for a resident they have not read."""
    where, params = _notice_filter(place)
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    f"SELECT count(*) FROM notice n WHERE ({where}) AND NOT EXISTS (SELECT 1 "
                    "FROM notice_read r WHERE r.notice_id = n.id AND r.user_id = :u)"
                ),
                params | {"u": user_id},
            ).scalar_one()
        )


def notice_for(engine: Engine, place: Residence, notice_id: int) -> Any | None:
    """One notice if it is for a resident living at ``place``."""
    where, params = _notice_filter(place)
    with engine.connect() as conn:
        return conn.execute(
            text(f"SELECT {NOTICE_COLUMNS} FROM notice n WHERE n.id = :n AND ({where})"),
            params | {"n": notice_id},
        ).first()


def mark_read(engine: Engine, notice_id: int, user_id: int, at: datetime) -> None:
    """Record that a user read a notice (the first time counts)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO notice_read (notice_id, user_id, read_at) VALUES (:n, :u, :at) "
                "ON CONFLICT DO NOTHING"
            ),
            {"n": notice_id, "u": user_id, "at": at},
        )


def alerts_for(engine: Engine, place: Residence, now: datetime, user_id: int) -> list[Any]:
    """The hazard alerts (预警通知) of hazards in force sent to the resident's household.

    (Or, with no household known, to any household of their community).  Each with
    ``seen_at``: when user ``user_id`` marked it seen (None: not yet, it counts as unread).
    """
    if place.household_id is not None:
        where, params = "ar.household_id = :h", {"h": place.household_id}
    elif place.community_id is not None:
        where = "ar.grid_id IN (SELECT id FROM grid WHERE community_id = :c)"
        params = {"c": place.community_id}
    else:
        return []
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT a.id, a.message, a.created_at, h.kind, h.name, h.severity, "
                    "s.seen_at FROM alert a JOIN hazard_area h ON h.id = a.hazard_id "
                    "LEFT JOIN alert_seen s ON s.alert_id = a.id AND s.user_id = :u "
                    "WHERE EXISTS (SELECT 1 FROM alert_recipient ar WHERE ar.alert_id = a.id "
                    f"AND {where}) "
                    "AND h.valid_from <= :now AND (h.valid_to IS NULL OR h.valid_to > :now) "
                    "ORDER BY a.created_at DESC, a.id DESC LIMIT 20"
                ),
                params | {"now": now, "u": user_id},
            ).all()
        )


def mark_alert_seen(engine: Engine, alert_id: int, user_id: int, at: datetime) -> None:
    """Record that a user has seen an alert (the first time counts)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alert_seen (alert_id, user_id, seen_at) VALUES (:a, :u, :at) "
                "ON CONFLICT DO NOTHING"
            ),
            {"a": alert_id, "u": user_id, "at": at},
        )


# ------------------------------------------------------------------ wishes

WISH_COLUMNS = (
    "w.id, w.estate_id, e.name AS estate_name, w.community_id, w.title, w.body, w.created_at, "
    "w.state, w.supports, w.reason, w.owner, w.due_date, w.decided_at, w.author_id"
)


def insert_wish(engine: Engine, values: dict[str, Any]) -> int:
    """Store a wish; its id."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO wish (estate_id, community_id, author_id, title, body, "
                    "created_at) VALUES (:estate_id, :community_id, :author_id, :title, :body, "
                    ":created_at) RETURNING id"
                ),
                values,
            ).scalar_one()
        )


def wishes(
    engine: Engine,
    *,
    user_id: int,
    estate_id: int | None = None,
    community_ids: list[int] | None = None,
    limit: int = 100,
) -> list[Any]:
    """Wishes of an estate or of communities, newest first, with ``supported`` by the user."""
    if estate_id is not None:
        where, params = "w.estate_id = :e", {"e": estate_id}
    else:
        where, params = "w.community_id = ANY(:c)", {"c": community_ids or []}
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    f"SELECT {WISH_COLUMNS}, EXISTS (SELECT 1 FROM wish_support s WHERE "
                    "s.wish_id = w.id AND s.user_id = :u) AS supported FROM wish w "
                    f"JOIN admin_area e ON e.id = w.estate_id WHERE {where} "
                    "ORDER BY w.created_at DESC, w.id DESC LIMIT :l"
                ),
                params | {"u": user_id, "l": limit},
            ).all()
        )


def wish(engine: Engine, wish_id: int) -> Any | None:
    """One wish."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                f"SELECT {WISH_COLUMNS} FROM wish w JOIN admin_area e ON e.id = w.estate_id "
                "WHERE w.id = :w"
            ),
            {"w": wish_id},
        ).first()


def support(engine: Engine, wish_id: int, user_id: int, at: datetime) -> bool:
    """Add one resident's support (False: they had supported it already)."""
    with engine.begin() as conn:
        added = conn.execute(
            text(
                "INSERT INTO wish_support (wish_id, user_id, at) VALUES (:w, :u, :at) "
                "ON CONFLICT DO NOTHING RETURNING 1"
            ),
            {"w": wish_id, "u": user_id, "at": at},
        ).first()
        if added is None:
            return False
        conn.execute(text("UPDATE wish SET supports = supports + 1 WHERE id = :w"), {"w": wish_id})
    return True


def decide(
    engine: Engine,
    wish_id: int,
    *,
    expected: tuple[str, ...],
    state: str,
    reason: str | None,
    owner: str | None,
    due_date: date | None,
    by: str,
    at: datetime,
) -> bool:
    """Set what the community made of a wish if it is still in one of ``expected``."""
    with engine.begin() as conn:
        done = conn.execute(
            text(
                "UPDATE wish SET state = :s, reason = :r, owner = :o, due_date = :d, "
                "decided_by = :by, decided_at = :at WHERE id = :w AND state = ANY(:x) RETURNING 1"
            ),
            {
                "s": state,
                "r": reason,
                "o": owner,
                "d": due_date,
                "by": by,
                "at": at,
                "w": wish_id,
                "x": list(expected),
            },
        ).first()
    return done is not None


# ------------------------------------------------------------------ accounts


def link_account(engine: Engine, username: str, resident_ref: str) -> tuple[str, int] | None:
    """Link a resident's account to the person of the register with ``ref`` (人员编号) or id.

    Returns the account's role and the resident's id (None: no such account or person);
    an account already linked is linked anew.
    """
    with engine.begin() as conn:
        user = conn.execute(
            text("SELECT id, role FROM app_user WHERE username = :u"), {"u": username}
        ).first()
        person = conn.execute(
            text(
                "SELECT id FROM resident WHERE ref = :r OR (:r ~ '^[0-9]{1,18}$' "
                "AND id = CAST(:r AS bigint)) ORDER BY ref = :r DESC LIMIT 1"
            ),
            {"r": resident_ref},
        ).scalar()
        if user is None or person is None:
            return None
        if user.role == "resident":
            conn.execute(
                text(
                    "INSERT INTO resident_account (user_id, resident_id) VALUES (:u, :r) "
                    "ON CONFLICT (user_id) DO UPDATE SET resident_id = EXCLUDED.resident_id"
                ),
                {"u": user.id, "r": person},
            )
    return str(user.role), int(person)
