"""Many offices in one deployment (issue 20): a city above two districts, and the staff of
each level seeing what lies under their area, at any depth — through the HTTP API and
through the database's own row-level security.

The world: the sample district (330106, district A) and a second district built here
(330199, district B: one street, one community, one grid, one household), with the
province (330000) and the city (330100) above them brought in by the areas import, in
the 6-digit form AMap uses.  The sample district was stored before its city: the import
hangs it under the city.  Each district has one marked incident (``ALA事件`` /
``ALB事件``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

import geopandas as gpd
from shapely import box

from api.services import accounts
from api.services.registry_io import ImportOptions, import_file
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.db import principal
from gis.settings import get_settings
from gis.store.access_store import user_by_name
from gis.store.admin_store import WrongAreaLevel
from grids.access import Principal
from tests.conftest import LiveServer, run_wangge

ROLE = get_settings().db_app_role or "wangge_app"
#: user -> (role, area code); the street is the sample's first, filled in by the fixture.
USERS = {
    "al_district_a": ("district_staff", "330106"),
    "al_district_b": ("district_staff", "330199"),
    "al_city": ("city_staff", "330100"),
    "al_street_a": ("street_staff", None),
}
#: What each user must see of the two districts (A, B).
SEES = {
    "al_district_a": {"A"},
    "al_district_b": {"B"},
    "al_city": {"A", "B"},
    "al_street_a": {"A"},
}


def _incident(conn: Any, grid_id: int, mark: str, lon: float, lat: float) -> int:
    category = conn.execute(text("SELECT code FROM incident_category LIMIT 1")).scalar_one()
    return conn.execute(
        text(
            "INSERT INTO incident (id, category_code, source, description, state, reported_at, "
            "grid_id, geom) VALUES (nextval(pg_get_serial_sequence('incident', 'id')), :c, "
            "'patrol', :d, 'registered', :at, :g, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
            "RETURNING id"
        ),
        {"c": category, "d": f"{mark}事件", "g": grid_id, "x": lon, "y": lat, "at": clock.utcnow()},
    ).scalar_one()


@pytest.fixture(scope="module")
def world(engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    layers = generate_district(2000, 43, progress=False, incidents_per_household=0.01)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        w, s, e, n = conn.execute(
            text(
                "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                "FROM admin_area WHERE code = '330106'"
            )
        ).one()
    # district B east of A; the province and the city around both (AMap's 6-digit codes,
    # Chinese level names)
    b = box(e + 0.01, s, e + 0.02, s + 0.01)
    everything = box(w - 0.01, s - 0.01, e + 0.03, n + 0.01)
    path = tmp_path_factory.mktemp("areas") / "zhejiang.geojson"
    gpd.GeoDataFrame(
        {
            "adcode": ["330000", "330100", "330199", "330199001", "330199001001"],
            "name": ["浙江省", "杭州市", "乙区", "乙街道", "乙社区"],
            "级别": ["省", "市", "区", "街道", "社区"],
        },
        geometry=[everything, everything, b, b, b],
        crs=4326,
    ).to_file(path, driver="GeoJSON")
    imported = import_file(engine, "areas", path, ImportOptions())
    with engine.begin() as conn:
        community_b = conn.execute(
            text("SELECT id FROM admin_area WHERE code = '330199001001'")
        ).scalar_one()
        grid_b = conn.execute(
            text(
                "INSERT INTO grid (code, name, community_id, geom) VALUES ('330199001001001', "
                "'乙社区第1网格', :c, ST_Multi(ST_GeomFromText(:wkt, 4326))) RETURNING id"
            ),
            {"c": community_b, "wkt": b.wkt},
        ).scalar_one()
        lon_b, lat_b = b.centroid.x, b.centroid.y
        building_b = conn.execute(
            text(
                "INSERT INTO building (name, floors, grid_id, geom) VALUES ("
                "'乙楼', 6, :g, ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(:x, :y), 4326), "
                "0.0002, 4))) RETURNING id"
            ),
            {"g": grid_b, "x": lon_b, "y": lat_b},
        ).scalar_one()
        household_b = conn.execute(
            text(
                "INSERT INTO household (building_id, unit, room, size, grid_id) "
                "VALUES (:b, 1, '101', 2, :g) RETURNING id"
            ),
            {"b": building_b, "g": grid_b},
        ).scalar_one()
        a = conn.execute(
            text(
                "SELECT h.id AS household, g.id AS grid, s.code AS street, "
                "ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat "
                "FROM household h JOIN grid g ON g.id = h.grid_id "
                "JOIN admin_area c ON c.id = g.community_id "
                "JOIN admin_area s ON s.id = c.parent_id "
                "WHERE EXISTS (SELECT 1 FROM resident r WHERE r.household_id = h.id) "
                "ORDER BY h.id LIMIT 1"
            )
        ).one()
        incidents = {
            "A": _incident(conn, a.grid, "ALA", a.lon, a.lat),
            "B": _incident(conn, grid_b, "ALB", lon_b, lat_b),
        }
        parents = dict(
            conn.execute(
                text(
                    "SELECT c.code, p.code FROM admin_area c JOIN admin_area p "
                    "ON p.id = c.parent_id WHERE c.level IN ('city', 'district', 'street')"
                )
            ).all()
        )
    tokens = {}
    for name, (role, area) in USERS.items():
        tokens[name] = accounts.issue_token(engine, name, role, area or a.street)
    with LiveServer(database_url, get_settings()) as server:
        yield {
            "url": server.url,
            "tokens": tokens,
            "households": {"A": a.household, "B": household_b},
            "incidents": incidents,
            "grids": {"A": a.grid, "B": grid_b},
            "points": {"A": (a.lon, a.lat), "B": (lon_b, lat_b)},
            "parents": parents,
            "street_a": a.street,
            "imported": imported,
        }


def test_the_import_hangs_both_districts_under_the_city_and_the_city_under_the_province(
    world: dict,
) -> None:
    parents = world["parents"]
    assert parents["330100"] == "330000"
    # the sample district was stored before its city: the import adopted it
    assert parents["330106"] == "330100"
    assert parents["330199"] == "330100"
    assert parents["330199001"] == "330199"
    assert any("330106 → 330100" in note for note in world["imported"].notes)


def test_a_12345_case_filed_by_one_office_is_filed_before_for_another(world: dict) -> None:
    """A hotline case number is filed once, wherever: the second office is told so (200),
    not given an error, and not told the first office's case."""
    case_no = f"AL{clock.now():%H%M%S%f}"

    def upload(user: str, district: str) -> httpx.Response:
        lon, lat = world["points"][district]
        body = f"case_no,category_code,description,lon,lat\n{case_no},10102,路灯不亮,{lon},{lat}\n"
        return httpx.post(
            f"{world['url']}/api/incidents/hotline",
            files={"file": ("12345.csv", body.encode(), "text/csv")},
            headers={"Authorization": f"Bearer {world['tokens'][user]}"},
            timeout=60,
        )

    first = upload("al_district_a", "A")
    assert first.status_code == 201, first.text
    mine = first.json()["incidents"][0]["id"]
    again = upload("al_district_a", "A")
    assert again.status_code == 200 and again.json()["already_filed_incidents"] == [
        {"row": 1, "id": mine}
    ]
    theirs = upload("al_district_b", "B")
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["filed"] == 0
    assert theirs.json()["already_filed_incidents"] == [{"row": 1, "id": None}]


def _get(world: dict, user: str, path: str, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world['tokens'][user]}"}
    return httpx.get(f"{world['url']}{path}", params=params, headers=headers, timeout=60)


@pytest.mark.parametrize("user", sorted(SEES))
def test_each_level_sees_the_incidents_and_households_under_its_area(
    world: dict, user: str
) -> None:
    listed = _get(world, user, "/api/incidents", limit=1000)
    assert listed.status_code == 200, listed.text
    descriptions = {i["description"] for i in listed.json()}
    seen = {d for d, mark in (("A", "ALA事件"), ("B", "ALB事件")) if mark in descriptions}
    assert seen == SEES[user]
    for district, household in world["households"].items():
        answer = _get(world, user, f"/api/registry/households/{household}")
        assert answer.status_code == (200 if district in SEES[user] else 404), answer.text
    for district, incident in world["incidents"].items():
        answer = _get(world, user, f"/api/incidents/{incident}")
        assert answer.status_code == (200 if district in SEES[user] else 404), answer.text


def test_the_city_reviews_both_districts_grids_and_a_district_only_its_own(world: dict) -> None:
    codes = {}
    for user in ("al_city", "al_district_a", "al_district_b"):
        review = _get(world, user, "/api/kpi", by="grid")
        assert review.status_code == 200, review.text
        codes[user] = {row["grid"] for row in review.json()["rows"]}
    assert "330199001001001" in codes["al_city"]
    assert codes["al_district_b"] == {"330199001001001"}
    assert "330199001001001" not in codes["al_district_a"] and codes["al_district_a"]
    assert codes["al_district_a"] | codes["al_district_b"] == codes["al_city"]


def test_a_district_moved_out_of_the_city_leaves_the_city_staffs_view_at_once(
    engine: Engine, world: dict
) -> None:
    def sees_b() -> int:
        return _get(world, "al_city", f"/api/incidents/{world['incidents']['B']}").status_code

    assert sees_b() == 200  # and the server now holds the city staff's token in its cache
    move = (
        "UPDATE admin_area SET parent_id = (SELECT id FROM admin_area WHERE code = :p) "
        "WHERE code = '330199'"
    )
    with engine.begin() as conn:
        conn.execute(text(move), {"p": "330000"})  # under the province, beside the city
    try:
        assert sees_b() == 404
    finally:
        with engine.begin() as conn:
            conn.execute(text(move), {"p": "330100"})
    assert sees_b() == 200


def test_district_staff_read_identities_masked_and_reveal_one_household_with_a_reason(
    world: dict,
) -> None:
    household = world["households"]["A"]
    masked = _get(world, "al_district_a", f"/api/registry/households/{household}").json()
    assert masked["people"] and all("*" in p["id_number"] for p in masked["people"])
    revealed = httpx.post(
        f"{world['url']}/api/registry/households/{household}/reveal",
        json={"reason": "区级督办核实住户"},
        headers={"Authorization": f"Bearer {world['tokens']['al_district_a']}"},
        timeout=60,
    )
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["revealed"]
    assert all("*" not in p["id_number"] for p in revealed.json()["people"])
    # the reveal is audited and listed with the household afterwards
    again = _get(world, "al_district_a", f"/api/registry/households/{household}").json()
    assert [(r["username"], r["reason"]) for r in again["reveals"]] == [
        ("al_district_a", "区级督办核实住户")
    ]
    assert all("*" in p["id_number"] for p in again["people"])


def test_a_staff_area_of_the_wrong_level_is_refused_saying_which_level(
    engine: Engine, world: dict, database_url: str
) -> None:
    with pytest.raises(WrongAreaLevel, match=r"330106 is a 区 \(district\).*city_staff"):
        accounts.issue_token(engine, "al_wrong_city", "city_staff", "330106")
    refused = run_wangge(
        database_url, "users", "add", "al_wrong", "--role", "district_staff", "--area", "330100"
    )
    assert refused.returncode != 0
    assert "330100 is a 市 (city)" in refused.stderr + refused.stdout
    assert "district_staff" in refused.stderr + refused.stdout
    made = run_wangge(
        database_url, "users", "add", "al_cli_city", "--role", "city_staff", "--area", "330100"
    )
    assert made.returncode == 0, made.stderr
    with engine.connect() as conn:
        user = user_by_name(conn, "al_cli_city")
        assert user is not None and user_by_name(conn, "al_wrong") is None
    assert user.grid_ids is not None
    assert {world["grids"]["A"], world["grids"]["B"]} <= user.grid_ids


def test_a_user_given_the_district_role_covers_the_district_they_are_given(
    engine: Engine, world: dict
) -> None:
    accounts.issue_token(engine, "al_promoted", "resident")
    with pytest.raises(WrongAreaLevel, match="a 区级工作人员 \\(district_staff\\) needs"):
        accounts.change_role(engine, "al_promoted", "district_staff", world["street_a"])
    accounts.change_role(engine, "al_promoted", "district_staff", "330199")
    with engine.connect() as conn:
        user = user_by_name(conn, "al_promoted")
    assert user is not None and user.grid_ids == frozenset({world["grids"]["B"]})


# ------------------------------------------------------------------ row-level security


@pytest.fixture(scope="module")
def app_engine(database_url: str) -> Iterator[Engine]:
    """An engine acting as the app's role, as the server's does."""
    eng = principal.install(create_engine(database_url), ROLE)
    yield eng
    eng.dispose()


@pytest.mark.parametrize("user", sorted(SEES))
def test_row_security_lets_each_level_read_only_what_lies_under_its_area(
    engine: Engine, app_engine: Engine, world: dict, user: str
) -> None:
    with engine.connect() as conn:
        who = principal.DbPrincipal.of(Principal.of(user_by_name(conn, user)))
    ids = {
        "household": world["households"],
        "incident": world["incidents"],
    }
    principal.set_principal(who)
    try:
        with app_engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == ROLE
            for table, by_district in ids.items():
                # a raw read, without any of the app's filters
                found = set(
                    conn.execute(
                        text(f"SELECT id FROM {table} WHERE id = ANY(:ids)"),
                        {"ids": list(by_district.values())},
                    ).scalars()
                )
                seen = {d for d, i in by_district.items() if i in found}
                assert seen == SEES[user], table
            # staff may file a case anywhere (the hotline): the policy names the new roles
            conn.execute(
                text(
                    "INSERT INTO incident (id, category_code, source, description, state, "
                    "reported_at, geom) SELECT nextval(pg_get_serial_sequence('incident', "
                    "'id')), code, 'hotline_12345', 'al', 'reported', now(), "
                    "ST_SetSRID(ST_MakePoint(120.1, 30.2), 4326) FROM incident_category LIMIT 1"
                )
            )
            conn.rollback()
    finally:
        principal.set_principal(None)
