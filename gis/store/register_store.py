"""The SQL of the registers a street office imports and exports: ids, staging, merge, reads.

Contract
--------
* An import is matched on the office's own id (``ref``) to the stored records; it is
  loaded by COPY into a staging table (``CREATE TEMP TABLE … ON COMMIT DROP``, no
  constraints) and merged into the register by :func:`merge`: new records inserted,
  records whose data differ updated, the others left alone, and with ``remove`` the
  records of the scope that are not in the file deleted.  The counts say which.
* Every function runs on the caller's connection, inside the caller's transaction.
* Reads for exports return plain frames; who may see which column is decided by the
  caller (:mod:`grids.access`), never here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

import shapely

from gis import crypt
from gis.settings import Settings
from gis.validate import ServiceArea

#: Tables whose ids the registers draw (an import without ids) and the column they live in.
ID_COLUMN = {"building": "id", "household": "id", "resident": "id", "facility": "id"}
#: The most an office's records may lie outside its area's box (``--area``), metres.
OFFICE_MARGIN_M = 300.0
#: A degree of latitude, metres.
_M_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class MergeCounts:
    """What a merge did to one table: rows added, changed, unchanged, removed.

    ``changed_keys`` are the keys of the changed rows (to combine the tables of one
    record: a resident whose phone changed is a changed resident).
    """

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    changed_keys: frozenset = frozenset()


class UnknownArea(LookupError):
    """No admin area has the code given."""


# ----------------------------------------------------------------------------- ids


def ids_by_ref(
    conn: Connection,
    table: str,
    refs: Sequence[str],
    office_id: int | None = None,
    *,
    or_no_office: bool = False,
) -> dict[str, int]:
    """The id of every stored record of ``table`` whose ``ref`` is among ``refs``.

    Only the records of ``office_id`` (None: of no office), as an office's ids are its
    own; with ``or_no_office`` the records of no office answer too where the office has
    none of that id (a household register naming an OpenStreetMap building).
    """
    if not refs:
        return {}
    refs_found, ids, _ = _by_ref(conn, table, refs, office_id, or_no_office, None)
    return dict(zip(refs_found or [], (int(i) for i in ids or []), strict=True))


def households_by_ref(
    conn: Connection, refs: Sequence[str], office_id: int | None = None, *, or_no_office: bool
) -> tuple[dict[str, int], pd.Series]:
    """:func:`ids_by_ref` of households, and the grid of each found (by id; Int64).

    In the same statement: a residents' import needs their households' grids to copy
    them, and would otherwise read them again, 200,000 ids sent back.
    """
    if not refs:
        return {}, pd.Series([], index=np.zeros(0, dtype=np.int64), dtype="Int64")
    refs_found, ids, grids = _by_ref(conn, "household", refs, office_id, or_no_office, "grid_id")
    ids = np.asarray(ids or [], dtype=np.int64)
    found = dict(zip(refs_found or [], ids.tolist(), strict=True))
    return found, pd.Series(pd.array(grids or [], dtype="Int64"), index=ids)


def _by_ref(
    conn: Connection,
    table: str,
    refs: Sequence[str],
    office_id: int | None,
    or_no_office: bool,
    extra: str | None,
) -> tuple[list | None, list | None, list | None]:
    """refs, ids and ``extra`` (a column, None: none) of the stored records of ``refs``."""
    scope = "office_id IS NOT DISTINCT FROM :office"
    if or_no_office and office_id is not None:
        scope = "(office_id = :office OR office_id IS NULL)"
    extras = "NULL" if extra is None else "array_agg(extra)"
    return conn.execute(
        text(
            f"SELECT array_agg(ref), array_agg(id), {extras} FROM ("
            f" SELECT DISTINCT ON (ref) ref, id, {extra or 'NULL'} AS extra FROM {table}"
            f" WHERE ref = ANY(string_to_array(:values, :sep)) AND {scope}"
            " ORDER BY ref, office_id NULLS LAST) found"
        ),
        {**_joined(refs), "office": office_id},
    ).one()


def _joined(values: Sequence[object]) -> dict[str, str]:
    """Many values as one text parameter, split in SQL: far cheaper to send than an array."""
    sep = "\x1f"  # the ASCII unit separator, in no id
    return {"values": sep.join(str(v) for v in values), "sep": sep}


def new_ids(conn: Connection, table: str, n: int) -> np.ndarray:
    """``n`` fresh, consecutive ids of ``table``, taken from its sequence in one block.

    Imports serialise on a transaction-level advisory lock per table while they take a
    block, so two imports never share ids; a writer that takes ids from the sequence
    without the lock at that very moment would be refused by the primary key, loudly.
    """
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    sequence = f"pg_get_serial_sequence('{table}', '{ID_COLUMN[table]}')"
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"ids:{table}"})
    first = conn.execute(text(f"SELECT nextval({sequence})")).scalar_one()
    if n > 1:
        conn.execute(text(f"SELECT setval({sequence}, :last)"), {"last": first + n - 1})
    return np.arange(first, first + n, dtype=np.int64)


def residents_by_id_number(conn: Connection, numbers: Sequence[str]) -> dict[str, int]:
    """The resident id of every stored ID number among ``numbers``.

    The numbers are sealed at rest: they are found through their blind index, under every
    data key given (:mod:`gis.crypt`), in one statement.
    """
    if not numbers:
        return {}
    if not conn.execute(text("SELECT EXISTS (SELECT 1 FROM resident_identity)")).scalar():
        return {}  # the first import: nothing to find, and no hashes to compute
    by_hash = crypt.keyring().lookup("id_number", numbers)
    if not by_hash:
        return {}
    # the hashes (32 bytes each) as one bytea cut up by the server: a list of 500,000
    # parameters costs seconds to send, one value of 16 MB next to nothing
    hashes = list(by_hash)
    assert all(len(h) == HASH_BYTES for h in hashes)
    found, ids = conn.execute(
        text(
            "SELECT array_agg(r.id_number_hash), array_agg(r.resident_id) "
            "FROM generate_series(0, :n - 1) AS i "
            "JOIN resident_identity r "
            "ON r.id_number_hash = substring(CAST(:blob AS bytea) FROM i * :w + 1 FOR :w)"
        ),
        {"blob": b"".join(hashes), "n": len(hashes), "w": HASH_BYTES},
    ).one()
    return {by_hash[bytes(h)]: int(i) for h, i in zip(found or [], ids or [], strict=True)}


#: Bytes of a blind index (HMAC-SHA256).
HASH_BYTES = 32


def building_addresses(
    conn: Connection, office_id: int | None = None, grid_ids: Sequence[int] = ()
) -> pd.DataFrame:
    """``id`` and ``address`` of the stored buildings that have an address.

    With ``office_id``: the office's own buildings and those lying in ``grid_ids`` (its
    area), not another office's across the deployment.
    """
    where = "address IS NOT NULL"
    params: dict[str, object] = {}
    if office_id is not None:
        where += (
            " AND (office_id = :office OR grid_id = ANY(string_to_array(:values, :sep)::int[]))"
        )
        params = {**_joined(grid_ids), "office": office_id}
    rows = conn.execute(text(f"SELECT id, address FROM building WHERE {where}"), params)
    return pd.DataFrame(rows.fetchall(), columns=["id", "address"])


def stored_keys(conn: Connection, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], pd.Index]:
    """Keys already stored that a layer may refer to (current grids only)."""
    known: dict[tuple[str, str], pd.Index] = {}
    for table, column in sorted(pairs):
        where = " WHERE valid_to IS NULL" if table == "grid" else ""
        values = conn.execute(text(f"SELECT array_agg({column}) FROM {table}{where}")).scalar()
        known[(table, column)] = pd.Index(values or [])
    return known


def area_codes(conn: Connection) -> pd.DataFrame:
    """``code`` and ``level`` of every stored admin area."""
    rows = conn.execute(text("SELECT code, level FROM admin_area"))
    return pd.DataFrame(rows.fetchall(), columns=["code", "level"])


def orphan_areas(conn: Connection) -> dict[str, str]:
    """``code -> level`` of the stored admin areas without a parent."""
    rows = conn.execute(text("SELECT code, level FROM admin_area WHERE parent_id IS NULL"))
    return {str(code): str(level) for code, level in rows}


def set_area_parents(conn: Connection, parents: Mapping[str, str]) -> int:
    """Hang stored areas (by code) under parents (by code); how many moved.

    Only areas that have no parent yet are changed.
    """
    if not parents:
        return 0
    return conn.execute(
        text(
            "UPDATE admin_area c SET parent_id = p.id "
            "FROM unnest(CAST(:codes AS text[]), CAST(:parents AS text[])) AS n(code, parent) "
            "JOIN admin_area p ON p.code = n.parent "
            "WHERE c.code = n.code AND c.parent_id IS NULL"
        ),
        {"codes": list(parents), "parents": list(parents.values())},
    ).rowcount


# ----------------------------------------------------------------------------- staging, merge


def create_stage(conn: Connection, table: str) -> str:
    """A temporary table with the columns of ``table`` and no constraints, dropped at commit."""
    stage = f"_import_{table}"
    conn.execute(text(f"DROP TABLE IF EXISTS {stage}"))
    conn.execute(
        text(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT * FROM {table} WITH NO DATA")
    )
    return stage


def _row(alias: str, columns: Sequence[str]) -> str:
    return "ROW(" + ", ".join(f"{alias}.{c}" for c in columns) + ")"


#: Coordinates closer than this (degrees: about 0.1 mm) are the same place to a re-import.
SAME_PLACE_DEG = 1e-9


def _compared(alias: str, columns: Sequence[str]) -> str:
    """A row as compared: a shape in its canonical form, to a tenth of a millimetre.

    The same footprint from a Shapefile (rings clockwise) and from GeoJSON (counter-
    clockwise, from another vertex, its numbers written to 15 digits: 120.0824 read back
    as 120.08239999999999) is the same building, not a changed one.
    """
    shape = f"ST_Normalize(ST_SnapToGrid({alias}.{{c}}, {SAME_PLACE_DEG}))"
    cells = [shape.format(c=c) if c == "geom" else f"{alias}.{c}" for c in columns]
    return "ROW(" + ", ".join(cells) + ")"


def merge(
    conn: Connection,
    table: str,
    stage: str,
    *,
    key: str,
    data: Sequence[str],
    placement: Sequence[str] = (),
    insert_only: Sequence[str] = (),
    remove_scope: str | None = None,
    keep: Sequence[object] = (),
    sealed: Sequence[str] = (),
) -> MergeCounts:
    """Merge the staged rows into ``table``, matched on ``key``; count what changed.

    Parameters
    ----------
    key
        The column matching a staged row to a stored one (``id``; ``code`` for areas).
    data
        Columns compared and updated: a stored row is *changed* when any differs.
    placement
        Columns updated with the data but not counted as a change (the grid and H3
        cell a record lies in follow the grids, not the office's file).
    insert_only
        Columns written for new rows only (a shelter's live occupancy).
    remove_scope
        With it, the stored rows matching this SQL condition (on alias ``t``) that are
        not staged are deleted (``--replace``); ``"TRUE"`` for the whole table.
    keep
        Keys never removed (records of the file that were refused and left out).
    sealed
        Columns written with the data but never compared: sealed values (:mod:`gis.crypt`)
        differ at each sealing; their blind index (in ``data``) says whether they changed.
    """
    compare_t, compare_s = _compared("t", data), _compared("s", data)
    total, added = conn.execute(
        text(
            f"SELECT count(*), count(*) FILTER (WHERE t.{key} IS NULL) "
            f"FROM {stage} s LEFT JOIN {table} t ON t.{key} = s.{key}"
        )
    ).one()
    changed_keys = frozenset(
        r[0]
        for r in conn.execute(
            text(
                f"SELECT s.{key} FROM {stage} s JOIN {table} t ON t.{key} = s.{key} "
                f"WHERE {compare_t} IS DISTINCT FROM {compare_s}"
            )
        )
    )
    # removed first: a record new in the file may take the place (a household's room)
    # of one the file no longer holds
    removed = 0
    if remove_scope is not None:
        result = conn.execute(
            text(f"""
                DELETE FROM {table} t WHERE ({remove_scope})
                  AND NOT (t.{key}::text = ANY(string_to_array(:values, :sep)))
                  AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE s.{key} = t.{key})"""),
            _joined(keep),
        )
        removed = result.rowcount
    updated = [c for c in (*data, *placement, *sealed) if c != key]
    if updated:
        moved = list(placement)
        differs = f"{compare_t} IS DISTINCT FROM {compare_s}"
        if moved:
            differs += f" OR {_row('t', moved)} IS DISTINCT FROM {_row('s', moved)}"
        conn.execute(
            text(f"""
                UPDATE {table} t SET ({", ".join(updated)}) = {_row("s", updated)}
                FROM {stage} s WHERE t.{key} = s.{key} AND ({differs})""")
        )
    columns = list(dict.fromkeys([key, *data, *placement, *sealed, *insert_only]))
    if key == "code":  # admin areas: the id is the table's own identity
        columns = [c for c in columns if c != "id"]
    conn.execute(
        text(f"""
            INSERT INTO {table} ({", ".join(columns)})
            SELECT {", ".join(f"s.{c}" for c in columns)} FROM {stage} s
            WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = s.{key})""")
    )
    changed = len(changed_keys)
    return MergeCounts(
        int(added), changed, int(total) - int(added) - changed, removed, changed_keys
    )


def unplaced(conn: Connection, table: str, ids: Sequence[int]) -> int:
    """How many of the records ``ids`` of ``table`` lie in no grid."""
    return int(
        conn.execute(
            text(
                f"SELECT count(*) FROM {table} "
                "WHERE id = ANY(string_to_array(:values, :sep)::bigint[]) AND grid_id IS NULL"
            ),
            _joined([int(i) for i in ids]),
        ).scalar_one()
    )


def all_empty(conn: Connection, tables: Sequence[str]) -> bool:
    """Whether every one of ``tables`` is empty."""
    return all(
        conn.execute(text(f"SELECT NOT EXISTS (SELECT 1 FROM {t})")).scalar_one() for t in tables
    )


def count_rows(conn: Connection, table: str, where: str = "TRUE") -> int:
    """Rows of ``table`` matching ``where``."""
    return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one())


# ----------------------------------------------------------------------------- the service area


def service_area(conn: Connection, settings: Settings, office_id: int | None = None) -> ServiceArea:
    """Where records may lie: the imported boundaries' box widened by the margin.

    The boundaries are the admin areas and the current grids, whichever are loaded;
    ``settings.service_area_margin_m`` is added on every side.  Before any boundary was
    imported: the configured ``service_area_bounds``.  With ``office_id`` (an import into
    one office's area): that area's box, widened by at most :data:`OFFICE_MARGIN_M`.  The
    answer names its source (the top areas by name) for the messages of a refusal.
    """
    if office_id is not None:
        row = conn.execute(
            text(
                "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom), name "
                "FROM admin_area WHERE id = :id"
            ),
            {"id": office_id},
        ).one()
        box, names = row[:4], [row[4]]
    else:
        box = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
                " SELECT ST_Extent(geom) AS e FROM ("
                "  SELECT geom FROM admin_area"
                "  UNION ALL SELECT geom FROM grid WHERE valid_to IS NULL) g) x"
            )
        ).one()
        if box[0] is None:
            return ServiceArea(
                settings.service_area_bounds,
                "WANGGE_SERVICE_AREA_BOUNDS, as no boundaries are imported yet",
            )
        names = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT a.name FROM admin_area a WHERE NOT EXISTS "
                    "(SELECT 1 FROM admin_area p WHERE p.id = a.parent_id) "
                    "ORDER BY a.code LIMIT 4"
                )
            )
        ]
    what = ", ".join(names[:3]) + (" …" if len(names) > 3 else "") if names else "the grids"
    margin_m = settings.service_area_margin_m
    if office_id is not None:  # next door is another office's area, not open country
        margin_m = min(margin_m, OFFICE_MARGIN_M)
    margin = f"{margin_m / 1000:g} km" if margin_m >= 1000 else f"{margin_m:g} m"
    w, s, e, n = (float(v) for v in box)
    margin_lat = margin_m / _M_PER_DEGREE
    margin_lon = margin_lat / max(np.cos(np.radians((s + n) / 2)), 0.01)
    return ServiceArea(
        (
            max(w - margin_lon, -180.0),
            max(s - margin_lat, -90.0),
            min(e + margin_lon, 180.0),
            min(n + margin_lat, 90.0),
        ),
        f"the boundaries of {what} + {margin}",
    )


def walkable_roads(conn: Connection, bounds: tuple[float, float, float, float]) -> np.ndarray:
    """The stored road edges within ``bounds`` (W, S, E, N), as shapely lines (EPSG:4326)."""
    rows = conn.execute(
        text(
            "SELECT ST_AsBinary(geom) FROM road_edge "
            "WHERE geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
        ),
        dict(zip("wsen", bounds, strict=True)),
    )
    return np.asarray(shapely.from_wkb([bytes(r[0]) for r in rows]), dtype=object)


def building_footprints(conn: Connection, bounds: tuple[float, float, float, float]) -> np.ndarray:
    """The stored building footprints within ``bounds`` (W, S, E, N), EPSG:4326."""
    rows = conn.execute(
        text(
            "SELECT ST_AsBinary(geom) FROM building "
            "WHERE geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
        ),
        dict(zip("wsen", bounds, strict=True)),
    )
    return np.asarray(shapely.from_wkb([bytes(r[0]) for r in rows]), dtype=object)


# ----------------------------------------------------------------------------- areas, exports


@dataclass(frozen=True)
class Area:
    """An admin area and the current grids within it."""

    id: int
    code: str
    name: str
    level: str
    grid_ids: tuple[int, ...]


def area(conn: Connection, code: str) -> Area:
    """The admin area with ``code`` and every current grid inside it (any depth).

    Raises
    ------
    UnknownArea
        When no area has the code.
    """
    row = conn.execute(
        text("SELECT id, code, name, level FROM admin_area WHERE code = :code"), {"code": code}
    ).first()
    if row is None:
        raise UnknownArea(f"no admin area has the code {code!r}; 'wangge areas import' adds them")
    grids = conn.execute(
        text("""
            WITH RECURSIVE below AS (
                SELECT id FROM admin_area WHERE id = :id
                UNION ALL
                SELECT a.id FROM admin_area a JOIN below b ON a.parent_id = b.id)
            SELECT g.id FROM grid g JOIN below b ON g.community_id = b.id
            WHERE g.valid_to IS NULL ORDER BY g.code"""),
        {"id": row[0]},
    )
    return Area(int(row[0]), row[1], row[2], row[3], tuple(int(r[0]) for r in grids))


def _frame(conn: Connection, sql: str, params: dict) -> pd.DataFrame:
    result = conn.execute(text(sql), params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def households_in(conn: Connection, grid_ids: Sequence[int]) -> pd.DataFrame:
    """The households of the grids: office id, address, building, unit, room, size, grid."""
    return _frame(
        conn,
        """SELECT h.ref, h.address, b.ref AS building_ref, h.unit, h.room, h.size,
                  g.code AS grid_code, h.id
           FROM household h JOIN building b ON b.id = h.building_id
           LEFT JOIN grid g ON g.id = h.grid_id
           WHERE h.grid_id = ANY(:grids) ORDER BY h.ref NULLS LAST, h.id""",
        {"grids": list(grid_ids)},
    )


def residents_in(conn: Connection, grid_ids: Sequence[int]) -> pd.DataFrame:
    """The residents of the grids' households, with their identity (opened) and building id."""
    frame = _frame(
        conn,
        """SELECT r.ref, h.ref AS household_ref, i.name, r.sex, r.birth_year, i.id_number,
                  i.phone, r.relation, r.living_alone_elderly, r.disabled,
                  r.mobility_impaired, r.low_income, h.building_id, r.id
           FROM resident r JOIN household h ON h.id = r.household_id
           LEFT JOIN resident_identity i ON i.resident_id = r.id
           WHERE h.grid_id = ANY(:grids) ORDER BY h.ref NULLS LAST, r.id""",
        {"grids": list(grid_ids)},
    )
    ring = crypt.keyring()
    for column in ("id_number", "phone"):
        frame[column] = ring.open_many(column, frame[column].astype(object))
    return frame


def buildings_in(conn: Connection, grid_ids: Sequence[int]) -> pd.DataFrame:
    """The buildings of the grids, with their footprint as WKB."""
    return _frame(
        conn,
        """SELECT b.ref, b.name, b.address, b.floors, b.use, b.units, g.code AS grid_code,
                  b.id, ST_AsBinary(b.geom) AS wkb
           FROM building b LEFT JOIN grid g ON g.id = b.grid_id
           WHERE b.grid_id = ANY(:grids) ORDER BY b.ref NULLS LAST, b.id""",
        {"grids": list(grid_ids)},
    )


def facilities_in(conn: Connection, grid_ids: Sequence[int]) -> pd.DataFrame:
    """The facilities of the grids (shelters with their class), with their point as WKB."""
    return _frame(
        conn,
        """SELECT f.ref, f.name, f.kind, f.address, f.capacity, s.shelter_class,
                  f.source_tag, g.code AS grid_code, f.id, ST_AsBinary(f.geom) AS wkb
           FROM facility f LEFT JOIN shelter s ON s.facility_id = f.id
           LEFT JOIN grid g ON g.id = f.grid_id
           WHERE f.grid_id = ANY(:grids) ORDER BY f.kind, f.name""",
        {"grids": list(grid_ids)},
    )


def incidents_in(conn: Connection, grid_ids: Sequence[int]) -> pd.DataFrame:
    """The incidents of the grids (no reporter's contact), with their point as WKB."""
    return _frame(
        conn,
        """SELECT i.id, i.category_code, c.name AS category, i.source, i.state,
                  i.reported_at, i.deadline, i.closed_at, i.address, g.code AS grid_code,
                  ST_AsBinary(i.geom) AS wkb
           FROM incident i JOIN incident_category c ON c.code = i.category_code
           LEFT JOIN grid g ON g.id = i.grid_id
           WHERE i.grid_id = ANY(:grids) AND i.merged_into IS NULL ORDER BY i.reported_at""",
        {"grids": list(grid_ids)},
    )


def row_counts(conn: Connection, tables: Sequence[str]) -> dict[str, int]:
    """How many rows each of ``tables`` holds.

    What a removal's cascade took is the difference before and after it.
    """
    return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in tables}
