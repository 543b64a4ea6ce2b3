"""Make a district's layers ready to load into one area of a deployment (``--area``).

A sample district made for an area (:func:`etl.sample.areas.place_in_area`, or its
GeoPackage from ``wangge sample --area``) is loaded beside the districts already stored,
through the same validated COPY (:func:`etl.load.load_layers`), inside its transaction
(:func:`prepare_area` is its ``prepare`` hook):

* the areas above it are those stored, else created as an areas import creates them
  (the nearest stored province or city whose code it starts with is the parent,
  :func:`etl.imports.areas.parent_of`); their boundaries grow to hold the district;
* an area that holds records already is refused, or with ``replace`` its own records
  alone are removed first (:func:`gis.store.sample_area_store.remove_area`);
* a district that would lie over another area's streets or communities is refused, as is
  an area inside another office's or holding one (its --replace would remove theirs);
* its records get ids after the stored ones, their own ids as ``ref`` (the office's ids,
  as an import's) and ``office_id`` the area's, so that the office's imports match them;
* an ID number a stored resident has already moves to the next free sequence number.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import psycopg

import geopandas as gpd
import shapely

from etl.imports.areas import parent_of
from etl.sample.areas import area_users_pattern, resequence_id_numbers
from gis import crypt
from gis.errors import EtlError, InvalidInput
from gis.store import sample_area_store as store

#: Id columns of other layers that refer to a layer's ids: layer → [(layer, column)].
_REFERRERS = {
    "building": [("household", "building_id")],
    "household": [("resident", "household_id")],
    "resident": [],
    "facility": [("shelter", "facility_id")],
    "road_node": [("road_edge", "source"), ("road_edge", "target")],
    "road_edge": [],
    "grid_worker": [("grid_assignment", "worker_id"), ("incident", "assignee_id")],
    "incident": [("incident_event", "incident_id")],
}
#: Layers whose records are the office's (``ref`` and ``office_id``).
_OFFICE_LAYERS = ("building", "household", "resident", "facility")
#: Levels an area's load may create above its records (the lower ones are its own).
_OWN_LEVELS = ("district", "street")


class AreaLoadError(EtlError, InvalidInput):
    """The area cannot take the district (say why and what to do); nothing was loaded."""


def prepare_area(
    cur: psycopg.Cursor, layers: Mapping[str, pd.DataFrame], code: str, *, replace: bool
) -> dict[str, pd.DataFrame]:
    """The layers made ready to load into the area ``code`` (see the module docstring).

    Raises
    ------
    AreaLoadError
        When the file's areas are not the area's, the area holds records already (without
        ``replace``), or the district would lie over another area.
    """
    out = {name: frame.copy() for name, frame in layers.items()}
    areas = out["admin_area"]
    _check_codes(areas, code)
    district = areas.geometry.union_all()
    nested = store.nested_offices(cur, code)
    if nested:
        raise AreaLoadError(
            f"area {code} and the office(s) {', '.join(nested)} lie one inside the other: "
            "load each office's district into an area of its own (a district, or the "
            "streets of one)"
        )
    office = store.area_id(cur, code)
    if office is not None and store.holdings(cur, code, office):
        if not replace:
            raise AreaLoadError(
                f"area {code} holds records already: --replace loads it again, removing "
                f"{code}'s records only (the other areas' stay as they are)"
            )
        users = area_users_pattern(code)
        strangers = store.strangers_of(cur, code, users)
        if strangers:
            raise AreaLoadError(
                f"users {', '.join(strangers)} belong to areas of {code} that --replace "
                "would remove: give them another area or remove them first"
            )
        store.remove_area(cur, code, office, users)
    over = store.others_over(cur, code, _ewkb(district))
    if over:
        raise AreaLoadError(
            f"the district of {code} would lie over area(s) {', '.join(over)}: give its "
            "centre with --at LON,LAT"
        )
    stored = store.area_levels(cur)
    office = _hierarchy(cur, areas, code, stored, district)
    # the area and the areas above it are stored now: the file brings those below
    above = areas["code"].map(lambda c: code.startswith(str(c)))
    out["admin_area"] = areas[~above & ~areas["code"].isin(stored)]
    if "app_user" in out:
        users = out["app_user"]
        out["app_user"] = users[~((users["role"] == "admin") & users["username"].eq("admin"))]
    _shift_ids(out, store.max_ids(cur))
    for name in _OFFICE_LAYERS:
        if name in out:
            out[name]["office_id"] = pd.array([office] * len(out[name]), dtype="Int64")
    if "resident" in out and "id_number" in out["resident"]:
        out["resident"]["id_number"] = _free_id_numbers(cur, out["resident"]["id_number"])
    return out


def _check_codes(areas: pd.DataFrame, code: str) -> None:
    """Every area of the file is the area ``code``, one below it or its district."""
    wrong = [c for c in areas["code"] if not (str(c).startswith(code) or code.startswith(str(c)))]
    if wrong:
        raise AreaLoadError(
            f"the file's areas are not {code}'s (e.g. {wrong[0]}): make the district for "
            f"the area with 'wangge sample --area {code}'"
        )


def _hierarchy(
    cur: psycopg.Cursor,
    areas: gpd.GeoDataFrame,
    code: str,
    stored: dict[str, str],
    district: shapely.Geometry,
) -> int:
    """Store the area and its district when missing, grow the stored ones; the area's id."""
    known = dict(stored)
    top = areas[areas["level"].isin(_OWN_LEVELS) & areas["code"].map(code.startswith)]
    for _, row in top.sort_values("code", key=lambda c: c.str.len()).iterrows():
        row_code, level = str(row["code"]), str(row["level"])
        if row_code in known:
            continue
        parent = parent_of(row_code, level, known)
        store.add_area(cur, row_code, str(row["name"]), level, parent, _ewkb(row.geometry))
        known[row_code] = level
    grown = [c for c, lvl in known.items() if code.startswith(c) and lvl in _OWN_LEVELS]
    store.grow_areas(cur, grown, _ewkb(district))
    office = store.area_id(cur, code)
    if office is None:
        raise AreaLoadError(f"the file holds no area {code}: make it with 'wangge sample --area'")
    return office


def _shift_ids(layers: dict[str, pd.DataFrame], after: Mapping[str, int]) -> None:
    """Give each layer's records ids after the stored ones (and the file's ids as ``ref``)."""
    for table, referrers in _REFERRERS.items():
        if table not in layers:
            continue
        frame = layers[table]
        if table in _OFFICE_LAYERS and "ref" not in frame:
            frame["ref"] = frame["id"].astype("int64").astype(str)
        shift = after[table]
        frame["id"] = frame["id"] + shift
        for layer, column in referrers:
            if layer in layers and column in layers[layer]:
                layers[layer][column] = layers[layer][column] + shift


def _free_id_numbers(cur: psycopg.Cursor, id_numbers: pd.Series) -> pd.Series:
    """The ID numbers, those a stored resident (or another of these) has moved on.

    Only the clashing ones are sealed into blind indexes again, round after round.
    """
    present = id_numbers.notna().to_numpy()
    values = id_numbers.to_numpy(dtype=object)[present]
    hashes = np.array(crypt.digest_column("id_number", values), dtype=object)
    taken = store.taken_id_numbers(cur, hashes)
    clash = np.array([h in taken for h in hashes], dtype=bool)
    for _ in range(500):
        clash |= pd.Series(hashes).duplicated().to_numpy()
        if not clash.any():
            break
        values = resequence_id_numbers(values, clash)
        hashes[clash] = crypt.digest_column("id_number", values[clash])
        taken = store.taken_id_numbers(cur, hashes[clash])
        clash &= np.array([h in taken for h in hashes], dtype=bool)
    else:
        raise AreaLoadError("no free ID numbers for the district's residents")
    out = id_numbers.to_numpy(dtype=object).copy()
    out[present] = values
    return pd.Series(pd.array(out, dtype=id_numbers.dtype), index=id_numbers.index)


def _ewkb(geom: shapely.Geometry) -> bytes:
    return shapely.to_wkb(shapely.set_srid(geom, 4326), include_srid=True)
