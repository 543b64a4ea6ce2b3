"""The residents' two map questions over HTTP, with a hazard in force: ours vs an analyst's.

The data: the sample district of ``--households`` households (1,000,000 asked by issue 15;
the size actually run is printed), loaded with the project's loader into a scratch PostGIS
database ``wangge_bench_residents``; then one typhoon hazard in force (``POST
/api/hazards`` by an admin: a square of ``--hazard-m`` metres around the district's middle
shelter, so that shelter is skipped and the roads meeting the square are closed).

Timed: the real app as a subprocess (``uvicorn api.app:create_app --factory``, one
worker, loopback; the per-address limit off, it bounds abuse, not capacity), one
keep-alive connection, ``--requests`` requests of each kind after a warm-up, each at a
random resident's position (a random building's point, moved up to 30 m):

``GET /api/resident/nearest-shelter?lon&lat``
    what ``/r/shelter`` asks once the phone gives its position;
``GET /api/resident/nearby?lon&lat``
    what ``/r/nearby`` asks (周边服务, 20 minutes on foot).

p50 and p99 in milliseconds, whole round trips (client, HTTP, app, answer's JSON).

The peer: the same answers as an analyst computes them from the same database:
``geopandas.read_postgis`` of the walkable ``road_edge`` rows and the facilities, the
edges meeting the hazard dropped (``intersects``) and the shelters inside it set aside
(``within``), a ``networkx`` graph weighted by ``length_m``, the position and each
facility joined to the graph at its nearest road (``sindex.nearest`` in a metric CRS: a
node of its own tied to both ends of that road), then
``nx.multi_source_dijkstra`` from the open shelters to the position's node (the nearest
shelter), and ``nx.single_source_dijkstra_path_length`` with a cut-off of 20 minutes'
walk (the services nearby), timed per query (graph built once, not timed), on
``--sample`` of the positions.  Checked on that sample: the same nearest shelter, and the
same nearest service, and the medians of the distance differences.
Positions inside the hazard area (ours routes them out to the nearest open road first)
are left out of the check.

Usage::

    .venv/bin/python benchmarks/residents.py                          # 1,000,000 households
    .venv/bin/python benchmarks/residents.py --households 200000      # what fits in minutes
    .venv/bin/python benchmarks/residents.py --reuse --households 200000   # time again

Prints a table to stderr and one final line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import networkx as nx
import numpy as np
from sqlalchemy import Engine, create_engine, text

import geopandas as gpd
import shapely
from shapely.geometry import box, mapping

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.services.accounts import issue_token
from benchmarks._common import free_port, log, scratch_database, start_uvicorn
from etl.load import load_layers
from etl.sample import generate_district
from gis.coords import local_metric_crs_for
from gis.db.migrate import upgrade

REPO = Path(__file__).resolve().parent.parent
BENCH_DB = "wangge_bench_residents"
NEARBY_MINUTES = 20.0
SERVICE_KINDS = ("clinic", "pharmacy", "elder_care", "community_centre", "school", "park")


# ---------------------------------------------------------------------- the data
def district(args: argparse.Namespace) -> tuple[str, Engine]:
    url, kept = scratch_database(f"{BENCH_DB}_{args.households}", reuse=args.reuse)
    engine = create_engine(url)
    if kept:
        log(f"reusing {BENCH_DB}_{args.households}")
        return url, engine
    upgrade(engine)
    started = time.perf_counter()
    layers = generate_district(args.households, args.seed, progress=False)
    log(f"generated {args.households:,} households in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    log(f"loaded in {time.perf_counter() - started:.0f} s")
    return url, engine


def positions(engine: Engine, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` residents' positions: random buildings' points, moved up to 30 m (lon, lat)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM building) b")
        ).all()
    pts = np.asarray(rows, dtype=float)
    picked = pts[rng.integers(0, len(pts), n)]
    jitter = rng.uniform(-1, 1, (n, 2)) * np.array([30 / 96_000, 30 / 111_000])
    return picked + jitter


def hazard_square(engine: Engine, half_m: float) -> tuple[shapely.Polygon, int]:
    """A square of ``half_m`` around the shelter nearest the district's middle; that shelter."""
    with engine.connect() as conn:
        sid, x, y = conn.execute(
            text(
                """
                WITH mid AS (SELECT ST_SetSRID(ST_Centroid(ST_Extent(geom)::geometry), 4326) AS c
                             FROM road_edge)
                SELECT f.id, ST_X(f.geom), ST_Y(f.geom)
                FROM facility f JOIN shelter s ON s.facility_id = f.id, mid
                ORDER BY f.geom <-> mid.c LIMIT 1"""
            )
        ).one()
    centre = shapely.Point(x, y)
    crs = local_metric_crs_for(centre)
    there = gpd.GeoSeries([centre], crs=4326).to_crs(crs).iloc[0]
    square = gpd.GeoSeries([box(*there.buffer(half_m).bounds)], crs=crs).to_crs(4326).iloc[0]
    return square, int(sid)


# ---------------------------------------------------------------------- the server
def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    """The real app: uvicorn, one worker, loopback, the per-address limit off."""
    os.environ.pop("WANGGE_RELAY_INTERVAL_S", None)
    off = {"WANGGE_RATE_PUBLIC_PER_MIN": "0", "WANGGE_RATE_WRITES_PER_MIN": "0"}
    return start_uvicorn(url, port, off)


def post_hazard(port: int, token: str, area: shapely.Polygon) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    feature = {"type": "Feature", "properties": {"name": "台风（基准）"}, "geometry": mapping(area)}
    conn.request(
        "POST",
        "/api/hazards?" + urlencode({"kind": "typhoon", "severity": 3}),
        body=json.dumps(feature),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    r = conn.getresponse()
    body = r.read()
    if r.status != 201:
        raise RuntimeError(f"the hazard was refused: {r.status} {body[:300]!r}")
    return json.loads(body)


def timed(port: int, path: str, points: np.ndarray) -> tuple[list[float], list[dict]]:
    """GET ``path?lon&lat`` at each point on one keep-alive connection: ms, answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    took, answers = [], []
    for lon, lat in points:
        q = urlencode({"lon": f"{lon:.7f}", "lat": f"{lat:.7f}"})
        started = time.perf_counter()
        conn.request("GET", f"{path}?{q}")
        r = conn.getresponse()
        body = r.read()
        took.append((time.perf_counter() - started) * 1000)
        answers.append({"status": r.status, **(json.loads(body) if body else {})})
    conn.close()
    return took, answers


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


# ---------------------------------------------------------------------- the peer
class Analyst:
    """The answers as an analyst computes them: geopandas and networkx on the same rows.

    Each point (the position, a shelter, a service) joins the graph as a node of its own,
    tied to both ends of its nearest road (``sindex.nearest`` in a metric CRS) with the
    straight walk to that road plus the part of the road to each end.
    """

    def __init__(self, url: str, hazard: shapely.Polygon) -> None:
        engine = create_engine(url)
        edges = gpd.read_postgis(
            "SELECT id, source, target, length_m, geom FROM road_edge WHERE walkable",
            engine,
            geom_col="geom",
        ).rename_geometry("geometry")
        facilities = gpd.read_postgis(
            "SELECT f.id, f.kind, f.geom, s.is_open FROM facility f "
            "LEFT JOIN shelter s ON s.facility_id = f.id",
            engine,
            geom_col="geom",
        ).rename_geometry("geometry")
        engine.dispose()
        self.crs = local_metric_crs_for(edges)
        self.speed = 1.2  # set from the server's answers (distance / minutes)
        open_edges = edges[~edges.intersects(hazard)]
        self.edges = edges.to_crs(self.crs).reset_index(drop=True)
        self.open_edges = open_edges.to_crs(self.crs).reset_index(drop=True)
        self.full = self._graph(self.edges)
        self.open = self._graph(self.open_edges)
        shelters = facilities[
            facilities["is_open"].fillna(False).astype(bool) & ~facilities.within(hazard)
        ].to_crs(self.crs)
        self.shelters = [("S", int(i)) for i in shelters["id"]]
        self._attach_all(self.open, self.open_edges, shelters, "S")
        services = facilities[facilities["kind"].isin(SERVICE_KINDS)].to_crs(self.crs)
        self._attach_all(self.full, self.edges, services, "F")

    @staticmethod
    def _graph(edges: gpd.GeoDataFrame) -> nx.Graph:
        g = nx.Graph()
        for s, t, w in zip(edges["source"], edges["target"], edges["length_m"], strict=True):
            if not g.has_edge(s, t) or g[s][t]["weight"] > w:
                g.add_edge(int(s), int(t), weight=float(w))
        return g

    @staticmethod
    def _ties(
        edges: gpd.GeoDataFrame, points: gpd.GeoSeries
    ) -> list[tuple[int, int, float, float]]:
        """Per point: its road's two ends and the metres to each (walk to the road included)."""
        _, nearest = edges.sindex.nearest(points, return_all=False)
        ties = []
        for point, e in zip(points, nearest, strict=True):
            line = edges.geometry.iloc[e]
            f = line.project(point, normalized=True)
            walk = line.distance(point)
            length = float(edges["length_m"].iloc[e])
            s, t = int(edges["source"].iloc[e]), int(edges["target"].iloc[e])
            ties.append((s, t, walk + f * length, walk + (1 - f) * length))
        return ties

    def _attach_all(
        self, g: nx.Graph, edges: gpd.GeoDataFrame, points: gpd.GeoDataFrame, tag: str
    ) -> None:
        for fid, (s, t, to_s, to_t) in zip(
            points["id"], self._ties(edges, points.geometry), strict=True
        ):
            g.add_edge((tag, int(fid)), s, weight=to_s)
            g.add_edge((tag, int(fid)), t, weight=to_t)

    def _here(self, g: nx.Graph, edges: gpd.GeoDataFrame, lon: float, lat: float) -> tuple:
        point = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(self.crs)
        s, t, to_s, to_t = self._ties(edges, point)[0]
        here = ("Q", 0)
        g.add_edge(here, s, weight=to_s)
        g.add_edge(here, t, weight=to_t)
        return here

    def nearest_shelter(self, lon: float, lat: float) -> tuple[int, float]:
        """(shelter id, metres on foot) from the position."""
        here = self._here(self.open, self.open_edges, lon, lat)
        try:
            metres, path = nx.multi_source_dijkstra(
                self.open, self.shelters, target=here, weight="weight"
            )
        finally:
            self.open.remove_node(here)
        return path[0][1], metres

    def nearby(self, lon: float, lat: float) -> list[tuple[int, float]]:
        """(facility id, minutes on foot) within the cut-off, nearest first."""
        here = self._here(self.full, self.edges, lon, lat)
        limit = NEARBY_MINUTES * 60 * self.speed
        try:
            reach = nx.single_source_dijkstra_path_length(
                self.full, here, cutoff=limit, weight="weight"
            )
        finally:
            self.full.remove_node(here)
        found = [
            (k[1], m / self.speed / 60)
            for k, m in reach.items()
            if isinstance(k, tuple) and k[0] == "F"
        ]
        return sorted(found, key=lambda f: (f[1], f[0]))


# ---------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--sample", type=int, default=100, help="positions the peer answers")
    ap.add_argument("--hazard-m", type=float, default=300.0, help="half the hazard square")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    url, engine = district(args)
    area, skipped_id = hazard_square(engine, args.hazard_m)
    token = issue_token(engine, "bench_residents_admin", "admin")
    with engine.begin() as conn:  # a reused database: one hazard, this run's
        conn.execute(text("DELETE FROM hazard_area"))
    points = positions(engine, args.requests, rng)
    warm = positions(engine, 50, rng)
    port = free_port()
    server = start_server(url, port)
    results: dict[str, Any] = {"households": args.households, "requests": args.requests}
    try:
        hazard = post_hazard(port, token, area)
        log(f"hazard {hazard['id']} in force around shelter {skipped_id}")
        for path in ("/api/resident/nearest-shelter", "/api/resident/nearby"):
            timed(port, path, warm)  # the caches: network, shelter index, hazards
        shelter_ms, shelters = timed(port, "/api/resident/nearest-shelter", points)
        nearby_ms, nearby = timed(port, "/api/resident/nearby", points)
    finally:
        server.terminate()
        server.wait(timeout=30)
    ok = [a["status"] for a in shelters].count(200)
    skipped = sum(
        1 for a in shelters if any(s["id"] == skipped_id for s in a.get("skipped_shelters", []))
    )
    assert all(
        a.get("shelter", {}) is None or a["shelter"]["id"] != skipped_id for a in shelters
    ), "a shelter inside the hazard was recommended"
    results["shelter"] = {
        "p50_ms": pct(shelter_ms, 50),
        "p99_ms": pct(shelter_ms, 99),
        "answered_200": ok,
        "told_of_skipped_shelter": skipped,
    }
    results["nearby"] = {
        "p50_ms": pct(nearby_ms, 50),
        "p99_ms": pct(nearby_ms, 99),
        "answered_200": [a["status"] for a in nearby].count(200),
        "services_median": statistics.median(len(a.get("services", [])) for a in nearby),
    }
    log(f"nearest shelter: {results['shelter']}")
    log(f"nearby services: {results['nearby']}")

    # the peer, on a sample of the same positions (outside the hazard area)
    started = time.perf_counter()
    analyst = Analyst(url, area)
    speeds = [
        s["distance_m"] / (s["minutes"] * 60)
        for a in nearby
        for s in a.get("services", [])[:1]
        if s["minutes"] > 0
    ]
    analyst.speed = float(np.median(speeds)) if speeds else analyst.speed
    log(f"peer graph built in {time.perf_counter() - started:.0f} s")
    inside = shapely.contains_xy(area, points[:, 0], points[:, 1])
    sample = [i for i in range(len(points)) if not inside[i] and shelters[i]["status"] == 200]
    sample = sample[: args.sample]
    same_shelter = same_service = 0
    d_shelter, d_service, peer_s_ms, peer_n_ms = [], [], [], []
    for i in sample:
        lon, lat = points[i]
        t = time.perf_counter()
        sid, metres = analyst.nearest_shelter(lon, lat)
        peer_s_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        near = analyst.nearby(lon, lat)
        peer_n_ms.append((time.perf_counter() - t) * 1000)
        ours = shelters[i]
        if ours.get("shelter") and ours["shelter"]["id"] == sid:
            same_shelter += 1
            d_shelter.append(abs(ours["distance_m"] - metres))
        mine = nearby[i].get("services", [])
        if mine and near and mine[0]["id"] == near[0][0]:
            same_service += 1
            d_service.append(abs(mine[0]["minutes"] - near[0][1]) * 60 * analyst.speed)
        elif not mine and not near:
            same_service += 1
    results["peer"] = {
        "sample": len(sample),
        "same_nearest_shelter": same_shelter,
        "same_nearest_service": same_service,
        "shelter_distance_diff_median_m": statistics.median(d_shelter) if d_shelter else None,
        "service_distance_diff_median_m": statistics.median(d_service) if d_service else None,
        "shelter_p50_ms": pct(peer_s_ms, 50),
        "nearby_p50_ms": pct(peer_n_ms, 50),
    }
    results["ratio_peer_over_ours_p50"] = {
        "shelter": results["peer"]["shelter_p50_ms"] / results["shelter"]["p50_ms"],
        "nearby": results["peer"]["nearby_p50_ms"] / results["nearby"]["p50_ms"],
    }
    log(f"peer (analyst, in-process, no HTTP): {results['peer']}")
    log(
        f"peer p50 / ours p50 (ours over HTTP): shelter "
        f"{results['ratio_peer_over_ours_p50']['shelter']:.1f}×, nearby "
        f"{results['ratio_peer_over_ours_p50']['nearby']:.1f}×"
    )
    print("RESULT " + json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
