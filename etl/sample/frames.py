"""The place layers of the sample district as (Geo)DataFrames in EPSG:4326: areas to roads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import geopandas as gpd
import shapely
from pyproj import Geod

from etl.sample.buildings import Buildings
from etl.sample.constants import (
    DISTRICT_CODE,
    DISTRICT_NAME,
    ESTATE_BRANDS,
    ESTATE_MID_SUFFIX,
    ESTATE_NEW_NAMES,
    ESTATE_OLD_SUFFIX,
    ESTATE_PHASES,
    MID,
    NEW,
    OLD,
    PLACE_A,
    PLACE_B,
    REAL_STREETS,
    WGS84,
)
from etl.sample.facilities import Facilities
from etl.sample.helpers import (
    FloatArray,
    IntArray,
    ObjectArray,
    group_rank,
    int_str,
    join_str,
    lonlat,
    multi,
    name_pool,
    pick_names,
    str_column,
    take_str,
)
from etl.sample.layout import Blocks, Estates, Grids, Layout
from etl.sample.population import Population
from etl.sample.roads import Roads


@dataclass(frozen=True)
class Areas:
    """Codes, names and shapes of the admin areas, for the layers that refer to them."""

    comm_place: list[str]  # place name of each community (the 兰苑 of 兰苑社区)
    comm_code: list[str]  # 12-digit code of each community
    comm_name: list[str]
    street_code: list[str]  # 9-digit code of each street
    est_name: ObjectArray  # per block: the estate's or the school's name
    est_code: ObjectArray  # per block: the estate's code, "" for school campuses
    school_name: dict[int, str]  # per school block
    comm_poly: ObjectArray  # community polygons, EPSG:4326


@dataclass(frozen=True)
class GridCodes:
    """The codes of the grids, and the grids in code order (the order of the grid layer)."""

    code: ObjectArray  # code of each grid: community code + sequence (3 digits)
    order: IntArray  # grid indexes sorted by code


def place_frames(
    layout: Layout,
    blocks: Blocks,
    grids: Grids,
    estates: Estates,
    buildings: Buildings,
    population: Population,
    facilities: Facilities,
    roads: Roads,
    rng: np.random.Generator,
) -> tuple[dict[str, pd.DataFrame], Areas, GridCodes]:
    """Assemble the layers of places (admin areas to roads) in EPSG:4326."""
    out: dict[str, pd.DataFrame] = {}
    fine_ll = lonlat(layout.fine)
    out["admin_area"], areas = admin_frame(layout, blocks, buildings, estates, fine_ll, rng)
    out["grid"], grid_codes = grid_frame(layout, blocks, grids, areas, fine_ll)
    out["building"], out["household"], out["resident"] = home_frames(buildings, population, areas)
    out["facility"], out["shelter"] = facility_frames(layout, facilities, areas)
    out["road_node"], out["road_edge"] = road_frames(roads)
    return out, areas, grid_codes


def admin_frame(
    layout: Layout,
    blocks: Blocks,
    buildings: Buildings,
    estates: Estates,
    fine_ll: FloatArray,
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, Areas]:
    """The district, its streets, communities and estates, with their codes and names."""
    n = layout.n_comm
    pool_a, pool_b = list(PLACE_A), list(dict.fromkeys(PLACE_B))
    places = pick_names(name_pool(rng, pool_a, pool_b), n + layout.n_streets)
    comm_place = places[:n]
    real = REAL_STREETS[: layout.n_streets]
    used_codes = {c for c, _ in REAL_STREETS}
    spare_codes = [f"{i:03d}" for i in range(1, 1000) if f"{i:03d}" not in used_codes]
    real_names = {nm[:2] for _, nm in REAL_STREETS}
    gen = [p for p in places[n:] if p not in real_names]
    streets = list(real) + [
        (spare_codes[i], f"{gen[i % len(gen)]}街道") for i in range(layout.n_streets - len(real))
    ]
    street_code = [DISTRICT_CODE + c for c, _ in streets]
    seq_in_street = group_rank(layout.comm_street) + 1
    comm_code = [
        f"{street_code[s]}{q:03d}" for s, q in zip(layout.comm_street, seq_in_street, strict=True)
    ]
    comm_name = [f"{p}社区" for p in comm_place]

    # community rings: the 12 lattice points around the 3 × 3 blocks
    dj = np.array([0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 2, 1, 0])
    di = np.array([0, 1, 2, 3, 3, 3, 3, 2, 1, 0, 0, 0, 0])
    rj = 3 * layout.comm_cj[:, None] + dj
    ri = 3 * layout.comm_ci[:, None] + di
    comm_poly = shapely.polygons(fine_ll[rj, ri])
    street_poly = np.array(
        [
            shapely.coverage_union_all(comm_poly[layout.comm_street == s])
            for s in range(len(streets))
        ],
        dtype=object,
    )
    district_poly = shapely.coverage_union_all(comm_poly)

    # estates
    is_estate = blocks.is_estate
    est_b = np.flatnonzero(is_estate)
    est_seq = np.empty(len(blocks.prog), dtype=np.int64)
    est_seq[est_b] = group_rank(est_b // 9) + 1
    style = buildings.estate_style
    new_pool = name_pool(rng, ESTATE_BRANDS, ESTATE_NEW_NAMES, ESTATE_PHASES)
    mid_pool = name_pool(rng, pool_a, pool_b, ESTATE_MID_SUFFIX)
    old_pool = name_pool(rng, pool_a, pool_b, ESTATE_OLD_SUFFIX)
    est_name = np.empty(len(blocks.prog), dtype=object)
    for st, pool in ((OLD, old_pool), (MID, mid_pool), (NEW, new_pool)):
        m = is_estate & (style == st)
        est_name[m] = pick_names(pool, int(m.sum()))
    school_name: dict[int, str] = {}
    for b in np.flatnonzero(~is_estate).tolist():
        p = comm_place[b // 9]
        school_name[b] = rng.choice([f"杭州市{p}小学", f"{p}实验学校", f"{p}第二小学"])
        est_name[b] = school_name[b]
    est_code = np.array(
        [
            f"{comm_code[b // 9]}E{est_seq[b]:02d}" if is_estate[b] else ""
            for b in range(len(est_seq))
        ],
        dtype=object,
    )
    est_ring = lonlat(estates.ring[est_b])
    est_poly = shapely.polygons(est_ring)

    admin = pd.DataFrame(
        {
            "code": str_column([DISTRICT_CODE, *street_code, *comm_code, *est_code[est_b]]),
            "name": str_column(
                [DISTRICT_NAME, *(nm for _, nm in streets), *comm_name, *est_name[est_b]]
            ),
            "level": str_column(
                ["district"]
                + ["street"] * len(streets)
                + ["community"] * n
                + ["estate"] * len(est_b)
            ),
            "parent_code": str_column(
                [None]
                + [DISTRICT_CODE] * len(streets)
                + [street_code[s] for s in layout.comm_street]
                + [comm_code[b // 9] for b in est_b]
            ),
        }
    )
    admin_geom = multi(
        np.concatenate([[district_poly], street_poly, comm_poly, est_poly]).astype(object)
    )
    areas = Areas(
        comm_place=comm_place,
        comm_code=comm_code,
        comm_name=comm_name,
        street_code=street_code,
        est_name=est_name,
        est_code=est_code,
        school_name=school_name,
        comm_poly=comm_poly,
    )
    return gpd.GeoDataFrame(admin, geometry=admin_geom, crs=WGS84), areas


def grid_frame(
    layout: Layout, blocks: Blocks, grids: Grids, areas: Areas, fine_ll: FloatArray
) -> tuple[gpd.GeoDataFrame, GridCodes]:
    """The grids (网格), unions of their blocks, in code order."""
    comm_code, comm_name = areas.comm_code, areas.comm_name
    ng = len(grids.comm)
    blk_poly = shapely.polygons(
        fine_ll[
            np.stack([blocks.j, blocks.j, blocks.j + 1, blocks.j + 1], 1),
            np.stack([blocks.i, blocks.i + 1, blocks.i + 1, blocks.i], 1),
        ]
    )
    order = np.argsort(grids.block_grid, kind="stable")
    bounds = np.searchsorted(grids.block_grid[order], np.arange(ng + 1))
    grid_poly = np.array(
        [shapely.coverage_union_all(blk_poly[order[bounds[g] : bounds[g + 1]]]) for g in range(ng)],
        dtype=object,
    )
    grid_code = np.array(
        [f"{comm_code[c]}{s:03d}" for c, s in zip(grids.comm, grids.seq, strict=True)],
        dtype=object,
    )
    grid_order = np.argsort(grid_code, kind="stable")
    grid_df = pd.DataFrame(
        {
            "code": str_column(grid_code[grid_order]),
            "name": str_column(
                [f"{comm_name[grids.comm[g]]}第{grids.seq[g]}网格" for g in grid_order]
            ),
            "community_code": str_column([comm_code[grids.comm[g]] for g in grid_order]),
            "kind": str_column(["base"] * ng),
        }
    )
    frame = gpd.GeoDataFrame(grid_df, geometry=multi(grid_poly[grid_order]), crs=WGS84)
    return frame, GridCodes(code=grid_code, order=grid_order)


def home_frames(
    buildings: Buildings, population: Population, areas: Areas
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """The building, household and resident layers."""
    bld = buildings
    nbld = len(bld.blk)
    b_est = take_str(list(areas.est_name), bld.blk)
    bld_df = pd.DataFrame(
        {
            "id": np.arange(1, nbld + 1, dtype=np.int64),
            "name": str_column(join_str(b_est, int_str(bld.number), "幢")),
            "estate_code": str_column(take_str(list(areas.est_code), bld.blk)),
            "use": str_column(bld.use),
            "floors": bld.floors,
            "units": bld.units,
        }
    )
    building = gpd.GeoDataFrame(bld_df, geometry=shapely.polygons(lonlat(bld.ring)), crs=WGS84)

    # ---- households
    hh, res, ids = population.households, population.residents, population.identities
    nh = len(hh.blk)
    hh_order = np.lexsort((hh.room, hh.unit, hh.bld))
    if not np.array_equal(hh_order, np.arange(nh)):
        raise RuntimeError("households are expected in building order")
    household = pd.DataFrame(
        {
            "id": np.arange(1, nh + 1, dtype=np.int64),
            "building_id": hh.bld.astype(np.int64) + 1,
            "unit": hh.unit.astype(np.int64),
            "room": str_column(int_str(hh.room)),
            "size": res.household_size.astype(np.int64),
        }
    )

    # ---- residents
    nr = len(res.hh)
    resident = pd.DataFrame(
        {
            "id": np.arange(1, nr + 1, dtype=np.int64),
            "household_id": res.hh.astype(np.int64) + 1,
            "birth_year": res.birth.astype("datetime64[Y]").astype(np.int64) + 1970,
            "sex": str_column(pc.if_else(pa.array(res.male), "M", "F")),
            "living_alone_elderly": res.alone,
            "disabled": res.disabled,
            "mobility_impaired": res.mobility,
            "low_income": res.low,
            "name": str_column(ids.name),
            "id_number": str_column(ids.id_number),
            "phone": str_column(ids.phone),
        }
    )
    return building, household, resident


def facility_frames(
    layout: Layout, facilities: Facilities, areas: Areas
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The facility layer, and the shelter layer with each shelter's responsibility zone."""
    fac = facilities
    comm_place, comm_name, school_name = areas.comm_place, areas.comm_name, areas.school_name
    comm_poly = areas.comm_poly
    nf = len(fac.blk)
    fcomm = fac.blk // 9
    kinds = fac.kind
    fname = []
    for i in range(nf):
        place = comm_place[fcomm[i]]
        kind = kinds[i]
        if kind == "community_centre":
            fname.append(f"{comm_name[fcomm[i]]}党群服务中心")
        elif kind == "clinic":
            fname.append(f"{comm_name[fcomm[i]]}卫生服务站")
        elif kind == "elder_care":
            fname.append(f"{comm_name[fcomm[i]]}居家养老服务照料中心")
        elif kind == "park":
            fname.append(f"{place}公园")
        elif kind == "school":
            fname.append(school_name[fac.blk[i]])
        elif fac.shelter_class[i] == "emergency":
            fname.append(f"{place}公园紧急避难场所")
        else:
            fname.append(f"{school_name[fac.blk[i]]}固定避难场所")
    fac_df = pd.DataFrame(
        {
            "id": np.arange(1, nf + 1, dtype=np.int64),
            "kind": str_column(kinds),
            "name": str_column(fname),
            "capacity": fac.capacity.astype(np.int64),
        }
    )
    fac_xy = lonlat(fac.xy)
    facility = gpd.GeoDataFrame(fac_df, geometry=shapely.points(fac_xy), crs=WGS84)
    sh = np.flatnonzero(kinds == "shelter")
    zone_poly = np.empty(len(sh), dtype=object)
    zones = fac.zone[sh].astype(np.int64)
    for i, z in enumerate(zones):
        if z >= 0:
            zone_poly[i] = comm_poly[z]
        else:
            zone_poly[i] = shapely.coverage_union_all(comm_poly[layout.comm_zone == -1 - z])
    shelter = gpd.GeoDataFrame(
        {
            "facility_id": (sh + 1).astype(np.int64),
            "shelter_class": str_column(fac.shelter_class[sh]),
            "area_m2": fac.area_m2[sh].astype(float),
            "occupancy": np.zeros(len(sh), dtype=np.int64),
        },
        geometry=multi(zone_poly),
        crs=WGS84,
    )
    return facility, shelter


#: Half the side of a park's green square, and the radius of its pond, metres.
PARK_HALF_SIDE_M = 45.0
POND_RADIUS_M = 18.0


def map_area_frame(facility: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Green squares around the parks (and park shelters), a pond in every other park.

    The basemap's water and green areas (``map_area``), drawn from the register's parks:
    a square of :data:`PARK_HALF_SIDE_M` around each, named after it, and a round pond
    named ``…湖`` in every second one.
    """
    parks = facility[
        (facility["kind"] == "park") | facility["name"].str.endswith("公园紧急避难场所")
    ]
    # a park and the shelter in it are one place: one square
    parks = parks[~parks["name"].str.replace("紧急避难场所", "").duplicated()]
    metric = parks.to_crs(parks.estimate_utm_crs()) if len(parks) else parks
    xy = shapely.get_coordinates(metric.geometry.to_numpy()) if len(parks) else np.zeros((0, 2))
    half = PARK_HALF_SIDE_M
    greens = shapely.box(xy[:, 0] - half, xy[:, 1] - half, xy[:, 0] + half, xy[:, 1] + half)
    names = parks["name"].str.replace("紧急避难场所", "", regex=False).to_numpy()
    ponds = np.arange(len(parks)) % 2 == 0
    water = shapely.buffer(shapely.points(xy[ponds] + [half / 3, -half / 3]), POND_RADIUS_M)
    frame = gpd.GeoDataFrame(
        {
            "kind": ["green"] * len(parks) + ["water"] * int(ponds.sum()),
            "name": [*names, *(f"{n.removesuffix('公园')}湖" for n in names[ponds])],
        },
        geometry=np.concatenate([greens, water]) if len(parks) else [],
        crs=metric.crs if len(parks) else WGS84,
    )
    return frame.to_crs(WGS84)


def road_frames(roads: Roads) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The road nodes and edges, with lengths on the WGS84 ellipsoid."""
    node_ll = lonlat(roads.nodes)
    src, dst = roads.src, roads.dst
    road_node = gpd.GeoDataFrame(
        {"id": np.arange(1, len(node_ll) + 1, dtype=np.int64)},
        geometry=shapely.points(node_ll),
        crs=WGS84,
    )
    seg = np.stack([node_ll[src], node_ll[dst]], axis=1)
    _, _, length = Geod(ellps="WGS84").inv(seg[:, 0, 0], seg[:, 0, 1], seg[:, 1, 0], seg[:, 1, 1])
    cls = roads.road_class
    named = roads.name_idx >= 0
    names = pc.if_else(
        pa.array(named),
        take_str(roads.names, np.maximum(roads.name_idx, 0)),
        pa.scalar(None, pa.string()),
    )
    road_edge = gpd.GeoDataFrame(
        {
            "id": np.arange(1, len(src) + 1, dtype=np.int64),
            "source": src.astype(np.int64) + 1,
            "target": dst.astype(np.int64) + 1,
            "name": str_column(names),
            "road_class": str_column(cls),
            "length_m": np.asarray(length, dtype=float),
            "walkable": np.ones(len(src), dtype=bool),
            "drivable": np.ones(len(src), dtype=bool),
            "oneway": roads.oneway,
            "walk_speed_mps": np.full(len(src), 1.2),
            "drive_speed_kmh": np.select([cls == "arterial", cls == "branch"], [50.0, 30.0], 15.0),
        },
        geometry=shapely.linestrings(seg),
        crs=WGS84,
    )
    return road_node, road_edge
