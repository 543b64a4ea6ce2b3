"""Two street offices in one deployment import their registers with the same ids (#20).

Each office numbers its buildings and households its own way, and two offices may well
both have a 楼栋 ``B01`` and a 户 ``H01``.  With ``--area`` each office's import matches
its own records only, keeps them inside its own area, and ``--replace`` removes its own
records, never the other office's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
from shapely import box

from api.services.registry_io import ImportOptions, import_file, import_grids_file
from etl.imports.problems import ImportRejected
from tests.api.test_registry_cli import counts, ok, refused
from tests.conftest import LiveServer, empty_database, run_wangge
from tests.mvt import tile_of

DISTRICT = "330106"
#: two streets side by side, one community and one grid each: (street, community, box)
OFFICES = {
    "A": ("330106109", "330106109001", (120.080, 30.310, 120.090, 30.320)),
    "B": ("330106110", "330106110001", (120.095, 30.310, 120.105, 30.320)),
}


def _buildings(path: Path, bounds: tuple[float, ...], refs: list[str]) -> Path:
    w, s, _, _ = bounds
    gpd.GeoDataFrame(
        {
            "楼栋编号": refs,
            "名称": [f"{i + 1}幢" for i in range(len(refs))],
            "层数": [6] * len(refs),
        },
        geometry=[
            box(w + 0.001 * (i + 1), s + 0.001, w + 0.001 * (i + 1) + 0.0004, s + 0.0014)
            for i in range(len(refs))
        ],
        crs=4326,
    ).to_file(path, driver="GeoJSON")
    return path


def _households(path: Path, rows: list[tuple[str, str, int]]) -> Path:
    """Households (户编号, 楼栋编号, 人数) in unit 1, rooms 101, 102 …"""
    pd.DataFrame(
        {
            "户编号": [r[0] for r in rows],
            "楼栋编号": [r[1] for r in rows],
            "单元": [1] * len(rows),
            "室": [str(101 + i) for i in range(len(rows))],
            "人数": [r[2] for r in rows],
        }
    ).to_excel(path, index=False)
    return path


@pytest.fixture(scope="module")
def offices(engine: Engine, tmp_path_factory) -> Path:
    """Boundaries and grids of both offices, and each office's buildings B01, B02."""
    empty_database(engine)
    tmp = tmp_path_factory.mktemp("offices")
    rows = [(DISTRICT, "西湖区", "区", box(120.07, 30.30, 120.115, 30.33))]
    for name, (street, community, bounds) in OFFICES.items():
        rows.append((street, f"{name}街道", "街道", box(*bounds)))
        rows.append((community, f"{name}社区", "社区", box(*bounds)))
    gpd.GeoDataFrame(
        {
            "adcode": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "level": [r[2] for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs=4326,
    ).to_file(tmp / "areas.geojson", driver="GeoJSON")
    _service(engine, "areas", tmp / "areas.geojson")
    gpd.GeoDataFrame(
        {"WGBM": [f"{c}001" for _, c, _ in OFFICES.values()], "WGMC": ["A1", "B1"]},
        geometry=[box(*b) for _, _, b in OFFICES.values()],
        crs=4326,
    ).to_file(tmp / "grids.geojson", driver="GeoJSON")
    import_grids_file(engine, tmp / "grids.geojson", ImportOptions())
    for name, (street, _, bounds) in OFFICES.items():
        path = _buildings(tmp / f"b_{name}.geojson", bounds, ["B01", "B02"])
        _service(engine, "buildings", path, street)
    return tmp


@pytest.fixture()
def no_households(offices: Path, engine: Engine) -> Path:
    """Both offices without households: each test starts from its own state."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM household"))
    return offices


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _service(engine: Engine, kind: str, path: Path, area: str | None = None, **options):
    """An import as the CLI makes it, without starting a process (the CLI is tested below)."""
    return import_file(engine, kind, path, ImportOptions(area=area, **options))


def _import(database_url: str, kind: str, path: Path, office: str, *extra: str):
    return run_wangge(database_url, "import", kind, str(path), "--area", OFFICES[office][0], *extra)


def test_each_office_keeps_its_own_records_under_the_same_ids(
    no_households: Path, engine: Engine
) -> None:
    for name in OFFICES:
        path = _households(no_households / f"h_{name}.xlsx", [("H01", "B01", 3), ("H02", "B02", 2)])
        assert _service(engine, "households", path, OFFICES[name][0]).added == 2
    found = _rows(
        engine,
        "SELECT a.code, h.ref, b.ref, g.code FROM household h "
        "JOIN admin_area a ON a.id = h.office_id JOIN building b ON b.id = h.building_id "
        "JOIN grid g ON g.id = h.grid_id ORDER BY 1, 2",
    )
    a, b = (OFFICES[n][0] for n in "AB")
    ca, cb = (f"{OFFICES[n][1]}001" for n in "AB")
    # each household in its own office's building B01/B02, in its own office's grid
    assert found == [
        (a, "H01", "B01", ca),
        (a, "H02", "B02", ca),
        (b, "H01", "B01", cb),
        (b, "H02", "B02", cb),
    ]
    # the same file again changes nothing
    again = _service(engine, "households", no_households / "h_A.xlsx", OFFICES["A"][0])
    assert (again.added, again.changed, again.unchanged, again.removed) == (0, 0, 2, 0)


def test_replace_removes_only_the_offices_own_records(
    no_households: Path, engine: Engine, database_url: str
) -> None:
    for name in OFFICES:
        path = _households(no_households / f"r_{name}.xlsx", [("H01", "B01", 3), ("H02", "B02", 2)])
        _service(engine, "households", path, OFFICES[name][0], replace=True)
    # office A's new register: H02 moved out, H03 is new, H01 has one more person
    path = _households(no_households / "r_A2.xlsx", [("H01", "B01", 4), ("H03", "B02", 1)])
    out = ok(_import(database_url, "households", path, "A", "--replace"))
    assert counts(1, 1, 0, 1, 0) in out  # added, changed, unchanged, removed, rejected
    by_office = _rows(
        engine,
        "SELECT a.code, h.ref, h.size FROM household h JOIN admin_area a ON a.id = h.office_id "
        "ORDER BY 1, 2",
    )
    a, b = (OFFICES[n][0] for n in "AB")
    assert by_office == [(a, "H01", 4), (a, "H03", 1), (b, "H01", 3), (b, "H02", 2)]


def test_an_office_cannot_place_records_outside_its_area(
    offices: Path, engine: Engine, database_url: str
) -> None:
    before = _rows(engine, "SELECT count(*) FROM building")
    # office A's file holds a building that lies in office B's street
    path = _buildings(offices / "stray.geojson", OFFICES["B"][2], ["B09"])
    with pytest.raises(ImportRejected) as refusal:
        _service(engine, "buildings", path, OFFICES["A"][0])
    assert "outside the service area (the boundaries of A街道 + 300 m" in str(refusal.value)
    assert _rows(engine, "SELECT count(*) FROM building") == before
    # and an area code nobody loaded is named as such, nothing stored
    message = refused(
        run_wangge(database_url, "import", "buildings", str(path), "--area", "330106999")
    )
    assert "330106999" in message and "wangge areas import" in message
    assert _rows(engine, "SELECT count(*) FROM building") == before


def test_the_admins_desk_imports_into_the_office_it_names(
    no_households: Path, engine: Engine
) -> None:
    from api.services import import_desk
    from gis.settings import get_settings
    from grids.access import Principal

    for name in OFFICES:
        path = _households(no_households / f"d_{name}.xlsx", [("H01", "B01", 3)])
        _service(engine, "households", path, OFFICES[name][0])
    admin = Principal(
        user_id=1, username="desk-admin", display_name="管理员", role="admin", grid_ids=None
    )
    upload = _households(no_households / "d_B2.xlsx", [("H01", "B01", 5)]).read_bytes()
    settings = get_settings()
    report = import_desk.dry_run(
        engine, settings, admin, "households", "住户.xlsx", upload, area=OFFICES["B"][0]
    )
    assert report.refused is None and report.summary is not None
    assert (report.summary.added, report.summary.changed) == (0, 1)
    done = import_desk.confirm(engine, settings, admin, report.key)
    assert done.summary is not None and done.summary.changed == 1
    sizes = _rows(
        engine,
        "SELECT a.code, h.size FROM household h JOIN admin_area a ON a.id = h.office_id ORDER BY 1",
    )
    assert sizes == [(OFFICES["A"][0], 3), (OFFICES["B"][0], 5)]  # A's H01 untouched


# ----------------------------------------------------------------------------- roads

#: OSM ways by id: (lon, lat) points along latitude 30.315; A's roads, B's, one between
WAYS = {
    100: [(120.082, 30.315), (120.085, 30.315), (120.088, 30.315)],  # in A
    300: [(120.088, 30.315), (120.0925, 30.315), (120.097, 30.315)],  # from A into B
    200: [(120.097, 30.315), (120.100, 30.315), (120.103, 30.315)],  # in B
    101: [(120.085, 30.315), (120.085, 30.318)],  # in A, new in A's second extract
}
#: a building (closed way) where both offices' areas + 300 m overlap: in both extracts
BUILDING = (
    400,
    [(120.0922, 30.3155), (120.0926, 30.3155), (120.0926, 30.3158), (120.0922, 30.3155)],
)


def _osm(path: Path, ways: list[int], assembly_point: tuple[float, float] | None = None) -> Path:
    """An OSM extract of ``ways`` (residential streets): a shared point is one OSM node.

    ``assembly_point``: a node tagged ``emergency=assembly_point`` (a candidate shelter) there.
    """
    shapes = {**WAYS, BUILDING[0]: BUILDING[1]}
    nodes: dict[tuple[float, float], int] = {}
    for way in sorted(shapes):
        for point in shapes[way]:
            nodes.setdefault(point, 1000 + len(nodes))
    used = {nodes[p] for w in ways for p in shapes[w]}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    lines += [
        f' <node id="{i}" lat="{lat}" lon="{lon}" version="1"/>'
        for (lon, lat), i in nodes.items()
        if i in used
    ]
    if assembly_point is not None:
        lon, lat = assembly_point
        lines.append(
            f' <node id="9" lat="{lat}" lon="{lon}" version="1">'
            '<tag k="emergency" v="assembly_point"/><tag k="name" v="广场"/></node>'
        )
    for way in sorted(ways):  # OSM files hold their ways in id order
        refs = "".join(f'<nd ref="{nodes[p]}"/>' for p in shapes[way])
        tag = (
            '<tag k="building" v="yes"/>'
            if way == BUILDING[0]
            else ('<tag k="highway" v="residential"/>')
        )
        lines.append(f' <way id="{way}" version="1">{refs}{tag}</way>')
    path.write_text("\n".join([*lines, "</osm>"]), encoding="utf-8")
    return path


@pytest.fixture()
def no_roads(offices: Path, engine: Engine) -> Iterator[Path]:
    """Both offices without a road network, and none left behind for the other tests."""

    def clear() -> None:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE road_edge, road_node, map_area"))

    clear()
    yield offices
    clear()


def _ways(engine: Engine) -> list[int]:
    """The OSM ways the stored network holds (a road edge's id is its way's × 4096 + piece)."""
    return [r[0] for r in _rows(engine, "SELECT DISTINCT id / 4096 FROM road_edge ORDER BY 1")]


def test_each_office_s_extract_replaces_only_its_own_roads_and_they_meet(
    no_roads: Path, engine: Engine, database_url: str
) -> None:
    from api.services.network import stored_network
    from api.services.registry_io import import_osm

    # each office's extract holds the whole stretch: only what meets its area is taken
    everything = _osm(no_roads / "all.osm", [100, 300, 200, BUILDING[0]])
    import_osm(engine, everything, ImportOptions(area=OFFICES["A"][0]))
    assert _ways(engine) == [100, 300]
    # B's extract holds the building A's brought (OSM's, no office's): matched, not refused
    out = ok(_import(database_url, "osm", everything, "B"))
    assert _ways(engine) == [100, 200, 300]
    osm_building = "SELECT ref, office_id FROM building WHERE ref LIKE 'osm:%'"
    assert _rows(engine, osm_building) == [("osm:w400", None)]
    # one network: A's streets and B's meet at the OSM node the way between them shares
    network = stored_network(engine)
    assert network is not None and network.dropped.nodes == 0
    assert network.n_nodes == len(_rows(engine, "SELECT id FROM road_node")) == 4
    # A's new extract: way 100 is gone, 101 is new; B's street stays as it was
    b_before = _rows(engine, "SELECT id, ST_AsText(geom) FROM road_edge WHERE id / 4096 = 200")
    import_osm(engine, _osm(no_roads / "a2.osm", [101, 300]), ImportOptions(area=OFFICES["A"][0]))
    assert _ways(engine) == [101, 200, 300]
    assert _rows(engine, "SELECT id, ST_AsText(geom) FROM road_edge WHERE id / 4096 = 200") == (
        b_before
    )
    assert "road" in out.lower()


def test_a_dry_run_or_a_refused_extract_changes_no_road(
    no_roads: Path, engine: Engine, database_url: str
) -> None:
    from api.services.registry_io import import_osm

    import_osm(engine, _osm(no_roads / "a.osm", [100, 300]), ImportOptions(area=OFFICES["A"][0]))
    before = _rows(engine, "SELECT id FROM road_edge ORDER BY 1")
    ok(_import(database_url, "osm", _osm(no_roads / "a3.osm", [101]), "A", "--dry-run"))
    ok(run_wangge(database_url, "import", "osm", str(no_roads / "a3.osm"), "--dry-run"))
    assert _rows(engine, "SELECT id FROM road_edge ORDER BY 1") == before
    # a shelter of the file outside A's area, all or nothing: refused, and its roads with it
    outside = _osm(no_roads / "a4.osm", [101], assembly_point=(120.103, 30.318))
    with pytest.raises(ImportRejected, match="outside the service area"):
        import_osm(engine, outside, ImportOptions(area=OFFICES["A"][0], on_error="abort"))
    assert _rows(engine, "SELECT id FROM road_edge ORDER BY 1") == before


#: layers drawn from the offices' records: per building, and per grid (people counts)
TILE_LAYERS = ("buildings", "grids")


def _tile(server: LiveServer, layer: str, z: int, xy: tuple[int, int], etag: str | None = None):
    headers = {"If-None-Match": etag} if etag else {}
    x, y = xy
    return httpx.get(f"{server.url}/tiles/{layer}/{z}/{x}/{y}.pbf", headers=headers, timeout=60)


def test_an_offices_import_leaves_the_other_offices_tiles_as_they_were(
    no_households: Path, engine: Engine, live_server: LiveServer
) -> None:
    z = 18
    # the server reads the versions at most once a second: the tags below must be drawn
    # at the state now, not at one a test before this left (no_households deleted some)
    time.sleep(1.2)
    # a tile on each office's building B02 (far enough from the other office's area)
    tiles = {}
    for name in OFFICES:
        lon, lat = _rows(
            engine,
            "SELECT ST_X(ST_Centroid(b.geom)), ST_Y(ST_Centroid(b.geom)) FROM building b "
            f"JOIN admin_area a ON a.id = b.office_id WHERE a.code = '{OFFICES[name][0]}' "
            "AND b.ref = 'B02'",
        )[0]
        tiles[name] = tile_of(lon, lat, z)
    tags = {
        (layer, name): _tile(live_server, layer, z, xy).headers["etag"]
        for layer in TILE_LAYERS
        for name, xy in tiles.items()
    }
    path = _households(no_households / "t_A.xlsx", [("H01", "B01", 3), ("H02", "B02", 2)])
    assert _service(engine, "households", path, OFFICES["A"][0]).added == 2
    time.sleep(1.2)  # the server reads the versions again at most once a second
    for layer in TILE_LAYERS:
        assert _tile(live_server, layer, z, tiles["B"], tags[layer, "B"]).status_code == 304
        moved = _tile(live_server, layer, z, tiles["A"], tags[layer, "A"])
        assert moved.status_code == 200 and moved.headers["etag"] != tags[layer, "A"], layer
        tags[layer, "A"] = moved.headers["etag"]
    # a household of no office (in an OpenStreetMap building far from both) moves every tile
    with engine.begin() as conn:
        conn.execute(
            text(
                "WITH b AS (INSERT INTO building (ref, floors, geom) VALUES ('osm:w1', 2, "
                "ST_Multi(ST_MakeEnvelope(120.071, 30.329, 120.0712, 30.3292, 4326))) "
                "RETURNING id) INSERT INTO household (building_id, unit, room, size) "
                "SELECT id, 1, '101', 2 FROM b"
            )
        )
    try:
        time.sleep(1.2)
        for (layer, name), tag in tags.items():
            again = _tile(live_server, layer, z, tiles[name], tag)
            assert again.status_code == 200 and again.headers["etag"] != tag, (layer, name)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM building WHERE ref = 'osm:w1'"))  # its household too


def test_a_resident_moving_in_at_the_desk_belongs_to_the_household_s_office(
    no_households: Path, engine: Engine
) -> None:
    from api.services.registry import move_in
    from gis.clock import now
    from gis.store.registry_store import NewResident
    from grids.access import Principal

    path = _households(no_households / "m_B.xlsx", [("H01", "B01", 1)])
    _service(engine, "households", path, OFFICES["B"][0])
    (household,) = _rows(engine, "SELECT id FROM household")
    admin = Principal(
        user_id=1, username="desk", display_name="管理员", role="admin", grid_ids=None
    )
    person = NewResident(name="王芳", sex="F", birth_year=now().year - 40)
    resident = move_in(engine, admin, household[0], person)
    # B's: its versions move, not every office's; B's --replace of residents reaches it
    assert _rows(
        engine,
        f"SELECT a.code FROM resident r JOIN admin_area a ON a.id = r.office_id "
        f"WHERE r.id = {resident}",
    ) == [(OFFICES["B"][0],)]


def test_a_tile_drawn_while_a_change_is_uncommitted_is_drawn_again_once_it_is(
    no_households: Path, engine: Engine, live_server: LiveServer
) -> None:
    # a household's statement moves the version before its transaction commits: a tile
    # drawn in between shows the old rows, and must not be what is served after the commit
    (lon, lat), z = (
        _rows(
            engine,
            "SELECT ST_X(ST_Centroid(b.geom)), ST_Y(ST_Centroid(b.geom)) FROM building b "
            f"JOIN admin_area a ON a.id = b.office_id WHERE a.code = '{OFFICES['B'][0]}' "
            "AND b.ref = 'B02'",
        )[0],
        18,
    )
    xy = tile_of(lon, lat, z)
    with engine.connect() as conn:
        writing = conn.begin()
        conn.execute(
            text(
                # six: counts below k (5) are not published
                "INSERT INTO household (building_id, office_id, ref, unit, room, size, grid_id, "
                "h3_cell) SELECT b.id, b.office_id, 'H7' || n, 1, '70' || n, 4, b.grid_id, "
                "b.h3_cell FROM building b "
                f"JOIN admin_area a ON a.id = b.office_id, generate_series(1, 6) n "
                f"WHERE a.code = '{OFFICES['B'][0]}' AND b.ref = 'B02'"
            )
        )
        time.sleep(1.2)  # the server reads the versions again at most once a second
        during = _tile(live_server, "grids", z, xy)
        assert during.status_code == 200
        writing.commit()
    time.sleep(1.2)
    after = _tile(live_server, "grids", z, xy, during.headers["etag"])
    assert after.status_code == 200 and after.headers["etag"] != during.headers["etag"]
    assert after.content != during.content  # the grid's count of households moved
