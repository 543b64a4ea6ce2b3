"""OGC API — Features and Tiles read with GDAL's OAPIF driver (a client nobody here wrote):
the public collections for anyone, the staff ones with a token, whole collections copied to
a GeoPackage with the database's rows and geometries, paging, bbox, datetime and property
filters, incidents limited to the caller's area, and no personal column anywhere."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
import shapely

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from tests.conftest import LiveServer
from tests.mvt import read_tile, tile_of

pytestmark = pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="GDAL missing")

PERSONAL = {"id_number", "phone", "description", "reporter_id", "address", "birth_year"}


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    community = layers["admin_area"].query("level == 'community'")["code"].iloc[0]
    return {
        "admin": issue_token(engine, "ogc_admin", "admin"),
        "staff": issue_token(engine, "ogc_staff", "community_staff", community),
        "worker_less": issue_token(engine, "ogc_resident", "resident"),
        "community": community,
    }


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def _gdal(*args: str, token: str | None = None) -> str:
    """Run a GDAL tool; the token goes as a header (GDAL_HTTP_HEADERS), never in the URL."""
    cmd = list(args)
    if token is not None:
        cmd += ["--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}"]
    run = _run(cmd)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_gdal_signs_in_with_a_header_never_with_a_token_in_the_url(
    district: dict, live_server: LiveServer, tmp_path: Path
) -> None:
    url = f"{live_server.url}/ogc"
    in_url = _run(["ogrinfo", "-ro", "-so", f"OAPIF:{url}?api_key={district['staff']}"])
    assert in_url.returncode != 0 and "public.pub_incident" not in in_url.stdout
    # the header from a file keeps the token out of the process list
    headers = tmp_path / "headers.txt"
    headers.write_text(f"Authorization: Bearer {district['staff']}\n", encoding="utf-8")
    from_file = _run(
        ["ogrinfo", "-ro", "-so", "--config", "GDAL_HTTP_HEADER_FILE", str(headers), f"OAPIF:{url}"]
    )
    assert from_file.returncode == 0, from_file.stderr
    assert "public.pub_incident" in from_file.stdout


def test_ogrinfo_lists_the_public_collections_to_anyone(
    district: dict, live_server: LiveServer
) -> None:
    out = _gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server.url}/ogc")
    for name in ("pub_grid", "pub_building", "pub_shelter", "pub_road", "pub_map_area"):
        assert f"public.{name}" in out
    assert "pub_incident" not in out and "pub_hazard" not in out
    staff = _gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server.url}/ogc", token=district["staff"])
    assert "public.pub_incident" in staff and "public.pub_hazard" in staff
    r = httpx.get(f"{live_server.url}/ogc/collections/public.pub_incident/items", timeout=60)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("collection", "table"),
    [("pub_building", "building"), ("pub_grid", "grid WHERE valid_to IS NULL")],
)
def test_ogr2ogr_copies_a_whole_collection(
    district: dict,
    engine: Engine,
    live_server: LiveServer,
    tmp_path: Path,
    collection: str,
    table: str,
) -> None:
    out = tmp_path / f"{collection}.gpkg"
    _gdal(
        "ogr2ogr",
        "-f",
        "GPKG",
        str(out),
        f"OAPIF:{live_server.url}/ogc",
        f"public.{collection}",
        "-nln",
        collection,
    )
    copied = gpd.read_file(out, layer=collection).set_index("id").sort_index()
    with engine.connect() as conn:
        stored = gpd.read_postgis(
            f"SELECT id, geom FROM {table} ORDER BY id", conn, geom_col="geom", crs=4326
        ).set_index("id")
    assert len(copied) == len(stored) > 0
    assert (copied.index == stored.index).all()
    same = shapely.equals_exact(
        copied.geometry.to_numpy(), stored.geometry.to_numpy(), tolerance=1e-8
    )
    assert same.all()
    assert not PERSONAL & set(copied.columns)


def test_items_paging_and_filters(district: dict, engine: Engine, live_server: LiveServer) -> None:
    base = f"{live_server.url}/ogc/collections/public.pub_building/items"
    page = httpx.get(base, params={"limit": 10}, timeout=60).json()
    assert page["numberReturned"] == 10
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    second = httpx.get(nxt, timeout=60).json()
    assert {f["id"] for f in second["features"]}.isdisjoint({f["id"] for f in page["features"]})
    with engine.connect() as conn:
        w, s, e, n = conn.execute(
            text(
                "SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM "
                "(SELECT ST_Extent(geom)::geometry x FROM building) t"
            )
        ).one()
        box = (w, s, (w + e) / 2, (s + n) / 2)
        inside = conn.execute(
            text(
                "SELECT count(*) FROM building WHERE ST_Intersects(geom, "
                "ST_MakeEnvelope(:a, :b, :c, :d, 4326))"
            ),
            dict(zip("abcd", box, strict=True)),
        ).scalar_one()
        parks = conn.execute(text("SELECT count(*) FROM facility WHERE kind = 'park'")).scalar_one()
    got = httpx.get(
        base, params={"bbox": ",".join(map(str, box)), "limit": 1000}, timeout=60
    ).json()
    assert got["numberMatched"] == inside > 0
    facilities = httpx.get(
        f"{live_server.url}/ogc/collections/public.pub_facility/items",
        params={"kind": "park"},
        timeout=60,
    ).json()
    assert facilities["numberMatched"] == parks
    assert {f["properties"]["kind"] for f in facilities["features"]} == {"park"}


def test_each_feature_links_to_itself_and_its_collection(
    district: dict, live_server: LiveServer
) -> None:
    """The links of a page's features (written by template, api.ogc_links) lead where they say."""
    collection = f"{live_server.url}/ogc/collections/public.pub_building"
    page = httpx.get(f"{collection}/items", params={"limit": 50}, timeout=60).json()
    assert page["numberReturned"] == 50
    for feature in page["features"]:
        links = {link["rel"]: link["href"] for link in feature["links"]}
        assert links == {
            "collection": collection,
            "item": f"{collection}/items/{feature['id']}",
        }
    last = page["features"][-1]
    item = httpx.get(
        next(lk["href"] for lk in last["links"] if lk["rel"] == "item"), timeout=60
    ).json()
    assert item["id"] == last["id"]
    assert item["properties"] == last["properties"]


def test_incidents_by_time_and_area(
    district: dict, engine: Engine, live_server: LiveServer
) -> None:
    base = f"{live_server.url}/ogc/collections/public.pub_incident/items"
    with engine.connect() as conn:
        lo, hi = conn.execute(text("SELECT min(reported_at), max(reported_at) FROM incident")).one()
        mid = lo + (hi - lo) / 2
        before = conn.execute(
            text("SELECT count(*) FROM incident WHERE reported_at <= :m AND merged_into IS NULL"),
            {"m": mid},
        ).scalar_one()
        theirs = conn.execute(
            text(
                "SELECT count(*) FROM incident i JOIN grid g ON g.id = i.grid_id JOIN admin_area a"
                " ON a.id = g.community_id WHERE a.code = :c AND i.merged_into IS NULL"
            ),
            {"c": district["community"]},
        ).scalar_one()
    admin = {"Authorization": f"Bearer {district['admin']}"}
    window = f"../{mid.isoformat()}"
    got = httpx.get(base, params={"datetime": window, "limit": 1}, headers=admin, timeout=60)
    assert got.json()["numberMatched"] == before
    staff = {"Authorization": f"Bearer {district['staff']}"}
    mine = httpx.get(base, params={"limit": 1}, headers=staff, timeout=60).json()
    assert mine["numberMatched"] == theirs
    # a filter of their own is joined to the area, not put in its place
    cql = httpx.get(
        base, params={"filter": "state = 'closed'", "limit": 1}, headers=staff, timeout=60
    ).json()
    assert cql["numberMatched"] <= theirs
    props = mine["features"][0]["properties"]
    assert not PERSONAL & set(props)
    resident = {"Authorization": f"Bearer {district['worker_less']}"}
    assert httpx.get(base, headers=resident, timeout=60).status_code == 404


def test_counts_below_k_are_suppressed_in_the_views(
    district: dict, engine: Engine, live_server: LiveServer
) -> None:
    with engine.begin() as conn:
        bid = conn.execute(
            text(
                "SELECT building_id FROM household GROUP BY building_id HAVING count(*) > 5 "
                "ORDER BY building_id LIMIT 1"
            )
        ).scalar_one()
        conn.execute(
            text(
                "DELETE FROM household WHERE id IN (SELECT id FROM household "
                "WHERE building_id = :b ORDER BY id OFFSET 2)"
            ),
            {"b": bid},
        )
    item = httpx.get(
        f"{live_server.url}/ogc/collections/public.pub_building/items/{bid}", timeout=60
    ).json()
    assert item["properties"].get("households") is None  # 2 households: below k


def test_tiles_and_tile_matrix_sets(district: dict, live_server: LiveServer) -> None:
    tms = httpx.get(f"{live_server.url}/ogc/tileMatrixSets", timeout=60).json()
    assert "WebMercatorQuad" in json.dumps(tms)
    conformance = httpx.get(f"{live_server.url}/ogc/conformance", timeout=60).json()
    assert any("ogcapi-features-1/1.0/conf/core" in c for c in conformance["conformsTo"])
    assert any("ogcapi-tiles" in c for c in conformance["conformsTo"])


def test_a_kept_tile_follows_the_data(
    district: dict, engine: Engine, live_server: LiveServer, tmp_path: Path
) -> None:
    """A GIS client's tile is kept by the server (asked again, the same tile), and a change
    to the data under the view shows in it a moment later."""
    with engine.connect() as conn:
        bid, name, lon, lat = conn.execute(
            text(
                "SELECT id, name, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                "FROM building WHERE name IS NOT NULL ORDER BY id LIMIT 1"
            )
        ).one()
    z = 17
    x, y = tile_of(lon, lat, z)
    url = f"{live_server.url}/ogc/collections/public.pub_building/tiles/WebMercatorQuad/{z}/{x}/{y}"

    def name_in_tile(body: bytes) -> str:
        layers = read_tile(body, tmp_path / str(time.monotonic_ns()), z, x, y)
        return next(f["name"] for rows in layers.values() for f in rows if f["id"] == str(bid))

    first = httpx.get(url, timeout=60)
    assert first.status_code == 200
    assert name_in_tile(first.content) == name
    assert httpx.get(url, timeout=60).content == first.content
    with engine.begin() as conn:
        conn.execute(text("UPDATE building SET name = :n WHERE id = :b"), {"n": "改名楼", "b": bid})
    try:
        time.sleep(1.2)  # the versions are read again at most once a second
        assert name_in_tile(httpx.get(url, timeout=60).content) == "改名楼"
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE building SET name = :n WHERE id = :b"), {"n": name, "b": bid})
