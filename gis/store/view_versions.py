"""Which versioned tables each published view reads: its answers move only with theirs.

A cache of a view's answers (the OGC API's tiles, :mod:`api.services.ogc_tiles`) is kept
while the data versions (:func:`gis.store.queries.data_version`) of these tables stand
still.  Read from the catalogue (``pg_depend``), so a view changed by a migration is
followed without a list kept by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, text

from gis.store.queries import VERSIONED_TABLES

#: Kept counts a published view reads (migrations 0038, 0039) → the versioned tables
#: whose rows move them.
KEPT_COUNTS = {"building_households": ("household",), "grid_people": ("household", "resident")}

VIEW_TABLES_SQL = text(
    """
SELECT DISTINCT v.relname AS view, t.relname AS table_name
FROM pg_class v
JOIN pg_namespace n ON n.oid = v.relnamespace AND n.nspname = :schema
JOIN pg_rewrite r ON r.ev_class = v.oid
JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass
JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid
WHERE v.relkind = 'v' AND v.relname = ANY(:views)
"""
)


def view_tables(engine: Engine, schema: str, views: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The versioned tables under each of ``views`` (views reading anything else left out)."""
    with engine.connect() as conn:
        rows = conn.execute(VIEW_TABLES_SQL, {"schema": schema, "views": list(views)}).all()
    return versioned_tables_of(rows)


def versioned_tables_of(rows: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """(view, relation it reads) rows → the versioned tables whose changes change each view.

    A view that reads a relation whose changes are not followed is left out: a cache of
    its answers could not know when they change.
    """
    found: dict[str, set[str]] = {}
    left_out: set[str] = set()
    for view, table in rows:
        if table in VERSIONED_TABLES:
            found.setdefault(view, set()).add(table)
        elif table in KEPT_COUNTS:
            found.setdefault(view, set()).update(KEPT_COUNTS[table])
        else:
            left_out.add(view)
    return {v: tuple(sorted(t)) for v, t in found.items() if v not in left_out}
