"""An office's file of one kind of record, made into the layers the loader validates and copies.

:func:`map_columns` recognises the file's headers; :func:`prepare` turns the records into
the loader's layers (:mod:`etl.layers`): values read the Chinese way (:mod:`~etl.imports.
values`), households placed through their building's id or address (:mod:`~etl.imports.
addresses`), coordinates made WGS84, each record given the database id of the stored
record with the same office id (``ref``) or a new one.  :func:`check` then runs the
loader's own validation (:func:`etl.layers.validate_layers`) and says every problem by
the file's sheet, row and column; with ``skip`` it leaves the refused rows out instead.

Nothing here reads the database: what is stored comes through a :class:`Stored`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from pyproj import CRS

from etl.imports import values as vals
from etl.imports.addresses import compose, match_buildings, parse_address
from etl.imports.dictionary import Kind
from etl.imports.headers import recognise
from etl.imports.problems import ImportRejected, RowProblem
from etl.imports.readers import Table
from etl.layers import validate_layers
from gis.coords import geometries_to_wgs84
from gis.errors import Problem, ValidationError
from gis.validate import (
    coerce_columns,
)

OnError = Literal["abort", "skip"]
#: The table of each kind's records (the one matched on ``ref``).
TABLE = {
    "buildings": "building",
    "households": "household",
    "residents": "resident",
    "facilities": "facility",
    "shelters": "facility",
}


class Stored(Protocol):
    """What the database already holds that an import refers to."""

    def ids(self, table: str, refs: Sequence[str]) -> dict[str, int]:
        """Id of every stored record of ``table`` among ``refs`` (by ``ref``)."""
        ...

    def new_ids(self, table: str, n: int) -> np.ndarray:
        """``n`` unused ids for ``table`` (from its sequence)."""
        ...

    def building_addresses(self) -> pd.DataFrame:
        """Every stored building's ``id`` and ``address`` (NULL ones left out)."""
        ...

    def residents_by_id_number(self, numbers: Sequence[str]) -> dict[str, int]:
        """Resident id of every stored ID number among ``numbers``."""
        ...


@dataclass
class Source:
    """A file's records under our field names, and where each value came from."""

    frame: pd.DataFrame
    rows: np.ndarray
    sheet: str
    #: field → the file's header it came from
    headers: dict[str, str]
    #: the records as read (for the rejects file and values in messages)
    raw: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def map_columns(table: Table, kind: Kind, mapping: Mapping[str, str] | None = None) -> Source:
    """The file's records with recognised columns renamed to our fields (others left out)."""
    frame = table.frame
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    columns = [c for c in frame.columns if c != geometry]
    found = recognise(columns, kind, mapping or {})
    keep = list(found.renames)
    out = frame[keep + ([geometry] if geometry else [])].rename(columns=found.renames)
    if geometry:
        out = gpd.GeoDataFrame(out, geometry=geometry, crs=frame.crs)
    out = out.reset_index(drop=True)
    sheet = table.source if table.sheet is None else f"{table.source}, sheet {table.sheet!r}"
    notes = list(table.notes)
    for header, first in found.duplicates:
        notes.append(f"column {header!r} left out: {first!r} already gives the same field")
    headers = {v: k for k, v in found.renames.items()}
    if geometry:
        headers["geometry"] = "geometry"
    return Source(
        out,
        np.asarray(table.rows),
        sheet,
        headers,
        frame.reset_index(drop=True),
        notes,
        found.unknown,
    )


@dataclass
class Prepared:
    """The layers of one import, row-aligned with the file's records that made them.

    Attributes
    ----------
    layers
        Layer name → frame, each row ``i`` made from ``rows[i]`` of the file.
    rows
        The file row of each record.
    existing
        Whether each record matched a stored one (by its office id).
    sources
        Layer column → the file's header it came from (for messages).
    problems
        Problems found while preparing (unreadable values, unknown references …).
    notes
        What the summary should tell (columns ignored, tags not stored …).
    """

    kind: str
    layers: dict[str, pd.DataFrame]
    rows: np.ndarray
    existing: np.ndarray
    sources: dict[str, str]
    problems: list[RowProblem]
    notes: list[str]
    source: Source


# ----------------------------------------------------------------------------- helpers


class _Work:
    """One preparation: the source, the problems found so far, the columns' origins."""

    def __init__(self, source: Source, kind: Kind):
        self.src = source
        self.kind = kind
        self.frame = source.frame
        self.n = len(source.frame)
        self.problems: list[RowProblem] = []
        self.sources: dict[str, str] = {}
        self.notes: list[str] = []

    def has(self, name: str) -> bool:
        return name in self.frame.columns

    def header(self, name: str) -> str:
        return self.src.headers.get(name) or self.kind.field(name).zh

    def col(self, name: str) -> pd.Series:
        if name in self.frame.columns:
            return self.frame[name]
        return pd.Series([None] * self.n, index=self.frame.index, dtype=object)

    def texts(self, name: str) -> pd.Series:
        return vals.texts(self.col(name))

    def flag(self, name: str, mask: np.ndarray, message: str, fix: str) -> None:
        """A problem at every row of ``mask`` in the column of field ``name``."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():  # the common case: no column copied (0.25 s per 500,000 residents)
            return
        raw = self.col(name).to_numpy(dtype=object)
        header = self.header(name)
        for pos in np.flatnonzero(mask):
            self.problems.append(
                RowProblem(self.src.sheet, int(self.src.rows[pos]), header, raw[pos], message, fix)
            )

    def missing_column(self, names: Sequence[str], fix: str) -> None:
        wanted = " or ".join(self.kind.field(n).zh for n in names)
        self.problems.append(
            RowProblem(self.src.sheet, None, wanted, None, f"the file has no column {wanted}", fix)
        )

    def choices(self, name: str, default: str | None = None) -> pd.Series:
        f = self.kind.field(name)
        out, bad = vals.choices(self.col(name), f)
        self.flag(
            name,
            bad,
            f"unknown {f.zh}",
            f"use one of: {'、'.join(c.zh for c in f.choices)}",
        )
        if default is not None:
            out = out.where(out.notna(), default)
        return out

    def refs(self, name: str = "ref") -> pd.Series:
        refs = self.texts(name)
        dup = (refs.notna() & refs.duplicated(keep="first")).to_numpy()
        if dup.any():
            first = {v: self.src.rows[i] for i, v in reversed(list(enumerate(refs))) if v}
            for pos in np.flatnonzero(dup):
                self.problems.append(
                    RowProblem(
                        self.src.sheet,
                        int(self.src.rows[pos]),
                        self.header(name),
                        refs.iloc[pos],
                        f"the same {self.kind.field(name).zh} as row {first[refs.iloc[pos]]}",
                        "give each record its own id, or remove the repeated row",
                    )
                )
        return refs

    def ids(self, stored: Stored, table: str, refs: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Database ids: the stored record's for a known ref, new ones otherwise."""
        present = refs.notna().to_numpy()
        known = stored.ids(table, list(refs[present].unique())) if present.any() else {}
        found = lookup(refs, known)
        existing = found.notna().to_numpy()
        ids = found.fillna(0).to_numpy(dtype=np.int64)
        ids[~existing] = stored.new_ids(table, int((~existing).sum()))
        return ids, existing

    def prepared(self, layers: dict[str, pd.DataFrame], existing: np.ndarray) -> Prepared:
        notes = self.src.notes + self.notes
        if self.src.unknown:
            shown = "、".join(self.src.unknown[:8]) + (" …" if len(self.src.unknown) > 8 else "")
            notes.append(f"columns not imported: {shown} (name a field with --map 源列=field)")
        return Prepared(
            self.kind.name,
            layers,
            self.src.rows,
            existing,
            {**{f: self.header(f) for f in self.src.headers}, **self.sources},
            self.problems,
            notes,
            self.src,
        )


def geometries_in_wgs84(
    frame: gpd.GeoDataFrame, coord_type: str, notes: list[str]
) -> gpd.GeoSeries:
    """The geometries in WGS84: a projected CRS reprojected (said), lon/lat converted."""
    geoms = frame.geometry
    if frame.crs is not None and not CRS(frame.crs).is_geographic:
        notes.append(f"reprojected from {CRS(frame.crs).name} to WGS84")
        return geoms.to_crs(4326)
    converted = geometries_to_wgs84(geoms.to_numpy(), coord_type)
    return gpd.GeoSeries(converted, index=frame.index, crs=4326)


def _points(w: _Work, coord_type: str) -> gpd.GeoSeries:
    """Points from 经度/纬度 columns, or from a point layer, in WGS84."""
    if isinstance(w.frame, gpd.GeoDataFrame):
        return geometries_in_wgs84(w.frame, coord_type, w.notes)
    if not (w.has("lon") and w.has("lat")):
        w.missing_column(
            ["lon", "lat"], "add 经度 and 纬度 columns (degrees), or bring a point layer"
        )
        return gpd.GeoSeries([None] * w.n, crs=4326)
    numbers, problems = coerce_columns(
        w.frame[["lon", "lat"]], "points", {"lon": "float", "lat": "float"}, None
    )
    for p in problems:
        w.flag(
            p.field,
            _only(w.n, p.row - 1),
            "is not a number of degrees",
            f"write it like {w.kind.field(p.field).example}",
        )
    lon = numbers["lon"].to_numpy(dtype=float)
    lat = numbers["lat"].to_numpy(dtype=float)
    missing = np.isnan(lon) | np.isnan(lat)
    w.flag(
        "lon",
        missing & ~_rows_flagged(w, ("lon", "lat")),
        "no coordinates",
        "fill in 经度 and 纬度",
    )
    pts = shapely.points(np.where(missing, 0, lon), np.where(missing, 0, lat))
    pts = np.where(missing, None, pts)
    w.sources["geometry"] = f"{w.header('lon')}/{w.header('lat')}"
    converted = geometries_to_wgs84(pts, coord_type)
    return gpd.GeoSeries(converted, index=w.frame.index, crs=4326)


def _rows_flagged(w: _Work, names: Sequence[str]) -> np.ndarray:
    headers = {w.header(n) for n in names}
    rows = {p.row for p in w.problems if p.column in headers}
    return np.isin(w.src.rows, list(rows))


def lookup(values: pd.Series, known: Mapping[str, int]) -> pd.Series:
    """``values.map(known)`` as nullable integers, by hashing once (fast on big columns)."""
    if not known:
        return pd.Series(pd.array([None] * len(values), dtype="Int64"), index=values.index)
    keys = pd.Index(list(known))
    ids = np.fromiter(known.values(), dtype=np.int64, count=len(known))
    at = keys.get_indexer(values.astype(object))
    out = pd.array(np.where(at >= 0, ids[np.maximum(at, 0)], 0), dtype="Int64")
    out[at < 0] = pd.NA
    return pd.Series(out, index=values.index)


def _only(n: int, pos: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[pos] = True
    return mask


# ----------------------------------------------------------------------------- kinds


def _buildings(w: _Work, stored: Stored, coord_type: str) -> Prepared:
    if not isinstance(w.frame, gpd.GeoDataFrame):  # a table: no footprints to place
        w.problems.append(
            RowProblem(
                w.src.sheet,
                None,
                None,
                None,
                "buildings are footprints (polygons), and this file is a table without them",
                "bring the buildings as a Shapefile, GeoPackage or GeoJSON (or with "
                "'wangge import osm'): 经度/纬度 cannot say where a building's walls are",
            )
        )
        raise ImportRejected(w.problems)
    if not w.has("ref"):
        w.missing_column(["ref"], "add the buildings' own ids (楼栋编号), or --map 源列=ref")
    refs = w.refs()
    w.flag("ref", refs.isna().to_numpy(), "no id", "give every building its 楼栋编号")
    ids, existing = w.ids(stored, "building", refs)
    frame = gpd.GeoDataFrame(
        {
            "id": ids,
            "ref": refs.to_numpy(dtype=object),
            "name": w.texts("name").to_numpy(dtype=object),
            "address": w.texts("address").to_numpy(dtype=object),
            "floors": w.col("floors").where(w.col("floors").notna(), 1).to_numpy(dtype=object),
            "use": w.choices("use", "residential").to_numpy(dtype=object),
            "units": w.col("units").where(w.col("units").notna(), 1).to_numpy(dtype=object),
        },
        geometry=geometries_in_wgs84(w.frame, coord_type, w.notes).to_numpy(),
        crs=4326,
    )
    if w.has("estate_code"):
        frame["estate_code"] = w.texts("estate_code").to_numpy(dtype=object)
    w.sources.update({"floors": w.header("floors"), "units": w.header("units")})
    return w.prepared({"building": frame}, existing)


def _households(w: _Work, stored: Stored) -> Prepared:
    if not w.has("ref"):
        w.missing_column(["ref"], "add the households' own ids (户编号), or --map 源列=ref")
    if not (w.has("building_ref") or w.has("address")):
        w.missing_column(
            ["building_ref", "address"], "give each household its building's 楼栋编号 or its 地址"
        )
    if w.problems:
        raise ImportRejected(w.problems)
    refs = w.refs()
    w.flag("ref", refs.isna().to_numpy(), "no id", "give every household its 户编号")
    building = pd.Series(np.full(w.n, -1, dtype=np.int64))
    address = compose(w.texts("address"), w.texts("building") if w.has("building") else None)
    parsed = [parse_address(a) for a in address] if w.has("address") else []
    if w.has("building_ref"):
        brefs = w.texts("building_ref")
        known = stored.ids("building", list(brefs.dropna().unique()))
        building = lookup(brefs, known).fillna(-1).astype(np.int64)
        unknown = brefs.notna().to_numpy() & (building.to_numpy() < 0)
        w.flag(
            "building_ref",
            unknown,
            "names no stored building",
            "import the buildings first (wangge import buildings), or correct the id",
        )
        w.sources["building_id"] = w.header("building_ref")
    todo = building.to_numpy() < 0
    if w.has("address"):
        if w.has("building_ref"):
            todo &= w.texts("building_ref").isna().to_numpy()
        stored_buildings = stored.building_addresses()
        keys = [parse_address(a).building_key for a in stored_buildings["address"]]
        positions = np.flatnonzero(todo)
        match = match_buildings([parsed[i] for i in positions], keys)
        found = match.building >= 0
        building_ids = stored_buildings["id"].to_numpy(dtype=np.int64)
        values = building.to_numpy().copy()
        values[positions[found]] = building_ids[match.building[found]]
        building = pd.Series(values)
        header = w.header("address")
        raw = address.to_numpy(dtype=object)
        for i, reason in match.reasons.items():
            pos = positions[i]
            w.problems.append(
                RowProblem(
                    w.src.sheet,
                    int(w.src.rows[pos]),
                    header,
                    raw[pos],
                    f"not placed: {reason}",
                    "correct the address, give the 楼栋编号, or add the building's address "
                    "(wangge import buildings)",
                )
            )
        w.sources.setdefault("building_id", header)
        w.notes.append(
            f"{int(found.sum()):,} of {len(positions):,} households placed by their address"
        )
    elif not w.has("building_ref"):
        pass
    unit = w.col("unit")
    room = vals.rooms(w.texts("room"))
    if parsed:
        from_address_unit = pd.Series([a.unit for a in parsed], dtype=object)
        from_address_room = pd.Series([a.room for a in parsed], dtype=object)
        unit = unit.where(unit.notna(), from_address_unit)
        room = room.where(room.notna(), from_address_room)
    unit = unit.where(unit.notna(), 1)
    w.flag(
        "room",
        room.isna().to_numpy() & ~_rows_flagged(w, ("address",)),
        "no room",
        "write the 室 (301), or give it in the address (…2单元301室)",
    )
    w.sources.update({"unit": w.header("unit"), "room": w.header("room"), "size": w.header("size")})
    ids, existing = w.ids(stored, "household", refs)
    frame = pd.DataFrame(
        {
            "id": ids,
            "ref": refs.to_numpy(dtype=object),
            "address": address.to_numpy(dtype=object) if w.has("address") else None,
            "building_id": building.astype("Int64").where(building >= 0).array,
            "unit": unit.to_numpy(dtype=object),
            "room": room.to_numpy(dtype=object),
            "size": w.col("size").to_numpy(dtype=object),
        }
    )
    _duplicate_rooms(w, frame)
    return w.prepared({"household": frame}, existing)


def _duplicate_rooms(w: _Work, frame: pd.DataFrame) -> None:
    columns = ["building_id", "unit", "room"]
    placed = (frame["building_id"].notna() & frame["room"].notna()).to_numpy()
    keys = frame.loc[placed, columns].astype(str)
    dup = keys.duplicated(keep="first").to_numpy()
    if not dup.any():
        return
    first_of = keys.drop_duplicates(keep="first")
    first_row = {
        tuple(k): w.src.rows[i] for i, k in zip(first_of.index, first_of.to_numpy(), strict=True)
    }
    for i in keys.index[dup]:
        w.problems.append(
            RowProblem(
                w.src.sheet,
                int(w.src.rows[i]),
                w.header("room"),
                frame.at[i, "room"],
                f"the same building, unit and room as row {first_row[tuple(keys.loc[i])]}",
                "one household per room: correct the address or merge the rows",
            )
        )


def _residents(w: _Work, stored: Stored) -> Prepared:
    if not w.has("household_ref"):
        w.missing_column(
            ["household_ref"], "add each resident's 户编号, or --map 源列=household_ref"
        )
    if not w.has("name"):
        w.missing_column(["name"], "add the residents' names (姓名)")
    if not (w.has("ref") or w.has("id_number")):
        w.missing_column(
            ["ref", "id_number"], "a re-import finds a person by 人员编号 or 身份证号: add one"
        )
    if w.problems:
        raise ImportRejected(w.problems)
    numbers, bad = vals.id_numbers(w.col("id_number"))
    w.flag(
        "id_number",
        bad,
        "is not a valid ID number",
        "write the 18 characters as text; the last is a check digit (0-9 or X)",
    )
    dup = numbers.notna() & numbers.duplicated(keep="first")
    w.flag("id_number", dup.to_numpy(), "the same ID number as another row", "one row per person")
    refs = w.refs() if w.has("ref") else pd.Series([None] * w.n, dtype=object)
    if w.has("ref"):
        w.flag(
            "ref",
            refs.isna().to_numpy() & numbers.isna().to_numpy(),
            "no 人员编号 and no 身份证号",
            "give the person an id",
        )
    else:
        w.flag(
            "id_number",
            numbers.isna().to_numpy() & ~bad,
            "no 身份证号",
            "give the person an ID number or add a 人员编号 column",
        )
    hrefs = w.texts("household_ref")
    known = stored.ids("household", list(hrefs.dropna().unique()))
    household = lookup(hrefs, known)
    w.flag(
        "household_ref",
        (hrefs.notna() & household.isna()).to_numpy(),
        "names no stored household",
        "import the households first (wangge import households), or correct the 户编号",
    )
    id_year, id_sex = vals.from_id_number(numbers)
    sex = w.choices("sex") if w.has("sex") else pd.Series([None] * w.n, dtype=object)
    sex = sex.where(sex.notna(), id_sex)
    year = pd.Series([None] * w.n, dtype=object)
    if w.has("birth_year"):
        year = w.col("birth_year").astype(object)
    if w.has("birth_date"):
        from_date, bad_date = vals.birth_years(w.col("birth_date"))
        w.flag("birth_date", bad_date, "is not a date", "write it like 1950-03-08")
        year = year.where(year.notna(), from_date)
    year = year.where(year.notna(), id_year)
    birth_header = w.src.headers.get("birth_date") or w.src.headers.get("birth_year") or "出生日期"
    w.sources.update(
        {
            "birth_year": birth_header,
            "sex": w.src.headers.get("sex", "性别"),
            "household_id": w.header("household_ref"),
        }
    )
    flags, other = vals.tags(w.col("tags")) if w.has("tags") else (None, [])
    if other:
        w.notes.append(f"tags not stored: {'、'.join(other[:10])}")
    # a key of the person: a stored 人员编号, else a stored ID number
    ids_by_ref = stored.ids("resident", list(refs.dropna().unique())) if w.has("ref") else {}
    ids_by_number = stored.residents_by_id_number(list(numbers.dropna().unique()))
    found = lookup(refs, ids_by_ref)
    found = found.where(found.notna(), lookup(numbers, ids_by_number))
    existing = found.notna().to_numpy()
    ids = found.fillna(0).to_numpy(dtype=np.int64)
    ids[~existing] = stored.new_ids("resident", int((~existing).sum()))
    frame = pd.DataFrame(
        {
            "id": ids,
            "ref": refs.to_numpy(dtype=object),
            "household_id": household.astype("Int64").array,
            "birth_year": year.to_numpy(dtype=object),
            "sex": sex.to_numpy(dtype=object),
            "relation": w.texts("relation").to_numpy(dtype=object),
            "name": w.texts("name").to_numpy(dtype=object),
            "id_number": numbers.to_numpy(dtype=object),
            "phone": w.texts("phone").to_numpy(dtype=object),
        }
    )
    for flag_name in ("living_alone_elderly", "disabled", "mobility_impaired", "low_income"):
        value = np.zeros(w.n, dtype=bool)
        if flags is not None:
            value |= flags[flag_name].to_numpy()
        if w.has(flag_name):
            given, bad_flag = vals.yes_no(w.col(flag_name))
            w.flag(flag_name, bad_flag, "is not 是 or 否", "write 是 or 否")
            value |= given.fillna(False).to_numpy(dtype=bool)
        frame[flag_name] = value
    return w.prepared({"resident": frame}, existing.astype(bool))


def _facilities(w: _Work, stored: Stored, coord_type: str, shelters: bool) -> Prepared:
    if not w.has("name"):
        w.missing_column(["name"], "add the names (名称)")
    if not shelters and not w.has("kind"):
        w.missing_column(["kind"], "add each facility's 类型 (e.g. 医疗卫生, 养老服务, 公园)")
    if shelters and not w.has("capacity"):
        w.missing_column(["capacity"], "add each shelter's 容量 (people it holds)")
    if w.problems:
        raise ImportRejected(w.problems)
    geometry = _points(w, coord_type)
    kind = pd.Series(["shelter"] * w.n, dtype=object) if shelters else w.choices("kind")
    names = w.texts("name")
    refs = w.refs() if w.has("ref") else pd.Series([None] * w.n, dtype=object)
    # without the office's ids, a facility is known again by its kind and name
    derived = kind.astype(str) + ":" + names.astype(str)
    keys = refs.where(refs.notna(), derived.where(names.notna() & kind.notna(), None))
    if not w.has("ref"):
        dup = keys.notna() & keys.duplicated(keep="first")
        w.flag(
            "name",
            dup.to_numpy(),
            "the same name as another row",
            "give each its own 名称 or an 编号 column",
        )
    ids, existing = w.ids(stored, "facility", keys)
    facility = gpd.GeoDataFrame(
        {
            "id": ids,
            "ref": keys.to_numpy(dtype=object),
            "kind": kind.to_numpy(dtype=object),
            "name": names.to_numpy(dtype=object),
            "address": w.texts("address").to_numpy(dtype=object),
            "capacity": w.col("capacity").to_numpy(dtype=object),
            "source_tag": w.texts("source_tag").to_numpy(dtype=object),
        },
        geometry=geometry.to_numpy(),
        crs=4326,
    )
    w.sources.setdefault("geometry", "geometry")
    layers: dict[str, pd.DataFrame] = {"facility": facility}
    if shelters:
        shelter = pd.DataFrame(
            {
                "facility_id": ids,
                "shelter_class": w.choices("shelter_class", "emergency").to_numpy(dtype=object),
            }
        )
        if w.has("area_m2"):
            shelter["area_m2"] = w.col("area_m2").to_numpy(dtype=object)
        if w.has("is_open"):
            is_open, bad = vals.yes_no(w.col("is_open"))
            w.flag("is_open", bad, "is not 是 or 否", "write 是 or 否")
            shelter["is_open"] = is_open.fillna(True).to_numpy(dtype=bool)
        w.sources["facility_id"] = w.header("name")
        layers["shelter"] = shelter
    return w.prepared(layers, existing)


def prepare(source: Source, kind: Kind, stored: Stored, *, coord_type: str = "wgs84") -> Prepared:
    """The loader's layers for a file of ``kind``, with every problem found so far.

    For buildings, households, residents, facilities and shelters.

    Raises
    ------
    ImportRejected
        When the file lacks a column the kind cannot do without.
    """
    w = _Work(source, kind)
    if kind.name == "buildings":
        return _buildings(w, stored, coord_type)
    if kind.name == "households":
        return _households(w, stored)
    if kind.name == "residents":
        return _residents(w, stored)
    if kind.name in ("facilities", "shelters"):
        return _facilities(w, stored, coord_type, shelters=kind.name == "shelters")
    raise ValueError(f"no register import for {kind.name}")


# ----------------------------------------------------------------------------- check


def to_row_problem(p: Problem, prepared: Prepared) -> RowProblem:
    """A problem of the loader's validation, said in the file's terms."""
    header = prepared.sources.get(p.field, p.field)
    row = None if p.row is None else int(prepared.rows[p.row - 1])
    value = None
    raw = prepared.source.raw
    if p.row is not None and header in raw.columns:
        pos = int(np.searchsorted(prepared.source.rows, row))
        if pos < len(raw) and prepared.source.rows[pos] == row:
            value = raw[header].iloc[pos]
    message = p.message.replace(f"'{p.field}'", f"'{header}'").replace(p.field, header)
    fix = p.fix.replace(f"'{p.field}'", f"'{header}'")
    return RowProblem(prepared.source.sheet, row, header, value, message, fix)


def _keep(prepared: Prepared, keep: np.ndarray) -> Prepared:
    layers = {
        name: frame.iloc[np.flatnonzero(keep)].reset_index(drop=True)
        for name, frame in prepared.layers.items()
    }
    return Prepared(
        prepared.kind,
        layers,
        prepared.rows[keep],
        prepared.existing[keep],
        prepared.sources,
        [],
        prepared.notes,
        prepared.source,
    )


@dataclass
class Checked:
    """Layers that passed validation, the problems of the rows left out, and warnings."""

    prepared: Prepared
    rejected: list[RowProblem]
    warnings: list[RowProblem]


def check(
    prepared: Prepared,
    service_area: tuple[float, float, float, float],
    known: Mapping[tuple[str, str], pd.Index],
    on_error: OnError = "abort",
) -> Checked:
    """Run the loader's validation; all or nothing (``abort``) or without the bad rows (``skip``).

    Raises
    ------
    ImportRejected
        With every problem (``abort``), or a problem of the whole file (a missing
        column) whatever ``on_error``.
    """
    rejected: list[RowProblem] = []
    problems = list(prepared.problems)
    current = prepared
    for _ in range(4):
        try:
            typed, warnings = validate_layers(current.layers, service_area, known)
            # written as the loader would: every column of its type ("1.0" a whole 1, "是"
            # True), repaired geometries (the COPY refused a register's "1.0" unit)
            current = replace(current, layers={**current.layers, **typed})
            found: list[RowProblem] = []
            warned = [to_row_problem(w, current) for w in warnings]
        except ValidationError as exc:
            flagged = {p.row for p in problems}
            found = [
                row_problem
                for p in exc.problems
                if p.severity == "error"
                for row_problem in [to_row_problem(p, current)]
                # a value the preparation made (a building from an address it could not
                # place) is missing because of the problem already told, not a second one
                if p.field in current.source.headers or row_problem.row not in flagged
            ]
            warned = []
        seen = {(p.row, p.column) for p in problems}
        problems += [p for p in found if (p.row, p.column) not in seen]
        if not problems:
            return Checked(current, rejected, warned)
        whole = [p for p in problems if p.row is None]
        if on_error == "abort" or whole:
            raise ImportRejected(whole if on_error == "skip" else rejected + problems)
        bad_rows = {p.row for p in problems}
        rejected += problems
        problems = []
        current = _keep(current, ~np.isin(current.rows, list(bad_rows)))
    raise ImportRejected(rejected)
