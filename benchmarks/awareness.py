"""Situational awareness at city scale: aggregates, Gi* hotspots and hazard impact vs the peers.

The data: the sample district of ``--households`` households (200,000: 500 grids, about
520,000 residents) with ``--incidents`` incidents (1,000,000) over six months, placed by
the generator's own rhythms and hotspots (markets, old estates, school gates, building
sites), loaded into a scratch PostGIS database with the project's loader (every record
placed in its grid and H3 cell).  The incident histories (``incident_event``) are not
generated into the database: nothing here reads them.

Contenders, on the same rows, answers checked equal:

ours
    :class:`analysis.aggregates.IncidentCube` built once from the incident rows (its
    build time is reported apart, ``cube_build_s``), then one ``aggregate`` per query;
    :func:`analysis.hotspots.gi_star` over every H3 cell of the district;
    :func:`analysis.hazard.hazard_impact` with the check-on routes.
PostGIS
    What a GIS analyst writes: ``GROUP BY h3_cell`` (or ``grid_id``) with a
    ``reported_at`` range, under the table's index on ``reported_at``; the impact as
    ``ST_Intersects`` joins (buildings → households → residents, group counts with
    ``FILTER``), grid area shares with ``ST_Area(ST_Intersection(...)::geography)``
    and the shelters ``ST_Covers``-ed by the area (no routes: PostGIS alone has none).
geopandas
    The incidents as a GeoDataFrame: a boolean time mask and ``groupby`` for H3 cells,
    ``geopandas.sjoin`` with the grid polygons for grids; the impact as ``to_crs`` +
    ``sjoin`` of buildings and shelters with the area, then ``merge`` and ``groupby``
    (no routes).

Queries: the last full local day and week (Asia/Shanghai; weeks start on Monday) and
the whole six months, by H3 cell and by grid.  Each is the best of ``--repeat`` runs.
The hazard area is a north-south band over the middle of the district covering about a
fifth of the grids' area, densified to 5 m in the metric CRS so that the planar tests
in degrees (PostGIS) and in metres (ours, geopandas) agree.

Usage::

    .venv/bin/python benchmarks/awareness.py                  # 200,000 households, 1M incidents
    .venv/bin/python benchmarks/awareness.py --households 20000 --incidents 100000

Prints a summary to stderr and one final line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, create_engine, text

import geopandas as gpd
import shapely
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.aggregates import IncidentCube
from analysis.hazard import CHILD_MAX_AGE, GROUPS, hazard_impact
from analysis.hotspots import gi_star, k_ring_weights
from analysis.network import RoadNetwork
from benchmarks._common import scratch_database
from etl.load import load_layers
from etl.sample import generate_district
from gis.db import cluster
from gis.db.migrate import upgrade
from gis.settings import get_settings
from gis.store.queries import road_network_frames
from grids.locate import cover_cells

BENCH_DB = "wangge_bench_awareness"
TZ = "Asia/Shanghai"
REFERENCE_YEAR = 2026


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def best_of(repeat: int, job: Callable[[], Any]) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (seconds) and the last answer."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = job()
        best = min(best, time.perf_counter() - t)
    return best, out


def fresh_database() -> str:
    return scratch_database(BENCH_DB)[0]


def drop_database() -> None:
    base = cluster.ensure_server(get_settings())
    admin = create_engine(cluster.server_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    admin.dispose()


# ---------------------------------------------------------------------- reading back
def read_frames(engine: Engine) -> dict[str, Any]:
    """Everything the analyses take, as stored (grid and H3 cell from the loader)."""
    with engine.connect() as conn:
        incidents = pd.read_sql(
            """SELECT i.id, i.category_code, i.state, i.source, i.reported_at, i.grid_id,
                      i.h3_cell, g.community_id, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
               FROM incident i LEFT JOIN grid g ON g.id = i.grid_id""",
            conn,
        )
        grids = gpd.read_postgis(
            "SELECT id, code, community_id, geom FROM grid WHERE valid_to IS NULL ORDER BY code",
            conn,
            geom_col="geom",
            crs=4326,
        ).rename_geometry("geometry")
        buildings = gpd.read_postgis(
            "SELECT id, grid_id, geom FROM building ORDER BY id", conn, geom_col="geom", crs=4326
        ).rename_geometry("geometry")
        households = pd.read_sql("SELECT id, building_id FROM household ORDER BY id", conn)
        residents = pd.read_sql(
            """SELECT id, household_id, birth_year, living_alone_elderly, disabled,
                      mobility_impaired FROM resident ORDER BY id""",
            conn,
        )
        shelters = gpd.read_postgis(
            """SELECT f.id AS facility_id, f.name, s.is_open, f.geom
               FROM facility f JOIN shelter s ON s.facility_id = f.id ORDER BY f.id""",
            conn,
            geom_col="geom",
            crs=4326,
        ).rename_geometry("geometry")
        workers = pd.read_sql("SELECT worker_id, grid_id, role FROM grid_assignment", conn)
    incidents["reported_at"] = pd.to_datetime(incidents["reported_at"], utc=True).dt.tz_convert(TZ)
    nodes, edges = road_network_frames(engine)
    return {
        "incidents": incidents,
        "grids": grids,
        "buildings": buildings,
        "households": households,
        "residents": residents,
        "shelters": shelters,
        "workers": workers,
        "nodes": nodes,
        "edges": edges,
    }


# ---------------------------------------------------------------------- aggregates
def as_dict(keys: Any, counts: Any) -> dict[int, int]:
    return dict(
        zip(np.asarray(keys, np.int64).tolist(), np.asarray(counts, np.int64).tolist(), strict=True)
    )


def postgis_counts(
    engine: Engine, by: str, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> dict[int, int]:
    where = "WHERE reported_at >= :s AND reported_at < :e" if start is not None else ""
    sql = text(
        f"SELECT {by}, count(*) FROM incident {where} "
        f"{'AND' if where else 'WHERE'} {by} IS NOT NULL GROUP BY {by}"
    )
    with engine.connect() as conn:
        rows = conn.execute(sql, {"s": start, "e": end} if start is not None else {}).all()
    return {int(k): int(c) for k, c in rows}


def geopandas_counts(
    points: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    by: str,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> dict[int, int]:
    sel = points
    if start is not None:
        t = points["reported_at"]
        sel = points[(t >= start) & (t < end)]
    if by == "h3_cell":
        size = sel.groupby("h3_cell").size()
        return as_dict(size.index, size.to_numpy())
    joined = gpd.sjoin(sel[["geometry"]], grids[["id", "geometry"]], predicate="within")
    size = joined.groupby("id").size()
    return as_dict(size.index, size.to_numpy())


# ---------------------------------------------------------------------- hazard
def hazard_band(grids: gpd.GeoDataFrame, share: float, crs: Any) -> shapely.Polygon:
    """A north-south band over the middle of the district, about ``share`` of its area."""
    metric = grids.to_crs(crs)
    union = shapely.union_all(metric.geometry.to_numpy())
    x0, y0, x1, y1 = union.bounds
    cx = (x0 + x1) / 2
    lo, hi = 0.0, x1 - x0
    for _ in range(40):  # bisect the half-width to the area share asked
        half = (lo + hi) / 2
        band = shapely.box(cx - half, y0 - 10, cx + half, y1 + 10)
        if shapely.intersection(band, union).area < share * union.area:
            lo = half
        else:
            hi = half
    band = shapely.segmentize(shapely.box(cx - hi, y0 - 10, cx + hi, y1 + 10), 5.0)
    back = Transformer.from_crs(crs, 4326, always_xy=True)
    return shapely.transform(band, lambda xy: np.column_stack(back.transform(*xy.T)))


POSTGIS_IMPACT = """
WITH hz AS (SELECT ST_GeomFromText(:wkt, 4326) AS g),
b AS (SELECT b.id, b.grid_id FROM building b, hz WHERE ST_Intersects(b.geom, hz.g)),
h AS (SELECT h.id, b.grid_id FROM household h JOIN b ON h.building_id = b.id),
r AS (SELECT h.grid_id, r.living_alone_elderly, r.disabled, r.mobility_impaired,
             r.birth_year FROM resident r JOIN h ON r.household_id = h.id)
SELECT 'grid' AS what, grid_id AS id, count(*) AS residents,
       count(*) FILTER (WHERE living_alone_elderly) AS elderly_alone,
       count(*) FILTER (WHERE disabled) AS disabled,
       count(*) FILTER (WHERE mobility_impaired) AS mobility_impaired,
       count(*) FILTER (WHERE :year - birth_year <= :child) AS children
FROM r GROUP BY grid_id
UNION ALL SELECT 'buildings', NULL, count(*), 0, 0, 0, 0 FROM b
UNION ALL SELECT 'households', NULL, count(*), 0, 0, 0, 0 FROM h
UNION ALL SELECT 'shelter_inside', f.id, 0, 0, 0, 0, 0
  FROM facility f JOIN shelter s ON s.facility_id = f.id, hz WHERE ST_Covers(hz.g, f.geom)
"""

POSTGIS_SHARES = """
WITH hz AS (SELECT ST_GeomFromText(:wkt, 4326) AS g)
SELECT g.id, ST_Area(ST_Intersection(g.geom, hz.g)::geography) / ST_Area(g.geom::geography)
FROM grid g, hz WHERE g.valid_to IS NULL AND ST_Intersects(g.geom, hz.g)
"""


def postgis_impact(engine: Engine, hazard: shapely.Polygon) -> dict[str, Any]:
    params = {"wkt": hazard.wkt, "year": REFERENCE_YEAR, "child": CHILD_MAX_AGE}
    with engine.connect() as conn:
        rows = conn.execute(text(POSTGIS_IMPACT), params).all()
        shares = conn.execute(text(POSTGIS_SHARES), {"wkt": hazard.wkt}).all()
    grid_rows = [r for r in rows if r[0] == "grid"]
    out: dict[str, Any] = {
        "buildings": next(int(r[2]) for r in rows if r[0] == "buildings"),
        "households": next(int(r[2]) for r in rows if r[0] == "households"),
        "residents": {"residents": sum(int(r[2]) for r in grid_rows)},
        "grid_residents": {int(r[1]): int(r[2]) for r in grid_rows if r[1] is not None},
        "shelters_inside": sorted(int(r[1]) for r in rows if r[0] == "shelter_inside"),
        "shares": {int(i): float(s) for i, s in shares},
    }
    for k, grp in enumerate(GROUPS):
        out["residents"][grp] = sum(int(r[3 + k]) for r in grid_rows)
    return out


def geopandas_impact(f: dict[str, Any], hazard: shapely.Polygon, crs: Any) -> dict[str, Any]:
    area = gpd.GeoDataFrame(geometry=[hazard], crs=4326).to_crs(crs)
    b = f["buildings"].to_crs(crs)
    hit = gpd.sjoin(b, area, predicate="intersects")
    hh = f["households"].merge(
        hit[["id", "grid_id"]].rename(columns={"id": "building_id"}), on="building_id"
    )
    res = f["residents"].merge(
        hh[["id", "grid_id"]].rename(columns={"id": "household_id"}), on="household_id"
    )
    res["children"] = REFERENCE_YEAR - res["birth_year"] <= CHILD_MAX_AGE
    res = res.rename(columns={"living_alone_elderly": "elderly_alone"})
    sh = gpd.sjoin(f["shelters"].to_crs(crs), area, predicate="intersects")
    g = f["grids"].to_crs(crs)
    inter = gpd.overlay(g[["id", "geometry"]], area, how="intersection")
    shares = inter.set_index("id").area / g.set_index("id").area.reindex(inter["id"]).to_numpy()
    out: dict[str, Any] = {
        "buildings": len(hit),
        "households": len(hh),
        "residents": {"residents": len(res)},
        "grid_residents": {int(k): int(v) for k, v in res.groupby("grid_id").size().items()},
        "shelters_inside": sorted(sh["facility_id"].astype(int).tolist()),
        "shares": {int(k): float(v) for k, v in shares.items()},
    }
    for grp in GROUPS:
        out["residents"][grp] = int(res[grp].sum())
    return out


# ---------------------------------------------------------------------- the run
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hazard-share", type=float, default=0.2)
    parser.add_argument("--keep-db", action="store_true", help="do not drop the scratch database")
    args = parser.parse_args()
    result: dict[str, Any] = {}

    # ------------------------------------------------------------ data
    t = time.perf_counter()
    layers = generate_district(
        args.households,
        args.seed,
        progress=False,
        incidents_per_household=args.incidents / args.households,
    )
    layers.pop("incident_event", None)
    log(
        f"generated {args.households:,} households, {len(layers['incident']):,} incidents "
        f"in {time.perf_counter() - t:.1f} s"
    )
    engine = create_engine(fresh_database())
    upgrade(engine)
    t = time.perf_counter()
    load_layers(engine, layers, replace=True, progress=False)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    log(f"loaded into {BENCH_DB} in {time.perf_counter() - t:.1f} s")
    del layers
    t = time.perf_counter()
    f = read_frames(engine)
    inc = f["incidents"]
    log(f"read back {len(inc):,} incidents and the layers in {time.perf_counter() - t:.1f} s")
    result["incidents"] = len(inc)
    result["households"] = len(f["households"])
    result["grids"] = len(f["grids"])

    # ------------------------------------------------------------ aggregates
    t = time.perf_counter()
    cube = IncidentCube.build(inc)
    result["cube_build_s"] = round(time.perf_counter() - t, 3)
    last = inc["reported_at"].max()
    day_end = last.normalize()
    week_end = day_end - pd.Timedelta(days=day_end.day_of_week)
    ranges = {
        "day": (day_end - pd.Timedelta(days=1), day_end),
        "week": (week_end - pd.Timedelta(days=7), week_end),
        "6m": (None, None),
    }
    points = gpd.GeoDataFrame(
        inc.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(inc["lon"], inc["lat"]),
        crs=4326,
    )
    grids = f["grids"]
    for name, (start, end) in ranges.items():
        for by in ("h3_cell", "grid_id"):
            tag = "" if by == "h3_cell" else "_grid"
            ours_s, ours = best_of(
                args.repeat, lambda s=start, e=end, b=by: cube.aggregate(by=b, start=s, end=e)
            )
            pg_s, pg = best_of(
                args.repeat, lambda s=start, e=end, b=by: postgis_counts(engine, b, s, e)
            )
            gp_s, gp = best_of(
                max(1, min(args.repeat, 3)),
                lambda s=start, e=end, b=by: geopandas_counts(points, grids, b, s, e),
            )
            mine = as_dict(ours[by], ours["count"])
            assert mine == pg, f"{name} by {by}: ours and PostGIS differ"
            assert mine == gp, f"{name} by {by}: ours and geopandas differ"
            result[f"agg_{name}{tag}_ms"] = round(ours_s * 1000, 2)
            result[f"agg_{name}{tag}_postgis_ms"] = round(pg_s * 1000, 2)
            result[f"agg_{name}{tag}_geopandas_ms"] = round(gp_s * 1000, 2)
            result[f"agg_{name}{tag}_rows"] = sum(mine.values())
            log(
                f"{name:>4} by {by:<8}: ours {ours_s * 1000:8.2f} ms, PostGIS "
                f"{pg_s * 1000:8.2f} ms, geopandas {gp_s * 1000:8.2f} ms "
                f"({sum(mine.values()):,} incidents in {len(mine):,} places; equal)"
            )
    # the live map's usual query: one category, a week, by cell
    top = inc["category_code"].value_counts().index[0]
    s, e = ranges["week"]
    one_s, _ = best_of(
        args.repeat, lambda: cube.aggregate(by="h3_cell", start=s, end=e, categories=[top])
    )
    result["agg_week_category_ms"] = round(one_s * 1000, 2)

    # ------------------------------------------------------------ Gi*
    cover = cover_cells(grids.geometry.to_numpy(), 10)
    six = cube.aggregate(by="h3_cell")
    gi_s, hot = best_of(
        max(1, min(args.repeat, 3)),
        lambda: gi_star(six["h3_cell"], six["count"], k=1, study_area=cover.cells),
    )
    result["gistar_s"] = round(gi_s, 3)
    result["gistar_cells"] = len(hot.frame)
    result["gistar_hot"] = int((hot.frame["significant"] == "hot").sum())
    result["gistar_cold"] = int((hot.frame["significant"] == "cold").sum())
    try:
        from esda.getisord import G_Local
        from libpysal.weights import W

        def esda_run() -> Any:
            cells = hot.frame["h3_cell"].to_numpy()
            w = k_ring_weights(cells, 1).tocoo()
            off = w.row != w.col
            nbrs: dict[int, list[int]] = {i: [] for i in range(len(cells))}
            for i, j in zip(w.row[off].tolist(), w.col[off].tolist(), strict=True):
                nbrs[i].append(j)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return G_Local(
                    hot.frame["count"].to_numpy(),
                    W(nbrs, silence_warnings=True),
                    transform="B",
                    star=True,
                    permutations=0,
                )

        es_s, peer = best_of(1, esda_run)
        result["gistar_esda_s"] = round(es_s, 3)
        result["gistar_esda_max_abs_dz"] = float(np.max(np.abs(peer.Zs - hot.frame["gi_z"])))
    except ImportError:  # esda is a dev extra
        pass
    log(
        f"Gi*: {len(hot.frame):,} cells in {gi_s:.3f} s, {result['gistar_hot']} hot, "
        f"{result['gistar_cold']} cold (BH q < 0.05)"
        + (f"; esda {result['gistar_esda_s']:.3f} s" if "gistar_esda_s" in result else "")
    )

    # ------------------------------------------------------------ hazard impact
    t = time.perf_counter()
    net = RoadNetwork.from_frames(f["nodes"], f["edges"])
    result["network_build_s"] = round(time.perf_counter() - t, 3)
    hz = hazard_band(grids, args.hazard_share, net.crs)

    def ours_impact() -> Any:
        return hazard_impact(
            hz,
            grids=grids,
            buildings=f["buildings"],
            households=f["households"],
            residents=f["residents"],
            shelters=f["shelters"],
            network=net,
            workers=f["workers"],
            reference_year=REFERENCE_YEAR,
        )

    imp_s, imp = best_of(max(1, min(args.repeat, 3)), ours_impact)
    counts_s, _ = best_of(
        max(1, min(args.repeat, 3)),
        lambda: hazard_impact(
            hz,
            grids=grids,
            buildings=f["buildings"],
            households=f["households"],
            residents=f["residents"],
            shelters=f["shelters"],
            network=net,
            reference_year=REFERENCE_YEAR,
            routes=False,
        ),
    )
    pg_s, pg = best_of(max(1, min(args.repeat, 3)), lambda: postgis_impact(engine, hz))
    gp_s, gp = best_of(max(1, min(args.repeat, 3)), lambda: geopandas_impact(f, hz, net.crs))
    ours = {
        "buildings": len(imp.buildings),
        "households": len(imp.households),
        "residents": imp.residents_by_group,
        "grid_residents": {
            int(g): int(r)
            for g, r in zip(imp.grids["grid_id"], imp.grids["residents"], strict=True)
            if r > 0
        },
        "shelters_inside": sorted(imp.shelters_inside.tolist()),
    }
    for peer_name, peer in (("PostGIS", pg), ("geopandas", gp)):
        for key, value in ours.items():
            assert value == peer[key], f"hazard {key}: ours {value} != {peer_name} {peer[key]}"
        mine = imp.grids.set_index("grid_id")["area_share"]
        for gid, share in peer["shares"].items():
            if share > 1e-9:
                assert abs(mine.get(gid, 0.0) - share) < 1e-3, (peer_name, gid, share)
    share = float(
        (
            imp.grids["area_share"]
            * grids.to_crs(net.crs).set_index("id").area.reindex(imp.grids["grid_id"]).to_numpy()
        ).sum()
        / grids.to_crs(net.crs).area.sum()
    )
    co = imp.check_on
    result.update(
        {
            "impact_s": round(imp_s, 3),
            "impact_counts_only_s": round(counts_s, 3),
            "impact_postgis_s": round(pg_s, 3),
            "impact_geopandas_s": round(gp_s, 3),
            "hazard_area_share": round(share, 3),
            "impact_grids": len(imp.grids),
            "impact_buildings": len(imp.buildings),
            "impact_households": len(imp.households),
            "impact_residents": imp.residents_by_group["residents"],
            "check_on_rows": len(co),
            "check_on_routed": int((co["reason"] == "ok").sum()),
            "check_on_cut_off": int((co["reason"] == "cut_off").sum()),
            "closed_edges": len(imp.closed_edges),
            "shelters_inside": len(imp.shelters_inside),
        }
    )
    log(
        f"hazard over {share:.1%} of the district: {len(imp.grids)} grids, "
        f"{len(imp.buildings):,} buildings, {imp.residents_by_group['residents']:,} residents, "
        f"{len(co):,} to check on ({result['check_on_routed']:,} routed); ours {imp_s:.3f} s "
        f"(counts only {counts_s:.3f} s), PostGIS {pg_s:.3f} s, geopandas {gp_s:.3f} s; equal"
    )
    engine.dispose()
    if not args.keep_db:
        drop_database()
    result["goal_agg_week_ms"] = 200
    result["goal_impact_s"] = 2.0
    result["goals_met"] = bool(result["agg_week_ms"] <= 200 and result["impact_s"] <= 2.0)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
