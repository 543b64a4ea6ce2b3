"""Walking access partition by partition (on Dask) equals the single-process answer."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

import geopandas as gpd
from pyproj import Transformer
from shapely.geometry import LineString, Point

from analysis import coverage as cv
from analysis.coverage.access_partitions import access_partitioned
from analysis.network import NetworkError, RoadNetwork

ORIGIN = (220_000.0, 3_357_000.0)  # UTM 51N, near 三墩, Hangzhou
TO_LONLAT = Transformer.from_crs(32651, 4326, always_xy=True)
#: clinics within 5 minutes (360 m): the first round's buffer is 560 m, tiles 800 m
FIVE_MIN = {"clinic": {"minutes": 5}}


def _lonlat(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = TO_LONLAT.transform(ORIGIN[0] + xy[:, 0], ORIGIN[1] + xy[:, 1])
    return np.asarray(lon), np.asarray(lat)


def city(seed: int = 7, side: int = 24, step: float = 100.0) -> RoadNetwork:
    """A jittered street lattice of ``side``² nodes (a few streets missing, a tunnel)."""
    rng = np.random.default_rng(seed)
    ij = np.array([(i, j) for j in range(side) for i in range(side)], dtype=float)
    xy = ij * step + rng.uniform(-25, 25, size=ij.shape)
    lon, lat = _lonlat(xy)
    ids = np.arange(len(xy)) + 1
    pairs = [(a, a + 1) for a in range(len(xy)) if (a % side) < side - 1]
    pairs += [(a, a + side) for a in range(len(xy) - side)]
    keep = rng.random(len(pairs)) > 0.12
    pairs = [p for p, k in zip(pairs, keep, strict=True) if k]
    src = np.array([p[0] for p in pairs])
    dst = np.array([p[1] for p in pairs])
    edges = gpd.GeoDataFrame(
        {
            "id": np.arange(len(pairs)) + 1,
            "source": ids[src],
            "target": ids[dst],
            "length_m": np.hypot(*(xy[src] - xy[dst]).T),
            "z_level": np.where(np.arange(len(pairs)) == len(pairs) // 2, -1, 0),
        },
        geometry=[
            LineString([(lon[a], lat[a]), (lon[b], lat[b])]) for a, b in zip(src, dst, strict=True)
        ],
        crs=4326,
    )
    nodes = gpd.GeoDataFrame(
        {"id": ids}, geometry=[Point(x, y) for x, y in zip(lon, lat, strict=True)], crs=4326
    )
    return RoadNetwork.from_frames(nodes, edges, walk_speed_mps=1.2)


def demand_in(n: int, extent: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lon, lat = _lonlat(rng.uniform(-150, extent + 150, size=(n, 2)))
    frame = pd.DataFrame(
        {
            "cell": np.arange(n, dtype=np.int64) + 1,
            "grid_id": pd.array(rng.integers(1, 6, n), dtype="Int64"),
            "community_id": pd.array(rng.integers(1, 4, n), dtype="Int64"),
            "lon": lon,
            "lat": lat,
        }
    )
    for g in cv.GROUPS:
        frame[g] = rng.integers(1, 20, n).astype(float)
    return frame


def clinics_in(k: int, extent: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lon, lat = _lonlat(rng.uniform(0, extent, size=(k, 2)))
    return pd.DataFrame(
        {"id": np.arange(k) + 11, "kind": "clinic", "name": "c", "lon": lon, "lat": lat}
    )


@pytest.fixture(scope="module")
def street_city() -> tuple[RoadNetwork, pd.DataFrame, pd.DataFrame]:
    extent = 2300.0
    return city(), demand_in(1500, extent, seed=3), clinics_in(6, extent, seed=5)


def _same(a: cv.Access, b: cv.Access) -> None:
    assert np.array_equal(np.isfinite(a.time_s), np.isfinite(b.time_s))
    fin = np.isfinite(a.time_s)
    np.testing.assert_allclose(a.time_s[fin], b.time_s[fin], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(a.served, b.served)
    np.testing.assert_array_equal(a.facility_id, b.facility_id)


@pytest.mark.parametrize("by", [None, "community_id"])
def test_partitions_answer_as_the_whole(street_city, by: str | None) -> None:
    network, demand, clinics = street_city
    whole = cv.access(network, demand, clinics, "clinic", standards=cv.load_standards(FIVE_MIN))
    assert 0 < whole.served.sum() < len(demand)  # some beyond the limit: exact times asked too
    parts = access_partitioned(
        network,
        demand,
        clinics,
        "clinic",
        standards=cv.load_standards(FIVE_MIN),
        by=by,
        tile_m=800.0,
    )
    _same(whole, parts)


@pytest.fixture(scope="module")
def quiet_dask() -> Iterator[None]:
    """Only Dask's warnings in the log the suite scans (its INFO lines carry token-like ids)."""
    dask_log = logging.getLogger("distributed")
    level = dask_log.level
    dask_log.setLevel(logging.WARNING)
    yield
    dask_log.setLevel(level)


def test_on_a_two_worker_cluster_with_rows_on_tile_edges(street_city, quiet_dask) -> None:

    network, demand, clinics = street_city
    tile = 700.0
    # rows on both sides of a tile edge, 1 m from it, as well as the random ones
    xy = network.to_metric(demand["lon"], demand["lat"])
    edge_x = (np.floor(xy[:, 0].mean() / tile) + 1) * tile
    on_edge = demand.iloc[:40].copy()
    near = np.column_stack([edge_x + np.tile([-1.0, 1.0], 20), xy[:40, 1]])
    back = Transformer.from_crs(network.crs, 4326, always_xy=True)
    on_edge["lon"], on_edge["lat"] = back.transform(near[:, 0], near[:, 1])
    rows = pd.concat([demand, on_edge], ignore_index=True)
    standards = cv.load_standards(FIVE_MIN)
    whole = cv.access(network, rows, clinics, "clinic", standards=standards)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        Client(local) as client,
    ):
        parts = access_partitioned(
            network, rows, clinics, "clinic", client=client, standards=standards, tile_m=tile
        )
        ran = client.run(lambda: 1)
    assert len(ran) == 2
    _same(whole, parts)


def test_bad_rows_and_options_are_named_as_in_one_process(street_city) -> None:
    network, demand, clinics = street_city
    bad = demand.head(5).copy()
    bad.loc[2, "lon"] = np.nan
    with pytest.raises(NetworkError, match="not finite"):
        cv.access(network, bad, clinics, "clinic")
    with pytest.raises(NetworkError, match="not finite"):
        access_partitioned(network, bad, clinics, "clinic")
    with pytest.raises(cv.CoverageError, match="no such column"):
        access_partitioned(network, demand, clinics, "clinic", by="district")
    with pytest.raises(cv.CoverageError, match="tile side must be positive"):
        access_partitioned(network, demand, clinics, "clinic", tile_m=0)
