"""Vector tiles over HTTP, read back with GDAL's MVT driver: layers, counts below k left out,
ETag and 304 while the data stand still, a new tile when they move, and who may read what."""

from __future__ import annotations

import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis.store import grid_store
from gis.store.tile_store import BUILDINGS_MIN_ZOOM
from tests.conftest import LiveServer
from tests.mvt import read_tile, tile_of

pytestmark = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL (ogrinfo) missing")


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    community = layers["admin_area"].query("level == 'community'")["code"].iloc[0]
    w, s, e, n = grid_store.current_grids(engine).total_bounds
    return {
        "admin": issue_token(engine, "tiles_admin", "admin"),
        "staff": issue_token(engine, "tiles_staff", "community_staff", community),
        "resident": issue_token(engine, "tiles_resident", "resident"),
        "community": community,
        "centre": ((w + e) / 2, (s + n) / 2),
    }


def _get(server: LiveServer, layer: str, z: int, x: int, y: int, **params: str) -> httpx.Response:
    headers = {}
    if "etag" in params:
        headers["If-None-Match"] = params.pop("etag")
    if "token" in params:  # in the header: a token in the URL is refused (400)
        headers["Authorization"] = f"Bearer {params.pop('token')}"
    return httpx.get(
        f"{server.url}/tiles/{layer}/{z}/{x}/{y}.pbf", params=params, headers=headers, timeout=60
    )


def test_grid_tiles_hold_the_grids_with_their_counts(
    district: dict, engine: Engine, live_server: LiveServer, tmp_path: Path
) -> None:
    z = 14
    x, y = tile_of(*district["centre"], z)
    r = _get(live_server, "grids", z, x, y)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert r.headers["cache-control"].startswith("public")
    features = read_tile(r.content, tmp_path, z, x, y)
    with engine.connect() as conn:
        expected = dict(
            conn.execute(
                text(
                    "SELECT g.code, count(h.id) FROM grid g LEFT JOIN household h "
                    "ON h.grid_id = g.id WHERE g.valid_to IS NULL GROUP BY g.code"
                )
            ).all()
        )
    got = {f["code"]: int(f["households"]) for f in features["grids"]}
    assert got and all(expected[code] == n for code, n in got.items())
    assert "grid_labels" not in features  # code labels from zoom 15 only
    z15 = tile_of(*district["centre"], 15)
    labels = read_tile(_get(live_server, "grids", 15, *z15).content, tmp_path, 15, *z15)
    assert {f["code"] for f in labels["grid_labels"]} <= set(expected)


def test_buildings_start_at_their_minimum_zoom(
    district: dict, engine: Engine, live_server: LiveServer, tmp_path: Path
) -> None:
    with engine.connect() as conn:
        stored = {str(r[0]) for r in conn.execute(text("SELECT id FROM building"))}
    z = BUILDINGS_MIN_ZOOM
    x, y = tile_of(*district["centre"], z)
    at_min = read_tile(_get(live_server, "buildings", z, x, y).content, tmp_path, z, x, y)
    ids = {f["id"] for f in at_min["buildings"]}
    assert ids and ids <= stored
    # one zoom out, over the same place: an empty tile, answered as any other
    below = _get(live_server, "buildings", z - 1, x // 2, y // 2)
    assert below.status_code == 200 and below.content == b""
    assert below.headers["content-type"] == "application/vnd.mapbox-vector-tile"


def test_basemap_tiles_carry_streets_with_their_names(
    district: dict, engine: Engine, live_server: LiveServer, tmp_path: Path
) -> None:
    z = 16
    x, y = tile_of(*district["centre"], z)
    features = read_tile(_get(live_server, "basemap", z, x, y).content, tmp_path, z, x, y)
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT DISTINCT name FROM road_edge"))}
    assert {"road", "road_label", "building"} <= set(features)
    labelled = {f["name"] for f in features["road_label"]}
    assert labelled and labelled <= names
    assert any("路" in n or "街" in n for n in labelled)


def test_etag_answers_304_until_the_data_move(
    district: dict, engine: Engine, live_server: LiveServer, tmp_path: Path
) -> None:
    z = 16
    with engine.connect() as conn:
        bid, lon, lat = conn.execute(
            text(
                "SELECT b.id, ST_X(ST_PointOnSurface(b.geom)), ST_Y(ST_PointOnSurface(b.geom)) "
                "FROM building b JOIN household h ON h.building_id = b.id "
                "GROUP BY b.id HAVING count(*) > 8 ORDER BY b.id LIMIT 1"
            )
        ).one()
    x, y = tile_of(lon, lat, z)
    first = _get(live_server, "buildings", z, x, y)
    tag = first.headers["etag"]
    assert _get(live_server, "buildings", z, x, y, etag=tag).status_code == 304

    def households_of(body: bytes) -> str | None:
        rows = read_tile(body, tmp_path / str(time.monotonic_ns()), z, x, y)["buildings"]
        return next(f.get("households") for f in rows if f["id"] == str(bid))

    before = households_of(first.content)
    assert before is not None and int(before) > 8
    # all but three households move out: a count below k (5) is left out of the tile
    with engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM household WHERE id IN (SELECT id FROM household "
                "WHERE building_id = :b ORDER BY id OFFSET 3)"
            ),
            {"b": bid},
        )
    time.sleep(1.2)  # versions are read again at most once a second
    again = _get(live_server, "buildings", z, x, y, etag=tag)
    assert again.status_code == 200 and again.headers["etag"] != tag
    assert households_of(again.content) is None


def test_public_and_staff_layers(
    district: dict, engine: Engine, live_server: LiveServer, tmp_path: Path
) -> None:
    z = 15
    x, y = tile_of(*district["centre"], z)
    assert _get(live_server, "incidents", z, x, y).status_code == 401
    in_url = httpx.get(
        f"{live_server.url}/tiles/incidents/{z}/{x}/{y}.pbf",
        params={"api_key": district["admin"]},
        timeout=60,
    )
    assert in_url.status_code == 400 and in_url.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert _get(live_server, "incidents", z, x, y, token=district["resident"]).status_code == 403
    everything = _get(live_server, "incidents", z, x, y, token=district["admin"])
    theirs = _get(live_server, "incidents", z, x, y, token=district["staff"])
    assert everything.status_code == theirs.status_code == 200
    assert theirs.headers["cache-control"] == "private, no-cache"
    with engine.connect() as conn:
        own = {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT g.code FROM grid g JOIN admin_area a ON a.id = g.community_id "
                    "WHERE a.code = :c"
                ),
                {"c": district["community"]},
            )
        }
    assert {
        p["grid"] for p in read_tile(theirs.content, tmp_path / "s", z, x, y).get("incidents", [])
    } <= own
    # an open incident of another community: the admin's tile shows it, the staff's not
    with engine.connect() as conn:
        other, lon, lat = conn.execute(
            text(
                "SELECT i.id, ST_X(i.geom), ST_Y(i.geom) FROM incident i JOIN grid g "
                "ON g.id = i.grid_id JOIN admin_area a ON a.id = g.community_id "
                "WHERE a.code <> :c AND i.state NOT IN ('closed', 'rated', 'rejected') "
                "ORDER BY i.id LIMIT 1"
            ),
            {"c": district["community"]},
        ).one()
    x, y = tile_of(lon, lat, z)
    ids = {}
    for who in ("admin", "staff"):
        body = _get(live_server, "incidents", z, x, y, token=district[who]).content
        rows = read_tile(body, tmp_path / who, z, x, y).get("incidents", [])
        ids[who] = {int(p["id"]) for p in rows}
    assert other in ids["admin"] and other not in ids["staff"]
    # zoomed out: counts per H3 cell, district-wide
    x12, y12 = tile_of(*district["centre"], 12)
    cells = read_tile(
        _get(live_server, "incidents", 12, x12, y12, token=district["staff"]).content,
        tmp_path / "c",
        12,
        x12,
        y12,
    )["incidents"]
    assert cells and all(int(c["incidents"]) > 0 for c in cells)


def test_h3_counts_below_k_are_left_out(
    district: dict, live_server: LiveServer, tmp_path: Path
) -> None:
    z = 16
    x, y = tile_of(*district["centre"], z)
    cells = read_tile(_get(live_server, "h3", z, x, y).content, tmp_path, z, x, y)["h3"]
    assert cells
    for cell in cells:
        for key in ("households", "residents", "vulnerable"):
            if key in cell:
                assert int(cell[key]) == 0 or int(cell[key]) >= 5


def test_h3_tiles_count_the_people_of_each_cell(
    district: dict, engine: Engine, live_server: LiveServer, tmp_path: Path
) -> None:
    """Each cell's households, residents and vulnerable residents, as counted from the rows."""
    with engine.connect() as conn:
        households = dict(
            conn.execute(text("SELECT id, h3_cell FROM household WHERE h3_cell IS NOT NULL")).all()
        )
        residents = conn.execute(
            text(
                "SELECT household_id, living_alone_elderly OR disabled OR mobility_impaired "
                "FROM resident"
            )
        ).all()
    expected: dict[str, Counter] = defaultdict(Counter)
    for cell in households.values():
        expected[format(cell, "x")]["households"] += 1
    for household_id, vulnerable in residents:
        if household_id in households:
            counts = expected[format(households[household_id], "x")]
            counts["residents"] += 1
            counts["vulnerable"] += int(vulnerable)
    z = 16  # the stored resolution's cells, not their parents
    x, y = tile_of(*district["centre"], z)
    cells = read_tile(_get(live_server, "h3", z, x, y).content, tmp_path, z, x, y)["h3"]
    assert cells
    compared = 0
    for cell in cells:
        for key in ("households", "residents", "vulnerable"):
            if key in cell:  # below k left out (the test above)
                assert int(cell[key]) == expected[cell["cell"]][key], (cell, key)
                compared += 1
    assert compared >= len(cells)


def test_bad_tiles_are_refused(live_server: LiveServer) -> None:
    assert _get(live_server, "grids", 3, 9, 0).status_code == 422
    assert _get(live_server, "nope", 3, 1, 1).status_code == 422
    assert _get(live_server, "grids", 30, 1, 1).status_code == 422
