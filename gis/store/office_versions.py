"""Data versions split by office (区域数据版本), and where each office's records may lie.

:func:`gis.store.queries.data_version` answers one value per table that moves on any
change: right for what is built from the whole deployment (the road network, the counts
per grid).  What is drawn for one place — a map tile — need only follow the offices
whose records can lie there: :func:`area_versions` reads the versions of the tables
that name an office (:data:`OFFICE_TABLES`) per office, and the rest (tables without
offices, rows of no office) as one shared part; :func:`office_reach` says where each
office's records may lie.  The versions are sequences moved by statement triggers
(migration 0034), read in one statement.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from gis.store.queries import VERSIONED_TABLES, WRITERS, writers_sql
from gis.store.register_store import OFFICE_MARGIN_M

#: Tables whose rows name their office (``office_id``, migration 0033).
OFFICE_TABLES = ("building", "household", "resident", "facility")
#: The per-office sequences' names (migration 0034): ``<table>_data_version_<office|none>_seq``.
OFFICE_SEQUENCE = r"^(building|household|resident|facility)_data_version_([0-9]+|none)_seq$"
#: How far beyond its area's box an office's records may lie: an import refuses
#: records farther than :data:`~gis.store.register_store.OFFICE_MARGIN_M` (a polygon
#: must lie wholly inside), and 100 m more against rounding.
REACH_MARGIN_M = OFFICE_MARGIN_M + 100.0
_M_PER_DEGREE = 111_320.0

#: (table, value) pairs, and (:data:`~gis.store.queries.WRITERS`, the transactions writing).
Versions = tuple[tuple[str, int], ...]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class AreaVersions:
    """The data versions of some tables: a shared part and one part per office.

    ``shared``: (table, value) of the tables without offices and of the rows of no
    office (which also moves on ``TRUNCATE``); ``offices``: office id → (table, value)
    of that office's rows.  Whatever changes, :attr:`whole` changes.
    """

    shared: Versions
    offices: Mapping[int, Versions] = field(default_factory=dict)

    @property
    def whole(self) -> tuple:
        """Every part, as one hashable value."""
        return (self.shared, tuple(sorted(self.offices.items())))

    def of(self, office_ids: Iterable[int]) -> tuple:
        """The shared part and the parts of ``office_ids`` (those that ever wrote)."""
        chosen = sorted({o for o in office_ids if o in self.offices})
        return (self.shared, tuple((o, self.offices[o]) for o in chosen))


def area_versions(engine: Engine, tables: tuple[str, ...]) -> AreaVersions:
    """The data versions of ``tables``, those of :data:`OFFICE_TABLES` split by office.

    An office that never wrote to a table has no sequence for it (it is made by the
    office's first write) and no part: its part appears, and so moves, when it writes.

    Raises
    ------
    ValueError
        For a table whose changes are not followed.
    """
    unknown = sorted(set(tables) - set(VERSIONED_TABLES))
    if unknown:
        raise ValueError(f"no data version is kept for {', '.join(unknown)}")
    plain = sorted(set(tables) - set(OFFICE_TABLES))
    split = sorted(set(tables) & set(OFFICE_TABLES))
    parts = [f"SELECT '{t}', last_value * is_called::int FROM {t}_data_version_seq" for t in plain]
    if split:
        # by name from pg_class (LIKE, not a regular expression: 100 times cheaper over
        # its thousands of rows), each value read without opening the sequence as a table
        parts.append(
            "SELECT relname::text, coalesce(pg_sequence_last_value(oid), 0) FROM pg_class "
            "WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace "
            "AND relname LIKE ANY(:names)"
        )
    if not parts:
        return AreaVersions(())
    # what is built while a transaction writes is not what is built after it (see there)
    parts.append(writers_sql(tables))
    names = [f"{t}\\_data\\_version\\_%\\_seq" for t in split]
    shared: list[tuple[str, int]] = []
    offices: dict[int, list[tuple[str, int]]] = {}
    with engine.connect() as conn:
        for name, value in conn.execute(text(" UNION ALL ".join(parts)), {"names": names}):
            found = re.match(OFFICE_SEQUENCE, name)
            if name == WRITERS or found is None:
                shared.append((name, int(value)))  # a table without offices, or the writers
            elif found[2] == "none":
                shared.append((found[1], int(value)))
            else:
                offices.setdefault(int(found[2]), []).append((found[1], int(value)))
    return AreaVersions(
        tuple(sorted(shared)), {o: tuple(sorted(v)) for o, v in sorted(offices.items())}
    )


def office_reach(
    engine: Engine, office_ids: Iterable[int], *, with_grids: bool = False
) -> dict[int, Box]:
    """Where each office's records may lie: its area's box, widened by :data:`REACH_MARGIN_M`.

    ``with_grids``: grown further to take in every current grid that box meets — what is
    drawn per grid (the people counts of the grids layer) shows an office's change
    wherever those grids reach.  An office no longer among the areas reaches everywhere.
    """
    ids = sorted(set(office_ids))
    if not ids:
        return {}
    sql = """
        WITH a AS (
            SELECT id, Box2D(geom) AS b,
                   greatest(cos(radians((ST_YMin(geom) + ST_YMax(geom)) / 2)), 0.01) AS c
            FROM admin_area WHERE id = ANY(:ids)
        ), o AS (
            SELECT id, ST_SetSRID(ST_Expand(b, :m / (:deg * c), :m / :deg)::geometry, 4326) AS b
            FROM a
        )
        SELECT o.id, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
        FROM o CROSS JOIN LATERAL (
            SELECT ST_Extent(x.geom) AS e FROM (
                SELECT o.b AS geom
                UNION ALL
                SELECT g.geom FROM grid g
                WHERE :grids AND g.valid_to IS NULL AND g.geom && o.b
            ) x
        ) r
    """
    everywhere = (-180.0, -90.0, 180.0, 90.0)
    found = dict.fromkeys(ids, everywhere)
    with engine.connect() as conn:
        rows = conn.execute(
            text(sql),
            {"ids": ids, "m": REACH_MARGIN_M, "deg": _M_PER_DEGREE, "grids": with_grids},
        )
        for office, *box in rows:
            found[int(office)] = tuple(float(v) for v in box)  # type: ignore[assignment]
    return found


def meets(a: Box, b: Box) -> bool:
    """Whether two boxes (W, S, E, N) meet."""
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def widen(box: Box, metres: float) -> Box:
    """``box`` grown by ``metres`` on every side (degrees at its middle latitude)."""
    w, s, e, n = box
    dy = metres / _M_PER_DEGREE
    dx = dy / max(math.cos(math.radians((s + n) / 2)), 0.01)
    return (w - dx, max(s - dy, -90.0), e + dx, min(n + dy, 90.0))
