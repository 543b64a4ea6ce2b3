"""Several sample districts side by side in one deployment (``--area``, #20).

The deployment's own sample district (330106, 三墩镇) first, then a street of the same
district (330106110, made with the same seed: its residents' ID numbers would all be
the first district's) and another district (330107) loaded beside it: each keeps its
codes, its spot, its records and its staff, and loading an area again touches that
area alone.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services.accounts import demo_sign_ins
from api.services.district import load_demo, load_district, plan_demo
from etl.area_load import AreaLoadError
from etl.sample import DEFAULT_END, generate_district
from etl.sample.areas import place_in_area, sample_area
from gis.settings import get_settings
from grids.codes import check_codes
from tests.conftest import LiveServer, empty_database

HOUSEHOLDS = 300
STREET, DISTRICT = "330106110", "330107"


def _area_layers(code: str, seed: int = 42) -> dict:
    layers = generate_district(HOUSEHOLDS, seed, progress=False, end=DEFAULT_END)
    return place_in_area(layers, sample_area(code))


def _rows(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


@pytest.fixture(scope="module")
def areas(engine: Engine) -> Engine:
    """The deployment's sample district, then two areas' beside it."""
    empty_database(engine)
    base = generate_district(HOUSEHOLDS, 42, progress=False, end=DEFAULT_END)
    load_district(engine, base, replace=True, progress=False)
    for code in (STREET, DISTRICT):
        load_district(engine, _area_layers(code), area=code, progress=False)
    return engine


def _households_by_office(engine: Engine) -> list[tuple]:
    return _rows(
        engine,
        "SELECT a.code, count(*), count(DISTINCT h.ref) FROM household h "
        "LEFT JOIN admin_area a ON a.id = h.office_id GROUP BY 1 ORDER BY 1 NULLS FIRST",
    )


def test_each_area_holds_its_own_district(areas: Engine) -> None:
    assert _households_by_office(areas) == [
        (None, HOUSEHOLDS, 0),  # the deployment's own district: no office, no refs
        (STREET, HOUSEHOLDS, HOUSEHOLDS),
        (DISTRICT, HOUSEHOLDS, HOUSEHOLDS),
    ]
    # the same seed: the same ID numbers, moved on where they met (the index is unique)
    assert _rows(areas, "SELECT count(DISTINCT id_number_hash) = count(*) FROM resident_identity")
    # the areas hang where their codes say, the street under the stored district
    parents = dict(
        _rows(
            areas,
            "SELECT a.code, p.code FROM admin_area a LEFT JOIN admin_area p ON p.id = a.parent_id "
            "WHERE a.level IN ('district', 'street')",
        )
    )
    assert parents == {
        "330106": None,
        "330106109": "330106",
        STREET: "330106",
        DISTRICT: None,
        f"{DISTRICT}109": DISTRICT,
    }
    for code in (STREET, DISTRICT):
        grids = _rows(
            areas,
            "SELECT g.code, c.code FROM grid g JOIN admin_area c ON c.id = g.community_id "
            "WHERE c.code LIKE :p",
            p=f"{code}%",
        )
        assert grids and not check_codes([g for g, _ in grids], [c for _, c in grids])
    # no two streets on the same ground
    overlapping = _rows(
        areas,
        "SELECT a.code, b.code FROM admin_area a JOIN admin_area b ON a.code < b.code "
        "AND ST_Intersects(a.geom, b.geom) WHERE a.level = 'street' AND b.level = 'street'",
    )
    assert overlapping == []


def test_a_street_staff_sees_only_their_areas_records(
    areas: Engine, live_server: LiveServer
) -> None:
    sign_ins = {s.role: s for s in demo_sign_ins(areas, area=STREET)}
    staff = sign_ins["street_staff"]
    assert staff.username == f"ss{STREET}"
    assert sign_ins["resident"].username.endswith(f".{STREET}")
    headers = {"Authorization": f"Bearer {staff.token}"}
    seen = httpx.get(
        f"{live_server.url}/api/incidents", params={"limit": 1000}, headers=headers, timeout=60
    )
    assert seen.status_code == 200, seen.text
    own = _rows(
        areas,
        "SELECT i.id FROM incident i JOIN grid g ON g.id = i.grid_id "
        "JOIN admin_area c ON c.id = g.community_id WHERE c.code LIKE :p",
        p=f"{STREET}%",
    )
    assert own and sorted(i["id"] for i in seen.json()) == sorted(r[0] for r in own)
    found = httpx.get(
        f"{live_server.url}/api/registry", params={"limit": 200}, headers=headers, timeout=60
    )
    assert found.status_code == 200, found.text
    ids = [h["id"] for h in found.json()["households"]]
    offices = _rows(
        areas,
        "SELECT DISTINCT a.code FROM household h JOIN admin_area a ON a.id = h.office_id "
        "WHERE h.id = ANY(:ids)",
        ids=ids,
    )
    assert ids and offices == [(STREET,)]


def test_loading_an_area_again_replaces_that_area_alone(areas: Engine) -> None:
    others = "SELECT id, ref, office_id FROM household WHERE office_id IS DISTINCT FROM " + (
        "(SELECT id FROM admin_area WHERE code = :c) ORDER BY id"
    )
    before = _rows(areas, others, c=DISTRICT)
    # without --replace: refused, nothing changed
    with pytest.raises(AreaLoadError, match=f"area {DISTRICT} holds records already"):
        load_district(areas, _area_layers(DISTRICT), area=DISTRICT, progress=False)
    # nor may the street's district be loaded over it (its --replace would remove it)
    with pytest.raises(AreaLoadError, match=f"office\\(s\\) {STREET} lie one inside"):
        load_district(areas, _area_layers("330106"), area="330106", replace=True, progress=False)
    # the demo's way: the area's district again (a seed of its own), in place of its
    # own records only
    plan = plan_demo(get_settings(), HOUSEHOLDS, None, sample_area(DISTRICT))
    loaded = load_demo(areas, plan).rows
    assert _rows(areas, others, c=DISTRICT) == before
    assert _households_by_office(areas)[-1] == (DISTRICT, HOUSEHOLDS, HOUSEHOLDS)
    # its old roads, incidents and areas went with it: what is in its place is the new load's
    inside = _rows(
        areas,
        "SELECT (SELECT count(*) FROM road_node n WHERE ST_Intersects(n.geom, a.geom)), "
        "(SELECT count(*) FROM incident i WHERE ST_Intersects(i.geom, a.geom)), "
        "(SELECT count(*) FROM admin_area b WHERE b.code LIKE :below) "
        "FROM admin_area a WHERE a.code = :c",
        c=DISTRICT,
        below=f"{DISTRICT}_%",
    )
    assert inside == [(loaded["road_node"], loaded["incident"], loaded["admin_area"])]
