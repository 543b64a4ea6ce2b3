"""The registers in and out: a street office's own files imported, and exported for its staff.

Imports (``wangge import KIND FILE``, ``wangge import osm FILE``) read the office's file
as it is (:mod:`etl.imports.readers`), recognise its headers from the data dictionary,
match each record to the stored one by the office's own id, validate and COPY it through
the loader's path (:func:`etl.load.copy_layers`, into staging tables) and merge it in one
transaction (:mod:`gis.store.register_store`): all or nothing, or without the refused rows;
``dry_run`` does all of it and rolls back.  The answer is an :class:`ImportSummary`.

Exports (``wangge export``, ``GET /api/exports/{kind}``) write the registers of an area
as ``.xlsx``, ``.csv`` or ``.gpkg`` under the same Chinese headers the imports read, so a
file can go out, be corrected and come back; residents' names, ID numbers and phones are
masked by the caller's role (:mod:`grids.access`) and every export that holds personal
data is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import psycopg
import sqlalchemy.exc
from sqlalchemy import Connection, Engine

import geopandas as gpd
import shapely

from etl.imports import registers
from etl.imports.areas import adopted_parents, area_layer
from etl.imports.dictionary import KINDS
from etl.imports.headers import parse_mapping
from etl.imports.offsets import detect_offset
from etl.imports.problems import ImportRejected, RowProblem, rejected_rows, write_rejects
from etl.imports.readers import Table, read_table
from etl.layers import referenced_keys
from etl.load import LoadError, copy_layers, explain_refusal
from gis.coords import COORD_TYPES
from gis.db.bulk import deferred_indexes
from gis.db.models import ADMIN_LEVELS
from gis.errors import NotFound, ServiceError
from gis.settings import Settings, get_settings
from gis.store import register_store as store
from grids.access import Principal

RegisterKind = Literal["buildings", "households", "residents", "facilities", "shelters"]
ImportKind = Literal[
    "areas", "grids", "buildings", "households", "residents", "facilities", "shelters"
]
OnError = Literal["abort", "skip"]
#: The whole lon/lat range: boundaries define the service area, they are not checked against it.
WORLD = (-180.0, -90.0, 180.0, 90.0)


@dataclass(frozen=True)
class ImportOptions:
    """How to import a file.

    Attributes
    ----------
    coord_type
        The file's coordinates: ``wgs84``, ``gcj02`` (AMap, Tencent) or ``bd09`` (Baidu).
    mapping
        The file's header → our field, for headers the dictionary does not know.
    sheet
        The sheet of a workbook (or layer of a GeoPackage); default the first that fits.
    on_error
        ``abort``: all or nothing; ``skip``: the good rows, the others to ``rejects``.
    rejects
        Where ``skip`` writes the refused rows (``.xlsx`` or ``.csv``).
    dry_run
        Do everything, then roll back.
    replace
        Remove the stored records of the kind that are not in the file.
    offset_check
        Look for coordinates declared WGS84 that are GCJ-02 or BD-09.
    area
        The code of the office's area (``--area``) when one deployment serves many
        offices: its records are matched on the office's own ids within that office
        only, must lie in that area, and ``replace`` removes only that office's records.
        None: the deployment's one office (records of no office).
    """

    coord_type: str = "wgs84"
    mapping: Mapping[str, str] = field(default_factory=dict)
    sheet: str | None = None
    on_error: OnError = "abort"
    rejects: Path | None = None
    dry_run: bool = False
    replace: bool = False
    offset_check: bool = True
    area: str | None = None


@dataclass
class ImportSummary:
    """What an import did (or, in a dry run, would do)."""

    kind: str
    source: str
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: int = 0
    dry_run: bool = False
    #: the refused rows' problems (``skip``)
    problems: list[RowProblem] = field(default_factory=list)
    rejects_file: Path | None = None
    #: repairs made (a footprint's ring closed) and other warnings
    warnings: list[str] = field(default_factory=list)
    #: what the reader and the mapping found out
    notes: list[str] = field(default_factory=list)
    #: records of the file that lie in no grid
    outside_grids: int = 0

    @property
    def records(self) -> int:
        """Records of the file taken in (added, changed or unchanged)."""
        return self.added + self.changed + self.unchanged


@dataclass
class OsmImportSummary:
    """What ``wangge import osm`` did: the road network and each kind of record."""

    source: str
    road_nodes: int
    road_edges: int
    parts: list[ImportSummary]
    #: kind → the tag that decided it → how many
    decided_by: dict[str, dict[str, int]]
    incomplete_buildings: int


class _Stored:
    """The database as :class:`etl.imports.registers.Stored` sees it, on one connection.

    With an office (``--area``), the records an import matches are that office's own; the
    ones it refers to (a household's building) are the office's or, failing that, of no
    office (OpenStreetMap's); buildings matched by address lie in the office's area.
    """

    def __init__(
        self, conn: Connection, main: str, office: store.Area | None = None, *, osm: bool = False
    ):
        self.conn = conn
        self.main = main
        self.office = office
        self.osm = osm
        #: the grid of each household a residents' file names (by id), read with their ids
        self.household_grids: pd.Series | None = None

    @property
    def office_id(self) -> int | None:
        return None if self.office is None else self.office.id

    @property
    def owner_id(self) -> int | None:
        """The office the records belong to: OpenStreetMap's ids are one world's, no office's."""
        return None if self.osm else self.office_id

    def ids(self, table: str, refs: Sequence[str]) -> dict[str, int]:
        if table == "household" and self.main == "resident":
            found, self.household_grids = store.households_by_ref(
                self.conn, refs, self.owner_id, or_no_office=True
            )
            return found
        return store.ids_by_ref(
            self.conn, table, refs, self.owner_id, or_no_office=table != self.main
        )

    def new_ids(self, table: str, n: int) -> np.ndarray:
        return store.new_ids(self.conn, table, n)

    def building_addresses(self) -> pd.DataFrame:
        grids = () if self.office is None else self.office.grid_ids
        return store.building_addresses(self.conn, self.office_id, grids)

    def residents_by_id_number(self, numbers: Sequence[str]) -> dict[str, int]:
        return store.residents_by_id_number(self.conn, numbers)


def _connection(conn: Connection) -> psycopg.Connection:
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def _cursor(conn: Connection) -> psycopg.Cursor:
    return _connection(conn).cursor()


def check_coord_type(coord_type: str) -> str:
    """The coord type, lower-cased; :class:`ImportRejected` for an unknown one."""
    key = coord_type.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    names = {c.replace(":", "").replace("_", ""): c for c in COORD_TYPES}
    if key not in names and key.replace("epsg", "epsg:") not in COORD_TYPES:
        raise ImportRejected(
            [
                RowProblem(
                    "--coord-type",
                    None,
                    None,
                    coord_type,
                    "unknown coordinate system",
                    "use wgs84, gcj02 (AMap, Tencent) or bd09 (Baidu)",
                )
            ]
        )
    return names.get(key, coord_type)


# ----------------------------------------------------------------------------- imports


def import_file(
    engine: Engine,
    kind: ImportKind,
    source: Path | bytes,
    options: ImportOptions,
    *,
    filename: str | None = None,
    settings: Settings | None = None,
    progress: bool = False,
) -> ImportSummary:
    """Import an office's file of one kind (not grids: :mod:`etl.grid_files`).

    Parameters
    ----------
    engine
        The database.
    kind
        ``areas``, ``buildings``, ``households``, ``residents``, ``facilities`` or
        ``shelters``.
    source
        The file's path, or its bytes (an upload) with ``filename`` naming the format.
    options
        See :class:`ImportOptions`.

    Raises
    ------
    ImportRejected
        With every problem, by sheet, row, column and value; nothing was stored.
    etl.imports.readers.FileReadError
        When the file cannot be read.
    """
    if kind == "grids":
        raise ValueError("grids are imported by import_grids_file (they are versioned)")
    settings = settings or get_settings()
    spec = KINDS[kind]
    coord_type = check_coord_type(options.coord_type)
    mapping = parse_mapping([f"{k}={v}" for k, v in options.mapping.items()], spec)
    name = filename or (Path(source).name if not isinstance(source, bytes) else "upload")
    table = read_table(source, spec, filename=name, sheet=options.sheet)
    if kind == "areas" and options.area is not None:
        raise ImportRejected(
            [
                RowProblem(
                    "--area",
                    None,
                    None,
                    options.area,
                    "admin areas hang where their division codes say, not under --area",
                    "import areas without --area (--area is for an office's registers)",
                )
            ]
        )
    if kind == "areas" and options.replace:
        raise ImportRejected(
            [
                RowProblem(
                    name,
                    None,
                    None,
                    None,
                    "admin areas are never removed by an import (grids and users refer to them)",
                    "import without --replace",
                )
            ]
        )
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            if kind == "areas":
                summary = _import_areas(conn, table, name, mapping, coord_type, options)
            else:
                summary = _import_register(
                    conn, kind, table, mapping, coord_type, options, settings, progress
                )
        except BaseException:
            transaction.rollback()
            raise
        if options.dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    summary.dry_run = options.dry_run
    return summary


def _with_rejects(
    summary: ImportSummary,
    checked: registers.Checked,
    source: registers.Source,
    options: ImportOptions,
) -> None:
    if not checked.rejected:
        return
    reasons = rejected_rows(checked.rejected)
    summary.rejected = len(reasons)
    summary.problems = checked.rejected
    if options.rejects is not None:
        summary.rejects_file = write_rejects(source.raw, source.rows, reasons, options.rejects)


#: Per table: its key, the columns the loader always writes and compares, the columns it
#: writes only when the file gives their field (field names), placement, insert-only.
_MERGE: dict[str, dict[str, object]] = {
    "building": {
        "key": "id",
        "always": ("ref", "office_id", "geom"),
        "given": {
            "name": ("name",),
            "address": ("address",),
            "floors": ("floors",),
            "use": ("use",),
            "units": ("units",),
            "estate_id": ("estate_code",),
        },
        "placement": ("grid_id", "h3_cell", "beidou_cell"),
    },
    "household": {
        "key": "id",
        "always": ("ref", "office_id", "building_id", "unit", "room", "size"),
        "given": {"address": ("address", "building")},
        "placement": ("grid_id", "h3_cell", "beidou_cell"),
    },
    "resident": {
        "key": "id",
        "always": ("office_id", "household_id", "birth_year", "sex"),
        "given": {
            "ref": ("ref",),
            "relation": ("relation",),
            "living_alone_elderly": ("tags", "living_alone_elderly"),
            "disabled": ("tags", "disabled"),
            "mobility_impaired": ("tags", "mobility_impaired"),
            "low_income": ("tags", "low_income"),
        },
    },
    "resident_identity": {
        "key": "resident_id",
        "always": ("name",),
        # sealed at rest (gis.crypt): compared by their blind index, written beside it
        "given": {"id_number_hash": ("id_number",), "phone_hash": ("phone",)},
        "sealed": {"id_number_hash": "id_number", "phone_hash": "phone"},
    },
    "facility": {
        "key": "id",
        "always": ("ref", "office_id", "kind", "name", "geom"),
        "given": {
            "address": ("address",),
            "capacity": ("capacity",),
            "source_tag": ("source_tag",),
        },
        "placement": ("grid_id", "h3_cell", "beidou_cell"),
    },
    "shelter": {
        "key": "facility_id",
        "always": ("shelter_class",),
        "given": {"area_m2": ("area_m2",), "is_open": ("is_open",)},
        "insert_only": ("occupancy", "zone", "area_m2", "is_open"),
    },
}
#: The tables whose records belong to an office (``--area``).
OFFICE_TABLES = frozenset({"building", "household", "resident", "facility"})
#: The tables each kind writes, the first the one its records are counted in.
_TABLES: dict[str, tuple[str, ...]] = {
    "buildings": ("building",),
    "households": ("household",),
    "residents": ("resident", "resident_identity"),
    "facilities": ("facility",),
    "shelters": ("facility", "shelter"),
}


#: What a removal of a kind's records takes with it (the database's ON DELETE CASCADE).
DEPENDENTS: dict[str, tuple[str, ...]] = {
    "buildings": ("household", "resident"),
    "households": ("resident",),
}


def _remove_scope(kind: str, prepared: registers.Prepared, osm: bool) -> str:
    if osm:  # what an earlier extract brought, kind by kind
        shelters = "=" if kind == "shelters" else "<>"
        return (
            "t.ref LIKE 'osm:%'"
            if kind == "buildings"
            else f"t.ref LIKE 'osm:%' AND t.kind {shelters} 'shelter'"
        )
    # an office's register never held OpenStreetMap's records: its --replace leaves them
    # (and the households on OSM footprints) alone, as an extract's leaves the office's
    not_osm = "(t.ref IS NULL OR t.ref NOT LIKE 'osm:%')"
    if kind == "facilities":
        kinds = sorted(set(prepared.layers["facility"]["kind"].dropna()))
        return "t.kind IN ({}) AND {}".format(", ".join(f"'{k}'" for k in kinds) or "NULL", not_osm)
    if kind == "shelters":
        return f"t.kind = 'shelter' AND {not_osm}"
    return not_osm if kind == "buildings" else "TRUE"


def _import_register(
    conn: Connection,
    kind: str,
    table: Table,
    mapping: Mapping[str, str],
    coord_type: str,
    options: ImportOptions,
    settings: Settings,
    progress: bool,
    *,
    osm: bool = False,
) -> ImportSummary:
    spec = KINDS[kind]
    source = registers.map_columns(table, spec, mapping)
    summary = ImportSummary(kind, source.sheet, notes=list(source.notes))
    main = _TABLES[kind][0]
    office = _office(conn, options.area)
    stored = _Stored(conn, main, office, osm=osm)
    prepared = registers.prepare(source, spec, stored, coord_type=coord_type)
    summary.notes = list(prepared.notes)
    if options.offset_check and coord_type == "wgs84" and spec.geometry is not None:
        columns = [source.headers[f] for f in ("lon", "lat") if f in source.headers]
        _check_offset(
            conn, prepared.layers[main], source.sheet, spec.zh, "/".join(columns) or "geometry"
        )
    known = store.stored_keys(conn, referenced_keys(prepared.layers))
    area = store.service_area(conn, settings, stored.office_id)
    checked = registers.check(prepared, area, known, options.on_error)
    _with_rejects(summary, checked, source, options)
    summary.warnings = [str(w) for w in checked.warnings]
    layers = checked.prepared.layers
    for name in set(layers) & OFFICE_TABLES:
        layers[name]["office_id"] = pd.array([stored.owner_id] * len(layers[name]), dtype="Int64")
    ids = layers[main]["id" if main != "shelter" else "facility_id"].to_numpy()
    keep = _refused_ids(prepared, checked)
    if len(layers[main]) == 0:
        if len(source.frame) == 0:  # a header and nothing under it: said, not just "0"
            summary.notes.append("the file holds no records under its header: nothing to import")
        return summary
    given = set(source.headers)
    direct = not checked.prepared.existing.any() and not options.replace
    into = {} if direct else {t: store.create_stage(conn, t) for t in _TABLES[kind]}
    try:
        cur = _cursor(conn)
        if direct and store.all_empty(conn, _TABLES[kind]):
            # into empty tables: indexes and keys built once at the end, as a full load does
            with deferred_indexes(cur, _TABLES[kind]) as deferred:
                copy_layers(
                    cur,
                    layers,
                    progress=progress,
                    deferred=deferred,
                    household_grids=stored.household_grids,
                )
        else:
            copy_layers(
                cur, layers, into=into, progress=progress, household_grids=stored.household_grids
            )
        if direct:
            summary.added = len(layers[main])
        else:
            dependents = DEPENDENTS.get(kind, ()) if options.replace else ()
            before = store.row_counts(conn, dependents)
            counted = [
                _merge(conn, t, into[t], given, options, kind, prepared, osm, keep, office)
                for t in _TABLES[kind]
            ]
            first = counted[0]
            changed = set(first.changed_keys)
            for other in counted[1:]:
                changed |= set(other.changed_keys)
            summary.added = first.added
            summary.changed = len(changed)
            summary.unchanged = first.changed + first.unchanged - len(changed)
            summary.removed = first.removed
            after = store.row_counts(conn, dependents)
            went = [f"{before[t] - after[t]:,} {t}(s)" for t in dependents if before[t] > after[t]]
            if went:
                summary.notes.append(f"removed with them: {', '.join(went)}")
    except psycopg.errors.IntegrityError as exc:
        raise LoadError(explain_refusal(exc)) from exc
    except sqlalchemy.exc.IntegrityError as exc:  # refused in the merge's own statements
        raise LoadError(explain_refusal(exc.orig)) from exc  # type: ignore[arg-type]
    if main in ("building", "household", "facility"):
        summary.outside_grids = store.unplaced(conn, main, ids)
    return summary


def _refused_ids(prepared: registers.Prepared, checked: registers.Checked) -> list[int]:
    """Stored records whose row was refused: never removed by ``--replace``."""
    if not checked.rejected:
        return []
    main = next(iter(prepared.layers))
    key = "id" if "id" in prepared.layers[main] else "facility_id"
    refused = np.isin(prepared.rows, [p.row for p in checked.rejected if p.row is not None])
    ids = prepared.layers[main][key].to_numpy()
    return [int(i) for i in ids[refused & prepared.existing]]


def _merge(
    conn: Connection,
    table: str,
    stage: str,
    given: set[str],
    options: ImportOptions,
    kind: str,
    prepared: registers.Prepared,
    osm: bool,
    keep: list[int],
    office: store.Area | None,
) -> store.MergeCounts:
    rule = _MERGE[table]
    optional: Mapping[str, tuple[str, ...]] = rule["given"]  # type: ignore[assignment]
    data = [*rule["always"], *(c for c, fields in optional.items() if given & set(fields))]  # type: ignore[misc]
    first_table = _TABLES[kind][0] == table
    sealed: Mapping[str, str] = rule.get("sealed", {})  # type: ignore[assignment]
    scope = None
    if options.replace and first_table:
        scope = f"({_remove_scope(kind, prepared, osm)}) AND {_office_scope(office, osm)}"
    return store.merge(
        conn,
        table,
        stage,
        key=str(rule["key"]),
        data=data,
        placement=rule.get("placement", ()),  # type: ignore[arg-type]
        insert_only=rule.get("insert_only", ()),  # type: ignore[arg-type]
        remove_scope=scope,
        keep=keep,
        sealed=[sealed[c] for c in data if c in sealed],
    )


def _office(conn: Connection, code: str | None) -> store.Area | None:
    """The office an import is for (``--area``), or None; refused when unknown."""
    if code is None:
        return None
    try:
        return store.area(conn, code.strip())
    except store.UnknownArea as exc:
        raise ImportRejected(
            [RowProblem("--area", None, None, code, str(exc), "give the code of a loaded area")]
        ) from exc


def _office_scope(office: store.Area | None, osm: bool) -> str:
    """What ``--replace`` may remove: the office's records, never another office's."""
    if office is None:
        return "TRUE" if osm else "t.office_id IS NULL"
    if osm:  # an extract replaces what lies in the office's area only
        return "t.grid_id IN ({})".format(", ".join(map(str, office.grid_ids)) or "NULL")
    return f"t.office_id = {int(office.id)}"


def _check_offset(
    conn: Connection, layer: pd.DataFrame, sheet: str, what: str, column: str = "geometry"
) -> None:
    """Refuse records declared WGS84 that fit the loaded data only as GCJ-02 / BD-09."""
    if not isinstance(layer, gpd.GeoDataFrame) or layer.empty:
        return
    geoms = layer.geometry.to_numpy()
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(present) == 0:
        return
    w, s, e, n = shapely.total_bounds(present)
    pad = 0.02  # about 2 km: the offsets are below 1.2 km
    box = (w - pad, s - pad, e + pad, n + pad)
    roads = store.walkable_roads(conn, box)
    polygonal = np.isin(shapely.get_type_id(present), (3, 6)).all()
    footprints = None if polygonal else store.building_footprints(conn, box)
    finding = detect_offset(present, roads, footprints)
    if finding is not None:
        raise ImportRejected(
            [
                RowProblem(
                    sheet,
                    None,
                    column,  # the file's 经度/纬度, or its geometry
                    None,
                    finding.hint(what),
                    finding.fix(),
                )
            ]
        )


def _import_areas(
    conn: Connection,
    table: Table,
    filename: str,
    mapping: Mapping[str, str],
    coord_type: str,
    options: ImportOptions,
) -> ImportSummary:
    spec = KINDS["areas"]
    source = registers.map_columns(table, spec, mapping)
    summary = ImportSummary("areas", source.sheet, notes=list(source.notes))
    stored = store.area_codes(conn)
    layer, notes = area_layer(source, filename, stored, coord_type)
    summary.notes += notes
    existing = layer["code"].isin(set(stored["code"])).to_numpy()
    prepared = registers.Prepared(
        "areas",
        {"admin_area": layer},
        source.rows,
        existing,
        dict(source.headers),
        [],
        notes,
        source,
    )
    known = store.stored_keys(conn, referenced_keys(prepared.layers))
    checked = registers.check(prepared, WORLD, known, options.on_error)
    _with_rejects(summary, checked, source, options)
    summary.warnings = [str(w) for w in checked.warnings]
    layer = checked.prepared.layers["admin_area"]
    cur = _cursor(conn)
    try:
        for level in ADMIN_LEVELS:
            part = layer[layer["level"] == level]
            if part.empty:
                continue
            stage = store.create_stage(conn, "admin_area")
            copy_layers(cur, {"admin_area": part}, into={"admin_area": stage})
            counts = store.merge(
                conn,
                "admin_area",
                stage,
                key="code",
                data=["name", "level", "parent_id", "geom"],
            )
            summary.added += counts.added
            summary.changed += counts.changed
            summary.unchanged += counts.unchanged
    except psycopg.errors.IntegrityError as exc:
        raise LoadError(explain_refusal(exc)) from exc
    # a district stored before its city or province (the sample district, then a city's
    # boundaries) is hung under them now
    imported = dict(zip(layer["code"], layer["level"], strict=True))
    adopted = adopted_parents(store.orphan_areas(conn), imported)
    moved = store.set_area_parents(conn, adopted)
    if moved:
        summary.changed += moved
        shown = ", ".join(f"{c} → {p}" for c, p in sorted(adopted.items())[:5])
        summary.notes.append(f"{moved} stored area(s) hung under their new parent: {shown}")
    return summary


# ----------------------------------------------------------------------------- grids, OSM


def import_grids_file(
    engine: Engine,
    path: Path,
    options: ImportOptions,
    *,
    community: str | None = None,
    force: bool = False,
    settings: Settings | None = None,
    progress: bool = False,
) -> tuple[ImportSummary, object]:
    """Import a grid file as the new grids of the communities it covers (see etl.grid_files).

    Communities whose grids the file leaves exactly as stored keep their version.

    Returns
    -------
    (summary, report)
        The summary, and :class:`etl.grid_files.GridImportReport` (topology, versions).
    """
    from etl.grid_files import import_grids

    coord_type = check_coord_type(options.coord_type)
    report = import_grids(
        engine,
        path,
        coord_type=coord_type,
        community=community,
        layer=options.sheet,
        force=force,
        dry_run=options.dry_run,
        progress=progress,
        settings=settings,
    )
    summary = ImportSummary("grids", path.name, dry_run=options.dry_run)
    summary.added = sum(len(v.created) for v in report.versions)
    summary.removed = sum(len(v.retired) for v in report.versions)
    summary.unchanged = report.unchanged
    summary.warnings = [str(w) for w in report.warnings]
    if report.versions:
        moved = report.versions[0].relocated
        placed = ", ".join(f"{n:,} {t}" for t, n in moved.changed.items() if n) or "none"
        outside = ", ".join(f"{n:,} {t}" for t, n in moved.in_no_grid.items() if n) or "none"
        summary.notes.append(f"records placed again: {placed}; in no grid: {outside}")
    return summary, report


def import_osm(
    engine: Engine,
    path: Path,
    options: ImportOptions,
    *,
    settings: Settings | None = None,
    progress: bool = False,
) -> OsmImportSummary:
    """Import an OpenStreetMap file: roads, then buildings, facilities and shelters.

    The road network is replaced (with ``--area``, in the office's area and
    :data:`api.services.network.AREA_ROAD_MARGIN_M` around it: other offices' roads
    stay); buildings, facilities and candidate shelters are matched on their OSM ids,
    in that order.

    Roads, buildings, facilities and shelters go in in one transaction: a refusal of
    any leaves the database as it was (the roads were once committed on their own, and
    a refused building left a new network behind "nothing stored").  A few broken
    footprints at the edge of an extract are left out and counted (``skip`` is
    the default here), never a reason to refuse the rest.
    """
    from api.services.network import AREA_ROAD_MARGIN_M, network_loaded
    from etl.imports.osm_features import read_osm_features
    from etl.network_import import import_osm_network
    from gis.store import network_store

    settings = settings or get_settings()
    features = read_osm_features(path)
    parts: list[ImportSummary] = []
    sources = {
        "buildings": features.buildings.drop(columns=["source_tag"]),
        "facilities": features.facilities,
        "shelters": features.shelters,
    }
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            # the roads first, in the same transaction: all of the file or none of it
            region = None
            office = _office(conn, options.area)
            if office is not None:
                region = network_store.area_region(conn, office.id, AREA_ROAD_MARGIN_M)
            loaded = import_osm_network(
                engine, path, region=region, progress=progress, using=_connection(conn)
            )
            for kind, frame in sources.items():
                if frame.empty:
                    continue
                table = Table(
                    frame.reset_index(drop=True),
                    np.arange(1, len(frame) + 1, dtype=np.int64),
                    f"{path.name} ({kind})",
                )
                parts.append(
                    _import_register(
                        conn, kind, table, {}, "wgs84", options, settings, progress, osm=True
                    )
                )
        except BaseException:
            transaction.rollback()
            raise
        if options.dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    roads = network_loaded(engine, loaded, path, dry_run=options.dry_run)
    for part in parts:
        part.dry_run = options.dry_run
    return OsmImportSummary(
        path.name,
        roads.nodes,
        roads.edges,
        parts,
        features.decided_by,
        features.incomplete_buildings,
    )


def write_template(kind: ImportKind, path: Path) -> Path:
    """Write the empty workbook of ``kind`` (headers, notes row, data validation)."""
    from etl.imports.template import write_template as write

    return write(KINDS[kind], path)


# ----------------------------------------------------------------------------- exports

ExportKind = Literal["households", "residents", "buildings", "facilities", "incidents"]
ExportFormat = Literal["xlsx", "csv", "gpkg"]
#: Exports that hold personal data: written to the audit log.
PERSONAL = frozenset({"households", "residents"})


@dataclass(frozen=True)
class ExportFile:
    """An export: the file's bytes, its name and type, what it holds."""

    content: bytes
    filename: str
    media_type: str
    rows: int
    masked: bool
    audited: bool


class AreaNotFound(ServiceError, NotFound):
    """The area does not exist, or lies outside what the user may export (404)."""


def _lonlat(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    geoms = shapely.from_wkb(frame.pop("wkb").map(bytes).to_numpy())
    points = shapely.point_on_surface(geoms)
    out = gpd.GeoDataFrame(frame, geometry=geoms, crs=4326)
    out.insert(len(out.columns) - 1, "经度", np.round(shapely.get_x(points), 7))
    out.insert(len(out.columns) - 1, "纬度", np.round(shapely.get_y(points), 7))
    return out


def _zh_choices(values: pd.Series, kind: str, field_name: str) -> pd.Series:
    names = {c.value: c.zh for c in KINDS[kind].field(field_name).choices}
    return values.map(lambda v: names.get(v, v))


def _export_frame(
    conn: Connection, user: Principal, kind: ExportKind, grids: Sequence[int]
) -> tuple[pd.DataFrame, bool]:
    from grids.access import mask_identities

    if kind == "households":
        f = store.households_in(conn, grids).drop(columns=["id"])
        return f.rename(
            columns={
                "ref": "户编号",
                "address": "地址",
                "building_ref": "楼栋编号",
                "unit": "单元",
                "room": "室",
                "size": "人数",
                "grid_code": "网格编码",
            }
        ), False
    if kind == "residents":
        f, masked = mask_identities(user, store.residents_in(conn, grids))
        flags = [t for t in ("living_alone_elderly", "disabled", "mobility_impaired", "low_income")]
        tag_zh = {c.value: c.zh for c in KINDS["residents"].field("tags").choices}
        tags = (
            f[flags].apply(
                lambda r: "、".join(tag_zh[t] for t in flags if bool(r[t])) or None, axis=1
            )
            if len(f)
            else pd.Series([], dtype=object)
        )
        out = pd.DataFrame(
            {
                "人员编号": f["ref"],
                "户编号": f["household_ref"],
                "姓名": f["name"],
                "性别": _zh_choices(f["sex"], "residents", "sex"),
                "出生年份": f["birth_year"],
                "身份证号": f["id_number"],
                "联系电话": f["phone"],
                "与户主关系": f["relation"],
                "标签": tags,
            }
        )
        return out, masked
    if kind == "buildings":
        f = _lonlat(store.buildings_in(conn, grids).drop(columns=["id"]))
        f["use"] = _zh_choices(f["use"], "buildings", "use")
        return f.rename(
            columns={
                "ref": "楼栋编号",
                "name": "楼栋名称",
                "address": "地址",
                "floors": "层数",
                "use": "用途",
                "units": "单元数",
                "grid_code": "网格编码",
            }
        ), False
    if kind == "facilities":
        f = _lonlat(store.facilities_in(conn, grids).drop(columns=["id"]))
        f["kind"] = _zh_choices(f["kind"], "facilities", "kind")
        f["shelter_class"] = _zh_choices(f["shelter_class"], "shelters", "shelter_class")
        return f.rename(
            columns={
                "ref": "编号",
                "name": "名称",
                "kind": "类型",
                "address": "地址",
                "capacity": "容量",
                "shelter_class": "避难场所类型",
                "source_tag": "来源标签",
                "grid_code": "网格编码",
            }
        ), False
    f = _lonlat(store.incidents_in(conn, grids))
    return f.rename(
        columns={
            "id": "编号",
            "category_code": "类别代码",
            "category": "类别",
            "source": "来源",
            "state": "状态",
            "reported_at": "上报时间",
            "deadline": "处置期限",
            "closed_at": "结案时间",
            "address": "地址",
            "grid_code": "网格编码",
        }
    ), False


def export_registers(
    engine: Engine, user: Principal, kind: ExportKind, area_code: str, fmt: ExportFormat
) -> ExportFile:
    """The registers of one kind in an area, as a file, masked by the user's role.

    Parameters
    ----------
    engine
        The database.
    user
        Who exports (:class:`grids.access.Principal`): staff export an area within
        theirs, a grid worker the grids of it they cover; residents may not export.
    kind
        ``households``, ``residents``, ``buildings``, ``facilities`` or ``incidents``.
    area_code
        The admin area (district, street, community or estate code).
    fmt
        ``xlsx``, ``csv`` or ``gpkg``.

    Raises
    ------
    grids.access.Forbidden
        For a resident.
    AreaNotFound
        When no area has the code or the user may export none of it.
    """
    from etl.imports.writers import MEDIA_TYPES, to_bytes
    from gis.store.access_store import audit
    from grids.access import export_grids

    with engine.begin() as conn:
        try:
            area = store.area(conn, area_code)
        except store.UnknownArea as exc:
            raise AreaNotFound(str(exc)) from exc
        grids = export_grids(user, area.grid_ids)
        if not grids:
            raise AreaNotFound(
                f"no admin area {area_code!r} with grids you cover; ask for an area of yours"
            )
        frame, masked = _export_frame(conn, user, kind, grids)
        audited = kind in PERSONAL
        if audited:
            audit(
                conn,
                user.username,
                "export",
                kind,
                area_code,
                {"rows": len(frame), "format": fmt, "masked": masked, "grids": len(grids)},
            )
    content = to_bytes(frame, fmt, kind)
    return ExportFile(
        content,
        f"{kind}_{area_code}.{fmt}",
        MEDIA_TYPES[fmt],
        len(frame),
        masked,
        audited,
    )
