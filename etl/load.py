"""Bulk-load a validated layer set into PostGIS with COPY, all or nothing.

Why COPY and not ``GeoDataFrame.to_postgis``: ``to_postgis`` sends INSERT batches
that PostgreSQL parses row by row; binary COPY streams the values as the server stores
them, with nothing to parse, which is several times faster for the hundreds of
thousands of households and residents of a district (see ``benchmarks/load.py``).
Geometries travel as EWKB bytes.

Every layer goes in within one transaction: when any row is refused (a duplicate
id, a broken reference, a constraint), nothing is kept and the error names the
table, the key and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import Engine
from tqdm import tqdm

import geopandas as gpd
import shapely

from etl.layers import layers_to_wgs84, referenced_keys, validate_layers
from gis import crypt
from gis.db import models
from gis.db.bulk import CopyPipe, Deferred, copy_frame, deferred_indexes
from gis.errors import EtlError, InvalidInput, Problem, ValidationError
from gis.settings import Settings, get_settings
from gis.store import incident_ids, load_store, partition_store, queries, register_store
from grids.categories import DEFAULT_CATEGORIES
from grids.locate import (
    NO_GRID,
    beidou_cells,
    h3_cells,
    ids_at,
    locate_points,
    representative_points,
)

#: A load's first step in its transaction: (cursor, layers) → the layers to load.
Prepare = Callable[[psycopg.Cursor, Mapping[str, pd.DataFrame]], Mapping[str, pd.DataFrame]]

#: Tables emptied by ``replace=True``, children first.
TABLES = [t.name for t in reversed(models.metadata.sorted_tables)]


@dataclass
class LoadReport:
    """What a load did: rows per table, repairs made, records in no grid."""

    rows: dict[str, int] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    outside_grids: dict[str, int] = field(default_factory=dict)


class LoadError(EtlError, InvalidInput):
    """The database refused a row; nothing of the load was kept."""


def hex_ewkb(geoms: Iterable, srid: int = models.SRID) -> np.ndarray:
    """Geometries as hex EWKB strings with their SRID (None stays None)."""
    arr = shapely.set_srid(np.asarray(geoms, dtype=object), srid)
    return shapely.to_wkb(arr, hex=True, include_srid=True)


def ewkb(geoms: Iterable, srid: int = models.SRID) -> np.ndarray:
    """Geometries as EWKB bytes with their SRID, ready for binary COPY (None stays None)."""
    arr = shapely.set_srid(np.asarray(geoms, dtype=object), srid)
    return shapely.to_wkb(arr, hex=False, include_srid=True)


def _multi(geoms: np.ndarray) -> np.ndarray:
    """Promote Polygons to MultiPolygons (the columns are typed MULTIPOLYGON)."""
    out = np.asarray(geoms, dtype=object).copy()
    single = shapely.get_type_id(out) == 3
    if single.any():
        out[single] = [shapely.MultiPolygon([g]) for g in out[single]]
    return out


def sealed_identities(frame: pd.DataFrame) -> pd.DataFrame:
    """The ``resident_identity`` rows of residents: ID numbers and phones sealed, their hashes.

    Sealed on the way in (:mod:`gis.crypt`), a column at a time, as bytes.
    """
    out = pd.DataFrame({"resident_id": frame["id"].to_numpy(), "name": frame["name"].to_numpy()})
    for column in ("id_number", "phone"):
        values = frame[column].to_numpy(dtype=object) if column in frame else None
        if values is None:
            out[column] = None
            out[f"{column}_hash"] = None
            continue
        out[column] = crypt.seal_column(column, values)
        out[f"{column}_hash"] = crypt.digest_column(column, values)
    return out


def _optional(frame: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The columns of ``frame`` among ``columns`` (the office's ids, addresses, office)."""
    return {c: frame[c].to_numpy() for c in columns if c in frame.columns}


class _Loader:
    """One load, within one transaction on one connection.

    ``into`` maps a table to the one its rows are copied into instead (a staging table
    of the same columns, for an import that then merges them).
    """

    def __init__(
        self,
        cursor: psycopg.Cursor,
        settings: Settings,
        progress: bool,
        into: Mapping[str, str] | None = None,
        household_grids: pd.Series | None = None,
    ):
        self.cur = cursor
        self.settings = settings
        self.into = dict(into or {})
        #: the tables were emptied in this transaction: rows may be written frozen
        self.freeze = False
        #: sends the rows while the next table is prepared (set by :func:`_run`)
        self.pipe: CopyPipe | None = None
        self._ids: dict[str, dict] = {}
        self.report = LoadReport()
        self.bar = tqdm(total=0, unit="rows", disable=not progress, desc="loading")
        self.grid_geoms: np.ndarray | None = None
        self.grid_ids: np.ndarray | None = None
        #: the grid of each household of this load (its residents carry it: row security),
        #: or of the stored households its residents name when the caller read them already
        self.household_grids = household_grids
        #: the grid of each resident of this load (their identities carry it too)
        self.resident_grids: pd.arrays.IntegerArray | None = None

    def copy(self, table: str, frame: pd.DataFrame) -> None:
        assert self.pipe is not None, "copies go through the pipe of _run"
        self.bar.set_description(f"loading {table}")
        self._ids.pop(table, None)
        self.report.rows[table] = self.report.rows.get(table, 0) + self.pipe.copy(
            self.into.get(table, table), frame, progress=self.bar.update
        )

    def read(self) -> psycopg.Cursor:
        """The cursor, once everything sent is in (what is read must see it)."""
        if self.pipe is not None:
            self.pipe.sync()
        return self.cur

    def ids(self, table: str) -> dict:
        """Natural key → id of a table (:func:`load_store.ids_by_key`), read once per copy."""
        if table not in self._ids:
            self._ids[table] = load_store.ids_by_key(self.read(), table)
        return self._ids[table]

    # ---------------------------------------------------------------- places

    def admin_areas(self, frame: gpd.GeoDataFrame) -> None:
        levels = {lvl: i for i, lvl in enumerate(models.ADMIN_LEVELS)}
        frame = frame.assign(_order=frame["level"].map(levels)).sort_values("_order")
        for level in models.ADMIN_LEVELS:
            part = frame[frame["level"] == level]
            if part.empty:
                continue
            parents = self.ids("admin_area")
            parent = part.get("parent_code", pd.Series(None, index=part.index))
            self.copy(
                "admin_area",
                pd.DataFrame(
                    {
                        "code": part["code"],
                        "name": part["name"],
                        "level": part["level"],
                        "parent_id": parent.map(parents).astype("Int64"),
                        "geom": ewkb(_multi(part.geometry.to_numpy())),
                    }
                ),
            )

    def grids(self, frame: gpd.GeoDataFrame) -> None:
        areas = self.ids("admin_area")
        data = {
            "code": frame["code"],
            "name": frame["name"],
            "community_id": frame["community_code"].map(areas).astype("Int64"),
            "kind": frame.get("kind", "base"),
            "geom": ewkb(_multi(frame.geometry.to_numpy())),
        }
        if "valid_from" in frame:
            data["valid_from"] = frame["valid_from"]
        self.copy("grid", pd.DataFrame(data))

    def load_current_grids(self) -> None:
        """Read back the current grids, sorted by code (the tie rule of the locator)."""
        self.grid_ids, self.grid_geoms = load_store.current_grid_shapes(self.read())

    def place(
        self, table: str, lon: np.ndarray, lat: np.ndarray
    ) -> tuple[pd.Series, np.ndarray, pd.arrays.IntegerArray]:
        """Grid id (nullable), H3 cell and 北斗 cell (nullable) of each point."""
        assert self.grid_ids is not None and self.grid_geoms is not None
        pos = locate_points(lon, lat, self.grid_geoms)
        grid_id = ids_at(pos, self.grid_ids)
        outside = int((pos == NO_GRID).sum())
        if outside:
            self.report.outside_grids[table] = outside
        return (
            pd.Series(grid_id),
            h3_cells(lon, lat, self.settings.h3_resolution),
            beidou_cells(lon, lat, self.settings.beidou_level),
        )

    # ---------------------------------------------------------------- things and people

    def buildings(self, frame: gpd.GeoDataFrame) -> pd.DataFrame:
        areas = self.ids("admin_area")
        lon, lat = representative_points(frame.geometry.to_numpy())
        grid_id, cell, beidou = self.place("building", lon, lat)
        located = pd.DataFrame(
            {
                "id": frame["id"].to_numpy(),
                "grid_id": grid_id.array,
                "h3_cell": cell,
                "beidou_cell": beidou,
            }
        )
        self.copy(
            "building",
            pd.DataFrame(
                {
                    "id": frame["id"].to_numpy(),
                    **_optional(frame, ("ref", "address", "office_id")),
                    "name": frame.get("name"),
                    "estate_id": (
                        frame["estate_code"].map(areas).astype("Int64")
                        if "estate_code" in frame
                        else None
                    ),
                    "use": frame.get("use", "residential"),
                    "floors": frame["floors"],
                    "units": frame.get("units", 1),
                    "grid_id": grid_id.array,
                    "h3_cell": cell,
                    "beidou_cell": beidou,
                    "geom": ewkb(_multi(frame.geometry.to_numpy())),
                }
            ).reset_index(drop=True),
        )
        return located

    def households(self, frame: pd.DataFrame, buildings: pd.DataFrame | None) -> None:
        if buildings is None:
            buildings = load_store.building_places(self.read())
        located = buildings.set_index("id")
        where = located.reindex(frame["building_id"].to_numpy())
        self.copy(
            "household",
            pd.DataFrame(
                {
                    "id": frame["id"].to_numpy(),
                    **_optional(frame, ("ref", "address", "office_id")),
                    "building_id": frame["building_id"].to_numpy(),
                    "unit": frame["unit"].to_numpy(),
                    "room": frame["room"].to_numpy(),
                    "size": frame["size"].to_numpy(),
                    "grid_id": where["grid_id"].astype("Int64").array,
                    "h3_cell": where["h3_cell"].astype("Int64").array,
                    "beidou_cell": where["beidou_cell"].astype("Int64").array,
                }
            ),
        )
        self.household_grids = pd.Series(
            where["grid_id"].astype("Int64").array,
            index=pd.to_numeric(frame["id"], errors="coerce").to_numpy(),
        )

    def residents(self, frame: pd.DataFrame) -> None:
        flags = ["living_alone_elderly", "disabled", "mobility_impaired", "low_income"]
        data = frame[
            ["id", "household_id", "birth_year", "sex"]
            + [c for c in ("ref", "relation", "office_id") if c in frame.columns]
        ].copy()
        for flag in flags:
            data[flag] = frame[flag].fillna(False).astype(bool) if flag in frame else False
        # the household's grid: placed by this load, else read in one query (a trigger
        # would look it up row by row, twice: resident and identity, ~10 s per 500,000)
        grids = pd.array([pd.NA] * len(frame), dtype="Int64")
        keys = pd.to_numeric(frame["household_id"], errors="coerce")
        placed = self.household_grids
        if placed is None:
            wanted = keys.dropna().unique().astype(np.int64)
            if len(wanted):
                placed = load_store.household_grids(self.read(), wanted)
        if placed is not None and not placed.index.has_duplicates:
            grids = placed.reindex(keys.to_numpy()).astype("Int64").array
        data["grid_id"] = grids
        self.copy("resident", data)
        self.resident_grids = grids

    def identities(self, identities: pd.DataFrame) -> None:
        """The residents' identities (姓名, sealed ID numbers and phones), after every other layer.

        Last, so that the sealing thread has the whole load's copying to finish in.
        """
        identities["grid_id"] = self.resident_grids
        self.copy("resident_identity", identities)

    def points(self, table: str, frame: gpd.GeoDataFrame, columns: dict[str, object]) -> None:
        geoms = frame.geometry.to_numpy()
        lon, lat = shapely.get_x(geoms), shapely.get_y(geoms)
        grid_id, cell, beidou = self.place(table, lon, lat)
        data = pd.DataFrame(columns)
        data["grid_id"] = grid_id.array
        data["h3_cell"] = cell
        data["beidou_cell"] = beidou
        data["geom"] = ewkb(geoms)
        self.copy(table, data.reset_index(drop=True))

    def shelters(self, frame: pd.DataFrame) -> None:
        zone = None
        if isinstance(frame, gpd.GeoDataFrame):
            geoms = frame.geometry.to_numpy()
            present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
            zone = np.where(present, ewkb(_multi(np.where(present, geoms, None))), None)
        self.copy(
            "shelter",
            pd.DataFrame(
                {
                    "facility_id": frame["facility_id"].to_numpy(),
                    "shelter_class": frame["shelter_class"].to_numpy(),
                    "area_m2": frame.get("area_m2"),
                    "occupancy": frame.get("occupancy", 0),
                    "is_open": frame.get("is_open", True),
                    "zone": zone,
                }
            ).reset_index(drop=True),
        )

    def edges(self, frame: gpd.GeoDataFrame) -> None:
        walk = self.settings.walk_speed_mps
        self.copy(
            "road_edge",
            pd.DataFrame(
                {
                    "id": frame["id"],
                    "source": frame["source"],
                    "target": frame["target"],
                    "name": frame.get("name"),
                    "road_class": frame["road_class"],
                    "length_m": frame["length_m"],
                    "walkable": frame.get("walkable", True),
                    "drivable": frame.get("drivable", True),
                    "oneway": frame.get("oneway", False),
                    "walk_speed_mps": frame.get("walk_speed_mps", walk),
                    "drive_speed_kmh": frame.get("drive_speed_kmh"),
                    "z_level": frame.get("z_level", 0),
                    "geom": ewkb(frame.geometry.to_numpy()),
                }
            ).reset_index(drop=True),
        )

    def map_areas(self, frame: gpd.GeoDataFrame) -> None:
        """Water and green areas of the offline basemap (``source``: register unless given)."""
        self.copy(
            "map_area",
            pd.DataFrame(
                {
                    "kind": frame["kind"],
                    "name": frame.get("name"),
                    "source": frame.get("source", "register"),
                    "geom": ewkb(_multi(frame.geometry.to_numpy())),
                }
            ).reset_index(drop=True),
        )

    def users(self, frame: pd.DataFrame) -> None:
        areas = self.ids("admin_area")
        area = frame["area_code"].map(areas) if "area_code" in frame else None
        self.copy(
            "app_user",
            pd.DataFrame(
                {
                    "username": frame["username"],
                    "display_name": frame["display_name"],
                    "role": frame["role"],
                    "area_id": pd.Series(area).astype("Int64").array if area is not None else None,
                }
            ),
        )

    def workers(self, frame: pd.DataFrame) -> None:
        users = self.ids("app_user")
        self.copy(
            "grid_worker",
            pd.DataFrame(
                {
                    "id": frame["id"],
                    "user_id": frame["username"].map(users).astype("Int64")
                    if "username" in frame
                    else None,
                    "name": frame["name"],
                    "phone": frame.get("phone"),
                    "on_duty": frame.get("on_duty", True),
                    "max_open_tasks": frame.get("max_open_tasks", 20),
                }
            ),
        )

    def assignments(self, frame: pd.DataFrame) -> None:
        grids = self.ids("grid")
        self.copy(
            "grid_assignment",
            pd.DataFrame(
                {
                    "worker_id": frame["worker_id"],
                    "grid_id": frame["grid_code"].map(grids).astype("Int64"),
                    "role": frame["role"],
                }
            ),
        )

    def categories(self) -> None:
        if load_store.has_categories(self.read()):
            return
        self.copy("incident_category", pd.DataFrame([c.__dict__ for c in DEFAULT_CATEGORIES]))

    def incidents(self, frame: gpd.GeoDataFrame, events: pd.DataFrame | None = None) -> None:
        """The cases, each with its last step among ``events`` (those of this load).

        ``last_event_at`` is given here because the events' statement trigger (migration
        0037) would otherwise set it by an UPDATE of every case once their indexes are
        built: 60,000 cases took 4–6 s at 200,000 households, most of a load's events.
        """
        users = self.ids("app_user")
        last = None
        if events is not None and len(events):
            last = frame["id"].map(events.groupby("incident_id")["at"].max()).array
        reporter = (
            frame["reporter_username"].map(users).astype("Int64")
            if "reporter_username" in frame
            else None
        )
        self.points(
            "incident",
            frame,
            {
                "id": frame["id"].to_numpy(),
                "category_code": frame["category_code"].to_numpy(),
                "source": frame["source"].to_numpy(),
                "description": (
                    frame["description"].fillna("").to_numpy() if "description" in frame else ""
                ),
                "state": frame["state"].to_numpy(),
                "reported_at": frame["reported_at"].array,
                "deadline": frame.get("deadline", pd.Series(pd.NaT, index=frame.index)).array,
                "closed_at": frame.get("closed_at", pd.Series(pd.NaT, index=frame.index)).array,
                "assignee_id": frame["assignee_id"].astype("Int64").array
                if "assignee_id" in frame
                else None,
                "reporter_id": reporter.array if reporter is not None else None,
                "rating": frame["rating"].astype("Int64").array if "rating" in frame else None,
                "last_event_at": last,
            },
        )

    def events(self, frame: pd.DataFrame) -> None:
        self.copy(
            "incident_event",
            frame[
                [
                    c
                    for c in ("incident_id", "from_state", "to_state", "at", "actor", "note")
                    if c in frame
                ]
            ],
        )


def load_layers(
    engine: Engine,
    layers: Mapping[str, pd.DataFrame],
    *,
    replace: bool = False,
    progress: bool = True,
    settings: Settings | None = None,
    coord_type: str | None = None,
    empty_first: tuple[str, ...] = (),
    prepare: Prepare | None = None,
    dry_run: bool = False,
    using: psycopg.Connection | None = None,
) -> LoadReport:
    """Validate a layer set and load it in one transaction.

    Parameters
    ----------
    engine
        Engine of a migrated Wangge database.
    layers
        Layer name → frame (see :mod:`etl.layers`); absent layers are skipped.
    replace
        Empty every table first (in the same transaction), so a reload is harmless.
    progress
        Show a progress bar.
    empty_first
        Tables to empty (in the same transaction) before loading, e.g. the road
        network when a new one replaces it.
    dry_run
        Validate and load, then roll back: what would happen, nothing changed.
    using
        A connection in a transaction of the caller's: the load is a savepoint of it
        and is kept only when the caller commits (several loads, all or nothing).
    coord_type
        The coordinate system of the input (``wgs84``, ``gcj02``, ``bd09``); spatial
        layers are converted to WGS84 first.  None: the input is WGS84 and must say so.
    prepare
        Called first in the load's transaction with its cursor and the layers; returns
        the layers to validate and load (a district loaded into one area,
        :func:`etl.area_load.prepare_area`; an office's roads merged into the network,
        :func:`etl.network_import.import_osm_network`): what it removes and stores goes
        with the load.

    Raises
    ------
    gis.validate.ValidationError
        When the input is rejected before anything is written.
    LoadError
        When the database refuses a row; the database is left as it was.
    """
    settings = settings or get_settings()
    if coord_type is not None:
        layers = layers_to_wgs84(layers, coord_type)
    area = settings.service_area_bounds
    if not replace and "admin_area" not in layers:
        # the boundaries already imported say where records may lie
        with engine.connect() as conn:
            area = register_store.service_area(conn, settings)
    if using is None and "incident" in layers and "reported_at" in layers["incident"]:
        partition_store.make_case_months(engine, layers["incident"]["reported_at"])
    raw = engine.raw_connection() if using is None else None
    if using is not None:
        # the block below must be a savepoint of the caller's transaction, never one of
        # its own, committed whatever the caller does
        load_store.begin_if_idle(using)
    try:
        conn = raw.driver_connection if raw is not None else using
        assert isinstance(conn, psycopg.Connection)
        with conn.transaction(), conn.cursor() as cur:
            if empty_first and not replace:
                load_store.empty_tables(cur, list(empty_first))
            if prepare is not None:
                try:
                    layers = prepare(cur, layers)
                except psycopg.errors.IntegrityError as exc:
                    raise LoadError(explain_refusal(exc)) from exc
            known = None if replace else load_store.stored_keys(cur, referenced_keys(layers))
            layers, warnings = validate_layers(layers, area, known)
            layers = number_cases(layers, load_store.incident_months(cur))
            loader = _Loader(cur, settings, progress)
            loader.report.warnings = warnings
            # every layer's rows, plus the identities split off the residents
            loader.bar.total = sum(len(f) for f in layers.values()) + len(
                layers.get("resident", ())
            )
            try:
                if replace:
                    # from empty: build indexes and check foreign keys once, at the end
                    load_store.empty_tables(cur, TABLES, restart=True)
                    loader.freeze = True
                    with deferred_indexes(cur, TABLES) as deferred:
                        _run(loader, layers, deferred=deferred, analyze=True)
                else:
                    _run(loader, layers, analyze=True)
                load_store.advance_identities(cur)
            except psycopg.errors.IntegrityError as exc:
                raise LoadError(explain_refusal(exc)) from exc
            finally:
                loader.bar.close()
            if dry_run:
                raise psycopg.Rollback()
        if dry_run:
            return loader.report
        # committed on the driver's connection: the caches that trust their data versions
        # for a moment must hear of it as of any commit of this process
        queries.note_local_commit()
        return loader.report
    finally:
        if raw is not None:
            raw.close()


def number_cases(layers: Mapping[str, pd.DataFrame], months: list[date]) -> dict[str, pd.DataFrame]:
    """The layers with each case's number carrying its month (:mod:`gis.store.incident_ids`).

    The file's id is the serial part; a case's steps follow it.  A case whose month has
    no partition (``months`` has those that do) keeps its plain id.
    """
    out = dict(layers)
    if "incident" not in out or out["incident"].empty:
        return out
    cases = out["incident"].copy()
    plain = cases["id"].astype("int64")
    cases["id"] = incident_ids.code_ids(plain, cases["reported_at"], months).to_numpy()
    out["incident"] = cases
    if "incident_event" in out:
        renumber = pd.Series(cases["id"].to_numpy(), index=plain.to_numpy())
        events = out["incident_event"].copy()
        ids = events["incident_id"].astype("int64")
        events["incident_id"] = ids.map(renumber).fillna(ids).astype("int64").to_numpy()
        out["incident_event"] = events
    return out


def _run(
    loader: _Loader,
    layers: Mapping[str, pd.DataFrame],
    *,
    deferred: Deferred | None = None,
    analyze: bool = False,
) -> None:
    """Copy every layer through a :class:`CopyPipe`; its statistics too with ``analyze``.

    With ``deferred`` (:func:`gis.db.bulk.deferred_indexes`), each table's own indexes
    are re-created as soon as its rows are in, while the next layers are prepared.
    """
    # ID numbers and phones are sealed (gis.crypt) in a thread of its own while the
    # other layers are copied: the identities are copied last, so sealing costs little time
    with ThreadPoolExecutor(1, thread_name_prefix="seal") as pool:
        sealing = (
            pool.submit(sealed_identities, layers["resident"]) if "resident" in layers else None
        )
        tables = [loader.into.get(t, t) for t in TABLES]
        pipe = CopyPipe(
            loader.cur, tables, deferred=deferred, analyze=analyze, freeze=loader.freeze
        )
        loader.pipe = pipe
        try:
            _run_layers(loader, layers, sealing)
        except BaseException:
            pipe.abort()
            raise
        finally:
            loader.pipe = None
        pipe.close()


def _run_layers(
    loader: _Loader, layers: Mapping[str, pd.DataFrame], sealing: Future | None
) -> None:
    loader.categories()  # a read first: nothing is waited for yet
    if "admin_area" in layers:
        loader.admin_areas(layers["admin_area"])
    if "grid" in layers:
        loader.grids(layers["grid"])
    loader.load_current_grids()
    # the users' layers read ids back: while only small tables are queued
    if "app_user" in layers:
        loader.users(layers["app_user"])
    if "grid_worker" in layers:
        loader.workers(layers["grid_worker"])
    if "grid_assignment" in layers:
        loader.assignments(layers["grid_assignment"])
    located = loader.buildings(layers["building"]) if "building" in layers else None
    if "household" in layers:
        loader.households(layers["household"], located)
    if "resident" in layers:
        loader.residents(layers["resident"])
    if "facility" in layers:
        f = layers["facility"]
        loader.points(
            "facility",
            f,
            {
                "id": f["id"].to_numpy(),
                **_optional(
                    f, ("ref", "address", "source_tag", "opening_hours", "phone", "office_id")
                ),
                "kind": f["kind"].to_numpy(),
                "name": f["name"].to_numpy(),
                "capacity": f["capacity"].astype("Int64").array if "capacity" in f else None,
            },
        )
    if "shelter" in layers:
        loader.shelters(layers["shelter"])
    if "road_node" in layers:
        loader.points("road_node", layers["road_node"], {"id": layers["road_node"]["id"]})
    if "road_edge" in layers:
        loader.edges(layers["road_edge"])
    if "incident" in layers:
        loader.incidents(layers["incident"], layers.get("incident_event"))
    if "incident_event" in layers:
        loader.events(layers["incident_event"])
    if "map_area" in layers:
        loader.map_areas(layers["map_area"])
    if sealing is not None:
        if not sealing.done():  # the last table's indexes are built while sealing ends
            assert loader.pipe is not None
            loader.pipe.finish()
        loader.identities(sealing.result())


def copy_layers(
    cursor: psycopg.Cursor,
    layers: Mapping[str, pd.DataFrame],
    *,
    into: Mapping[str, str] | None = None,
    settings: Settings | None = None,
    progress: bool = False,
    deferred: Deferred | None = None,
    household_grids: pd.Series | None = None,
) -> LoadReport:
    """Copy validated layers on the caller's cursor, inside the caller's transaction.

    The same path as :func:`load_layers` (records placed in their grid and H3 cell,
    COPY), for layers :func:`etl.layers.validate_layers` has already passed.

    Parameters
    ----------
    cursor
        A cursor of the connection whose transaction the caller owns.
    layers
        Layer name → validated frame, with database ids and keys resolved.
    into
        Table → the table its rows are copied into instead (e.g. a staging table
        ``CREATE TEMP TABLE … (LIKE household)`` that an import then merges).
    deferred
        What :func:`gis.db.bulk.deferred_indexes` dropped: each table's own indexes
        are re-created as soon as its rows are in.
    household_grids
        The grid of each stored household the residents name (by household id), when
        the caller read it already; else read here.

    Raises
    ------
    LoadError
        When the database refuses a row; the caller's transaction must be rolled back.
    """
    loader = _Loader(cursor, settings or get_settings(), progress, into, household_grids)
    loader.bar.total = sum(len(f) for f in layers.values()) + len(layers.get("resident", ()))
    try:
        _run(loader, layers, deferred=deferred)
    except psycopg.errors.IntegrityError as exc:
        raise LoadError(explain_refusal(exc)) from exc
    finally:
        loader.bar.close()
    return loader.report


def explain_refusal(exc: psycopg.errors.IntegrityError) -> str:
    """Turn the database's refusal into a sentence that names table, key and fix."""
    diag = exc.diag
    table = diag.table_name or "?"
    detail = diag.message_detail or ""
    if isinstance(exc, psycopg.errors.UniqueViolation):
        m = re.search(r"Key \((.+)\)=\((.+)\) (already exists|is duplicated)", detail)
        if m is None:
            return f"{table}: {detail} — give each record its own key. Nothing was loaded."
        column, value = m.group(1), m.group(2)
        if column.endswith("_hash"):  # the blind index of a sealed value: name the value's column
            column, value = column.removesuffix("_hash"), "(a sealed value)"
        key = f"{column} {value}"
        if m.group(3) == "is duplicated":
            return (
                f"{table}: {key} appears more than once — give each record its own "
                f"{column}. Nothing was loaded."
            )
        return (
            f"{table}: {key} already exists in the database — give the record a new "
            f"{column}, or reload with replace. Nothing was loaded."
        )
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return f"{table}: {detail} — load the referenced record first. Nothing was loaded."
    if isinstance(exc, psycopg.errors.CheckViolation):
        return (
            f"{table}: a row breaks the rule {diag.constraint_name} ({detail}). Nothing was loaded."
        )
    if isinstance(exc, psycopg.errors.NotNullViolation):
        return (
            f"{table}: column {diag.column_name} is missing a value ({detail}). Nothing was loaded."
        )
    return f"{table}: {diag.message_primary} {detail}. Nothing was loaded."


__all__ = [
    "LoadError",
    "LoadReport",
    "ValidationError",
    "copy_frame",
    "copy_layers",
    "ewkb",
    "explain_refusal",
    "hex_ewkb",
    "load_layers",
]
