"""Grid and admin-area polygons in and out of files: GeoJSON, GeoPackage, Shapefile.

A grid file a user brings is read, converted from GCJ-02/BD-09 when asked, checked
(geometry, codes, community, topology), and only then stored as a new grid version
of each community it covers — all communities in one transaction.  Overlaps and gaps
are reported, never silently fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

import geopandas as gpd
import pyogrio
import shapely

from etl.gpkg import LayerFileError
from etl.grid_versions import VersionReport, save_grid_versions
from etl.imports.dictionary import GRIDS
from etl.imports.headers import recognise
from etl.imports.registers import geometries_in_wgs84
from etl.layers import POLYGONAL
from gis.coords import geometries_to_wgs84, local_metric_crs_for
from gis.errors import EtlError, InvalidInput, Problem, ValidationError
from gis.settings import Settings, get_settings
from gis.store import grid_store, register_store
from gis.validate import (
    check_crs,
    check_geometries,
)
from grids.codes import check_codes

#: A grid belongs to the community holding more than this share of its area.
COMMUNITY_SHARE = 0.5
LAYER = "grid"


@dataclass
class GridImportReport:
    """What a grid import did, or would do (``saved`` is False when refused)."""

    grids: int
    communities: list[str]
    saved: bool
    versions: list[VersionReport] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    topology: object | None = None
    #: grids of communities the file leaves exactly as stored (no new version made)
    unchanged: int = 0


class GridImportRejected(EtlError, InvalidInput):
    """The grid file breaks the topology rules; nothing was stored."""

    def __init__(self, message: str, topology: object):
        super().__init__(message)
        self.topology = topology


def read_polygons(path: str | Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a polygon layer (GeoJSON, GeoPackage, Shapefile …) with our column names.

    The grid fields' headers are those of the data dictionary
    (:data:`etl.imports.dictionary.GRIDS`: 网格编码, WGBM, grid_code …).

    Raises
    ------
    LayerFileError
        When the file is missing, unreadable or has no geometry.
    """
    path = Path(path)
    if not path.exists():
        raise LayerFileError(f"{path}: no such file")
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio raises several DataSource errors
        raise LayerFileError(
            f"{path}: not a readable GeoJSON, GeoPackage or Shapefile ({exc})"
        ) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise LayerFileError(f"{path}: the layer has no geometry")
    columns = [c for c in frame.columns if c != frame.geometry.name]
    renames = {k: v for k, v in recognise(columns, GRIDS).renames.items() if k != v}
    frame = frame.rename(columns=renames)
    for column in ("code", "community_code", "parent_code"):
        if column in frame:
            frame[column] = frame[column].map(_as_code)
    return frame


def _as_code(value: object) -> str | None:
    """Codes as text: a Shapefile or Excel may have stored 330106109001001 as a number."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() or None


def import_grids(
    engine: Engine,
    path: str | Path,
    *,
    coord_type: str = "wgs84",
    community: str | None = None,
    layer: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    check: Callable[[gpd.GeoDataFrame, gpd.GeoDataFrame], object] | None = None,
    progress: bool = True,
    settings: Settings | None = None,
) -> GridImportReport:
    """Import a grid file as the new grids of the communities it covers.

    Parameters
    ----------
    engine
        The database.
    path
        GeoJSON, GeoPackage or Shapefile of grid polygons.
    coord_type
        ``wgs84``, ``gcj02`` (AMap, Tencent) or ``bd09`` (Baidu).
    community
        Put every grid in this community (12-digit code); otherwise a
        ``community_code`` column, or else the community holding most of each grid.
    force
        Store even when the topology check finds errors.
    dry_run
        Check everything, store nothing.
    check
        The topology check: ``check(grids, communities)`` returning a report with
        ``exceeds() -> bool``; default :func:`grids.topology.check_grids`.

    Raises
    ------
    LayerFileError, ValidationError, GridImportRejected
        With what is wrong, where, and how to fix it; nothing is stored.
    """
    settings = settings or get_settings()
    grids = read_polygons(path, layer)
    said: list[str] = []  # a projected file reprojected, as the registers' files are
    grids = grids.set_geometry(geometries_in_wgs84(grids, coord_type, said))
    notes = [Problem(LAYER, None, None, "crs", n, "nothing to do", "warning") for n in said]
    problems = check_crs(grids, LAYER)
    if problems:
        raise ValidationError(problems)
    geoms, problems = check_geometries(
        grids,
        LAYER,
        POLYGONAL,
        id_column="code" if "code" in grids else None,
        service_area=_service_area(engine, settings),
    )
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ValidationError(problems)
    grids = grids.set_geometry(gpd.GeoSeries(geoms, index=grids.index, crs=4326))

    communities = grid_store.communities(engine)
    grids["community_code"] = _communities_of(grids, communities, community)
    missing = grids["community_code"].isna().to_numpy()
    if missing.any():
        raise ValidationError(
            [
                Problem(
                    LAYER,
                    int(i) + 1,
                    None,
                    "community_code",
                    "the grid lies in no known community",
                    "add a community_code column, pass --community, or load the "
                    "community's boundary first",
                )
                for i in np.flatnonzero(missing)
            ]
        )
    code_problems = _code_problems(grids) + _kind_problems(grids)
    if code_problems:
        raise ValidationError(code_problems)

    if check is None:
        from grids.topology import check_grids

        def check(g: gpd.GeoDataFrame, c: gpd.GeoDataFrame) -> object:
            return check_grids(g, c)

    involved = communities[communities["code"].isin(grids["community_code"])]
    topology = check(grids, involved)
    report = GridImportReport(
        len(grids),
        sorted(grids["community_code"].unique()),
        saved=False,
        warnings=notes + [p for p in problems if p.severity == "warning"],
        topology=topology,
    )
    if topology.exceeds() and not force:  # type: ignore[attr-defined]
        hint = _gcj02_hint(grids, involved, check) if coord_type == "wgs84" else ""
        raise GridImportRejected(
            f"{path}: the grids break the topology rules (see the report); nothing was "
            f"stored. Fix the file, or pass --force to store it anyway.{hint}",
            topology,
        )
    by_community = {
        code: part.drop(columns=["community_code"])
        for code, part in grids.groupby("community_code", sort=True)
        if not _same_as_stored(engine, code, part)
    }
    report.unchanged = int(
        grids["community_code"].isin(set(grids["community_code"]) - set(by_community)).sum()
    )
    if dry_run or not by_community:
        return report
    report.versions = save_grid_versions(engine, by_community, progress=progress, settings=settings)
    report.saved = True
    return report


def _service_area(engine: Engine, settings: Settings) -> tuple[float, float, float, float]:
    with engine.connect() as conn:
        return register_store.service_area(conn, settings)


def _same_as_stored(engine: Engine, community: str, grids: gpd.GeoDataFrame) -> bool:
    """Whether a community's grids in the file are exactly its current grids.

    Matched by code when the file gives codes, else by geometry; given names and kinds
    must be the stored ones too.
    """
    stored = grid_store.current_grids(engine, community)
    if len(stored) != len(grids):
        return False
    if "code" in grids and grids["code"].notna().all():
        if set(stored["code"]) != set(grids["code"]):
            return False
        order = grids.set_index("code").loc[list(stored["code"])].reset_index()
    else:
        theirs = stored.geometry.to_numpy()
        found = [np.flatnonzero(shapely.equals(theirs, g)) for g in grids.geometry.to_numpy()]
        if any(len(f) != 1 for f in found) or len({int(f[0]) for f in found}) != len(found):
            return False
        order = grids.iloc[np.argsort([int(f[0]) for f in found])].reset_index(drop=True)
    for column in ("name", "kind"):
        if column in order:
            given = order[column].to_numpy(dtype=object)
            same = pd.isna(given) | (given == stored[column].to_numpy(dtype=object))
            if not same.all():
                return False
    return bool(shapely.equals(order.geometry.to_numpy(), stored.geometry.to_numpy()).all())


def _gcj02_hint(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    check: Callable[[gpd.GeoDataFrame, gpd.GeoDataFrame], object],
) -> str:
    """A hint when the grids pass the topology check once converted from GCJ-02 or BD-09."""
    if communities.empty:
        return ""
    for coord_type in ("gcj02", "bd09"):
        converted = grids.set_geometry(
            gpd.GeoSeries(
                geometries_to_wgs84(grids.geometry.to_numpy(), coord_type),
                index=grids.index,
                crs=4326,
            )
        )
        if converted.geometry.equals(grids.geometry):  # outside China: the identity
            return ""
        if not check(converted, communities).exceeds():  # type: ignore[attr-defined]
            return (
                f" They fit their communities once converted from {coord_type}: the file looks "
                f"copied from {'AMap/Tencent' if coord_type == 'gcj02' else 'Baidu'} — import "
                f"again with --coord-type {coord_type}."
            )
    return ""


def _communities_of(
    grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, community: str | None
) -> pd.Series:
    """The community code of each grid: given, from the file, or by largest overlap."""
    if community is not None:
        if community not in set(communities["code"]):
            raise ValidationError(
                [
                    Problem(
                        LAYER,
                        None,
                        community,
                        "community",
                        f"no community with code {community}",
                        "load the community first, or fix the code",
                    )
                ]
            )
        return pd.Series(community, index=grids.index, dtype=object)
    known = set(communities["code"])
    if "community_code" in grids:
        return grids["community_code"].where(grids["community_code"].isin(known), None)
    if communities.empty:
        return pd.Series(None, index=grids.index, dtype=object)
    crs = local_metric_crs_for(grids)
    g = grids.geometry.to_crs(crs)
    c = communities.set_geometry(communities.geometry.to_crs(crs))
    tree = shapely.STRtree(np.asarray(c.geometry.array))
    gi, ci = tree.query(np.asarray(g.array), predicate="intersects")
    shares = shapely.area(
        shapely.intersection(np.asarray(g.array)[gi], np.asarray(c.geometry.array)[ci])
    )
    shares = shares / np.maximum(shapely.area(np.asarray(g.array)[gi]), 1e-9)
    best = (
        pd.DataFrame({"g": gi, "c": ci, "share": shares})
        .sort_values(["g", "share"], ascending=[True, False])
        .drop_duplicates("g")
    )
    best = best[best["share"] > COMMUNITY_SHARE]
    out = pd.Series(None, index=grids.index, dtype=object)
    out.iloc[best["g"].to_numpy()] = c["code"].to_numpy()[best["c"].to_numpy()]
    return out


def _kind_problems(grids: gpd.GeoDataFrame) -> list[Problem]:
    """Each grid's kind (网格类型) as stored (基础网格 → base); one Problem per unknown one."""
    if "kind" not in grids:
        return []
    from etl.imports.dictionary import KINDS
    from etl.imports.values import choices

    field = KINDS["grids"].field("kind")
    given = grids["kind"]
    grids["kind"], bad = choices(given, field)
    allowed = ", ".join(f"{c.zh} ({c.value})" for c in field.choices)
    return [
        Problem(
            LAYER,
            int(i) + 1,
            None,
            "kind",
            f"unknown grid kind {given.iloc[i]!r}",
            f"write one of {allowed}, or leave it empty (基础网格)",
        )
        for i in np.flatnonzero(bad)
    ]


def _code_problems(grids: gpd.GeoDataFrame) -> list[Problem]:
    """Codes must be all given or all absent per community, and valid when given."""
    if "code" not in grids:
        return []
    problems: list[Problem] = []
    for community, part in grids.groupby("community_code", sort=True):
        given = part["code"].notna()
        if given.any() and not given.all():
            problems += [
                Problem(
                    LAYER,
                    int(grids.index.get_loc(i)) + 1,
                    None,
                    "code",
                    f"some grids of community {community} have codes and this one has none",
                    "give every grid of the community a code, or none (they are then generated)",
                )
                for i in part.index[~given]
            ]
    present = grids[grids["code"].notna()]
    for p in check_codes(list(present["code"]), list(present["community_code"])):
        row = int(grids.index.get_loc(present.index[p.row - 1])) + 1
        problems.append(Problem(LAYER, row, p.code, "code", p.message, p.fix))
    return problems


def export_grids(engine: Engine, path: str | Path, community: str | None = None) -> Path:
    """Write the current grids (with household counts) to GeoJSON, GeoPackage or Shapefile.

    The format follows the file name: ``.geojson``/``.json`` (RFC 7946, lon/lat),
    ``.gpkg``, ``.shp``.
    """
    path = Path(path)
    grids = grid_store.current_grids(engine, community)
    if community is not None and grids.empty:  # an empty file would say "no grids" silently
        raise LayerFileError(
            f"--community {community}: no community of that code has grids; check the code "
            "(without --community every community's grids are written)"
        )
    out = gpd.GeoDataFrame(
        {
            "code": grids["code"],
            "name": grids["name"],
            "kind": grids["kind"],
            "community_code": grids["community_code"],
            "community_name": grids["community_name"],
            "households": grids["households"],
            "buildings": grids["buildings"],
            "valid_from": grids["valid_from"].astype(str),
        },
        geometry=grids.geometry,
        crs=4326,
    )
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".geojson", ".json"):
        out.to_file(path, driver="GeoJSON", RFC7946="YES")
    elif suffix == ".gpkg":
        out.to_file(path, driver="GPKG", layer=LAYER)
    elif suffix == ".shp":
        # Shapefile field names have at most 10 characters
        out.rename(
            columns={
                "community_code": "comm_code",
                "community_name": "comm_name",
                "households": "households",
                "valid_from": "valid_from",
            }
        ).to_file(path, driver="ESRI Shapefile", encoding="UTF-8")
    else:
        raise LayerFileError(f"{path}: unknown format; use .geojson, .gpkg or .shp")
    return path
