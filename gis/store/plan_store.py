"""SQL of facility planning: demand, facilities, candidate sites, and saved scenarios.

Reads hand plain frames (WGS84 ``lon``/``lat`` columns) to :mod:`analysis.coverage`;
no personal data is read (birth years and the disability flag are counted per household
by the analysis, never shown).  Scenarios (规划方案) are ``plan_scenario`` rows with
their ``plan_site`` rows: sites added (a point, a name, capacity, cost) and existing
facilities removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from gis.db.models import FACILITY_KINDS
from gis.errors import Conflict, GisError, InvalidInput, NotFound
from gis.store.frames import nullable_cells


class ScenarioNotFound(GisError, NotFound):
    """No saved scenario with that id or name."""


class ScenarioError(GisError, InvalidInput):
    """A scenario cannot be saved as given (unknown kind or facility, no name)."""


class ScenarioExists(GisError, Conflict):
    """A scenario of that name exists already."""


PLAN_HOUSEHOLDS = """
SELECT h.id, ST_X(p.pt) AS lon, ST_Y(p.pt) AS lat, coalesce(h.h3_cell, 0) AS h3_cell,
       h.grid_id, g.community_id
FROM household h
JOIN building b ON b.id = h.building_id
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(b.geom) AS pt) p
LEFT JOIN grid g ON g.id = h.grid_id
ORDER BY h.id
"""

PLAN_RESIDENTS = "SELECT household_id, birth_year, disabled FROM resident ORDER BY id"

PLAN_FACILITIES = """
SELECT f.id, f.kind, f.name, f.capacity, ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat
FROM facility f LEFT JOIN shelter s ON s.facility_id = f.id
WHERE coalesce(s.is_open, true) AND (CAST(:kind AS text) IS NULL OR f.kind = :kind)
ORDER BY f.id
"""

PLAN_BUILDINGS = """
SELECT b.id, coalesce(b.name, b.id::text) AS name, b.use,
       ST_X(ST_PointOnSurface(b.geom)) AS lon, ST_Y(ST_PointOnSurface(b.geom)) AS lat
FROM building b WHERE b.use = :use ORDER BY b.id
"""

PLAN_GRIDS = """
SELECT g.id AS grid_id, g.code, g.name, g.community_id, c.code AS community_code,
       c.name AS community_name
FROM grid g JOIN admin_area c ON c.id = g.community_id
WHERE g.valid_to IS NULL ORDER BY g.code
"""

PLAN_COMMUNITIES = """
SELECT c.id AS community_id, c.code, c.name FROM admin_area c
WHERE c.level = 'community' ORDER BY c.code
"""


def _frame(engine: Engine, sql: str, **params: Any) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(text(sql), conn, params=params)


def demand_households(engine: Engine) -> pd.DataFrame:
    """Households at their building's point: ``id, lon, lat, h3_cell, grid_id, community_id``."""
    frame = _frame(engine, PLAN_HOUSEHOLDS)
    for col in ("grid_id", "community_id"):
        frame[col] = frame[col].astype("Int64")
    frame["h3_cell"] = nullable_cells(frame["h3_cell"])
    return frame


def demand_residents(engine: Engine) -> pd.DataFrame:
    """Residents' ``household_id, birth_year, disabled``: what demand by group needs, no more."""
    return _frame(engine, PLAN_RESIDENTS)


def facilities(engine: Engine, kind: str | None = None) -> pd.DataFrame:
    """Facilities (closed shelters left out): ``id, kind, name, capacity, lon, lat``."""
    frame = _frame(engine, PLAN_FACILITIES, kind=kind)
    frame["capacity"] = frame["capacity"].astype("float64")
    return frame


def buildings_of_use(engine: Engine, use: str) -> pd.DataFrame:
    """Buildings of a use (e.g. ``public``) as candidate sites: ``id, name, use, lon, lat``."""
    return _frame(engine, PLAN_BUILDINGS, use=use)


def grid_names(engine: Engine) -> pd.DataFrame:
    """Current grids with code, name and community (code and name), by ``grid_id``."""
    return _frame(engine, PLAN_GRIDS).set_index("grid_id")


def community_names(engine: Engine) -> pd.DataFrame:
    """Communities (社区) with code and name, by ``community_id``."""
    return _frame(engine, PLAN_COMMUNITIES).set_index("community_id")


# ------------------------------------------------------------------ scenarios


def save_scenario(
    engine: Engine,
    *,
    name: str,
    kind: str,
    added: pd.DataFrame | None = None,
    removed: Sequence[int] = (),
    description: str | None = None,
    created_by: str | None = None,
) -> int:
    """Store a scenario and its sites in one transaction; its id.

    Parameters
    ----------
    added : pandas.DataFrame, optional
        New sites: ``lon``, ``lat`` (WGS84) and optional ``name``, ``capacity``, ``cost``.
    removed : sequence of int
        Ids of existing facilities of ``kind`` the plan closes.

    Raises
    ------
    ScenarioError
        On an unknown kind, a name already used, or a removed id that is not a
        facility of ``kind``.
    """
    if kind not in FACILITY_KINDS:
        raise ScenarioError(
            f"unknown facility kind {kind!r}: use one of {', '.join(FACILITY_KINDS)}"
        )
    if not name.strip():
        raise ScenarioError("a scenario needs a name")
    added = added if added is not None else pd.DataFrame(columns=["lon", "lat"])
    removed = sorted({int(i) for i in removed})
    with engine.begin() as conn:
        if removed:
            found = set(
                conn.execute(
                    text("SELECT id FROM facility WHERE id = ANY(:ids) AND kind = :kind"),
                    {"ids": removed, "kind": kind},
                ).scalars()
            )
            unknown = [i for i in removed if i not in found]
            if unknown:
                raise ScenarioError(
                    f"cannot remove facilities {unknown}: no {kind} facility has these ids"
                )
        try:
            scenario_id = conn.execute(
                text(
                    "INSERT INTO plan_scenario (name, kind, description, created_by) "
                    "VALUES (:name, :kind, :d, :by) RETURNING id"
                ),
                {"name": name, "kind": kind, "d": description, "by": created_by},
            ).scalar_one()
        except IntegrityError as exc:
            raise ScenarioExists(
                f"a scenario named {name!r} exists already: choose another name"
            ) from exc
        rows = [
            {
                "s": scenario_id,
                "name": None if pd.isna(r.get("name")) else str(r.get("name")),
                "cap": None if pd.isna(r.get("capacity")) else int(r["capacity"]),
                "cost": None if pd.isna(r.get("cost")) else float(r["cost"]),
                "lon": float(r["lon"]),
                "lat": float(r["lat"]),
            }
            for r in added.to_dict("records")
        ]
        if rows:
            conn.execute(
                text(
                    "INSERT INTO plan_site (scenario_id, action, name, capacity, cost, geom) "
                    "VALUES (:s, 'add', :name, :cap, :cost, "
                    "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                ),
                rows,
            )
        if removed:
            conn.execute(
                text(
                    "INSERT INTO plan_site (scenario_id, action, facility_id) "
                    "VALUES (:s, 'remove', :f)"
                ),
                [{"s": scenario_id, "f": f} for f in removed],
            )
    return int(scenario_id)


def list_scenarios(engine: Engine, kind: str | None = None) -> pd.DataFrame:
    """Saved scenarios: ``id, name, kind, description, created_by, created_at, added, removed``."""
    return _frame(
        engine,
        """
        SELECT s.id, s.name, s.kind, s.description, s.created_by, s.created_at,
               count(p.id) FILTER (WHERE p.action = 'add')::int AS added,
               count(p.id) FILTER (WHERE p.action = 'remove')::int AS removed,
               coalesce(sum(p.cost), 0)::float AS cost
        FROM plan_scenario s LEFT JOIN plan_site p ON p.scenario_id = s.id
        WHERE CAST(:kind AS text) IS NULL OR s.kind = :kind
        GROUP BY s.id ORDER BY s.id
        """,
        kind=kind,
    )


def load_scenario(engine: Engine, key: int | str) -> dict[str, Any]:
    """A scenario by id (an int, or digits) or name.

    Returns
    -------
    dict
        ``id``, ``name``, ``kind``, ``description``, ``created_by``, ``created_at``,
        ``added`` (a frame of ``name, capacity, cost, lon, lat``) and ``removed``
        (a tuple of facility ids).

    Raises
    ------
    ScenarioNotFound
        When there is none.
    """
    # an id is ASCII digits that fit the integer key; any other text is a name
    by_id = not isinstance(key, str) or (
        key.isascii() and key.isdigit() and len(key) <= 10 and int(key) < 2**31
    )
    where = "id = :k" if by_id else "name = :k"
    with engine.connect() as conn:
        row = (
            conn.execute(
                text(
                    "SELECT id, name, kind, description, created_by, created_at "
                    f"FROM plan_scenario WHERE {where}"
                ),
                {"k": int(key) if by_id else key},
            )
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise ScenarioNotFound(f"no saved scenario {key!r}: see GET /api/planning/scenarios")
        sites = pd.read_sql(
            text(
                "SELECT action, facility_id, name, capacity, cost, ST_X(geom) AS lon, "
                "ST_Y(geom) AS lat FROM plan_site WHERE scenario_id = :s ORDER BY id"
            ),
            conn,
            params={"s": row["id"]},
        )
    added = sites[sites["action"] == "add"][["name", "capacity", "cost", "lon", "lat"]]
    removed = tuple(int(i) for i in sites.loc[sites["action"] == "remove", "facility_id"])
    out = dict(row)
    out["added"] = added.reset_index(drop=True).astype(
        {"capacity": "float64", "cost": "float64", "lon": np.float64, "lat": np.float64}
    )
    out["removed"] = removed
    return out


def delete_scenario(engine: Engine, key: int | str) -> None:
    """Delete a saved scenario (and its sites).

    Raises
    ------
    ScenarioNotFound
        When there is none.
    """
    scenario = load_scenario(engine, key)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM plan_scenario WHERE id = :i"), {"i": scenario["id"]})
