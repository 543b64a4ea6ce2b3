"""The grid↔cell crosswalk over HTTP and the command line: shares, conservation, access."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

import h3

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from grids.beidou import to_strings
from tests.conftest import LiveServer, run_wangge


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    load_layers(engine, generate_district(3000, 41, progress=False), replace=True, progress=False)
    with engine.connect() as conn:
        staff = conn.execute(
            text(
                "SELECT u.username, u.area_id FROM app_user u WHERE u.role = 'community_staff' "
                "ORDER BY u.id LIMIT 1"
            )
        ).one()
        mine = conn.execute(
            text("SELECT code FROM grid WHERE community_id = :c AND valid_to IS NULL"),
            {"c": staff.area_id},
        ).scalars()
        other = conn.execute(
            text(
                "SELECT a.code FROM admin_area a WHERE a.level = 'community' AND a.id <> :c "
                "ORDER BY a.code LIMIT 1"
            ),
            {"c": staff.area_id},
        ).scalar_one()
        households = dict(
            conn.execute(
                text(
                    "SELECT g.code, count(h.id) FROM grid g JOIN household h ON h.grid_id = g.id "
                    "WHERE g.valid_to IS NULL GROUP BY g.code"
                )
            ).all()
        )

    def bearer(user: str, role: str) -> dict:
        return {"Authorization": f"Bearer {issue_token(engine, user, role)}"}

    return {
        "url": live_server.url,
        "admin": bearer("admin", "admin"),
        "staff": bearer(staff.username, "community_staff"),
        "staff_name": staff.username,
        "resident": bearer("resident00001", "resident"),
        "mine": set(mine),
        "other_community": other,
        "households": households,
    }


def _get(district: dict, who: str, **params) -> httpx.Response:
    return httpx.get(
        f"{district['url']}/api/grids/crosswalk", params=params, headers=district[who], timeout=120
    )


def _convert(district: dict, who: str, **body) -> httpx.Response:
    return httpx.post(
        f"{district['url']}/api/grids/crosswalk/convert",
        json=body,
        headers=district[who],
        timeout=120,
    )


@pytest.mark.parametrize("system", ["h3", "beidou"])
def test_each_grid_s_shares_sum_to_one_and_hold_its_households(district: dict, system: str) -> None:
    r = _get(district, "admin", system=system)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["system"] == system and body["level"] == (10 if system == "h3" else 5)
    assert {g["code"] for g in body["grids"]} == set(district["households"]) | {
        g["code"] for g in body["grids"] if g["households"] == 0
    }
    for grid in body["grids"]:
        assert sum(c["grid_area_share"] for c in grid["cells"]) == pytest.approx(1.0)
        assert sum(c["grid_household_share"] for c in grid["cells"]) == pytest.approx(1.0)
        assert grid["households"] == district["households"].get(grid["code"], 0)
    codes = [c["cell"] for g in body["grids"] for c in g["cells"]]
    if system == "h3":
        assert all(h3.is_valid_cell(c) and h3.get_resolution(c) == 10 for c in codes)
    else:
        assert all(len(c) == 11 and c[0] == "N" for c in codes)


@pytest.mark.parametrize("system", ["h3", "beidou"])
def test_counts_go_both_ways_with_their_totals(district: dict, engine: Engine, system: str) -> None:
    column = "h3_cell" if system == "h3" else "beidou_cell"
    with engine.connect() as conn:
        per_cell = conn.execute(
            text(f"SELECT {column}, count(*) FROM household GROUP BY {column}")
        ).all()
    keys = (
        [h3.int_to_str(c) for c, _ in per_cell]
        if system == "h3"
        else to_strings([c for c, _ in per_cell]).tolist()
    )
    values = {k: float(n) for k, (_, n) in zip(keys, per_cell, strict=True)}
    r = _convert(district, "admin", system=system, weight="households", values=values)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["total_in"] == pytest.approx(sum(values.values()))
    assert got["total_out"] == pytest.approx(got["total_in"])
    assert got["outside_area"] == pytest.approx(0.0) and got["unplaced"] == {}
    # split by households, a cell's households go back to exactly the grids they live in
    for code, n in district["households"].items():
        assert got["values"][code] == pytest.approx(n)
    back = _convert(
        district, "admin", system=system, direction="grids_to_cells", values=got["values"]
    )
    assert back.status_code == 200, back.text
    assert back.json()["total_out"] == pytest.approx(got["total_in"])
    # a community's staff: what leaves their area is said, and nothing is lost
    mine = _convert(district, "staff", system=system, values=values).json()
    assert set(mine["values"]) <= district["mine"]
    assert mine["total_in"] == pytest.approx(
        mine["total_out"] + mine["outside_area"] + sum(mine["unplaced"].values())
    )
    assert mine["outside_area"] > 0


def test_community_staff_see_only_their_area(district: dict) -> None:
    r = _get(district, "staff", system="beidou")
    assert r.status_code == 200
    assert {g["code"] for g in r.json()["grids"]} == district["mine"]
    theirs = _get(district, "staff", community=district["other_community"])
    assert theirs.status_code == 404 and "not in your area" in theirs.json()["detail"]
    assert _get(district, "resident").status_code == 403
    assert httpx.get(f"{district['url']}/api/grids/crosswalk").status_code == 401
    foreign = sorted(set(district["households"]) - district["mine"])[0]
    r = _convert(district, "staff", direction="grids_to_cells", values={foreign: 5})
    assert r.status_code == 422 and foreign in r.json()["detail"]


@pytest.mark.parametrize(
    ("params", "body", "says"),
    [
        ({"system": "s2"}, None, "system must be one of h3, beidou"),
        ({"system": "beidou", "level": 2}, None, "level (北斗) must be 4"),
        ({"community": "12"}, None, "community"),
        (None, {"values": {"8a2a1072b59ffff0": 1}}, "not an H3 index of resolution 10"),
        (None, {"system": "beidou", "values": {"N50J4": 1}}, "not a 北斗 code of level 5"),
        (None, {"direction": "up", "values": {}}, "direction"),
    ],
)
def test_bad_input_is_a_clear_422(district: dict, params, body, says: str) -> None:
    r = _get(district, "admin", **params) if body is None else _convert(district, "admin", **body)
    assert r.status_code == 422, r.text
    assert says in r.text


def test_the_command_line_writes_the_table_and_converts(
    district: dict, database_url: str, tmp_path: Path
) -> None:
    table = tmp_path / "beidou.csv"
    done = run_wangge(
        database_url,
        "grids",
        "crosswalk",
        "--system",
        "beidou",
        "--out",
        str(table),
        "--as",
        district["staff_name"],
    )
    assert done.returncode == 0, done.stderr
    with table.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["grid_code"] for r in rows} == district["mine"]
    counts = tmp_path / "per_grid.csv"
    counts.write_text(
        "grid,count\n" + "".join(f"{g},10\n" for g in sorted(district["mine"])), encoding="utf-8"
    )
    done = run_wangge(
        database_url,
        "grids",
        "crosswalk",
        "--system",
        "beidou",
        "--counts",
        str(counts),
        "--direction",
        "grids_to_cells",
        "--as",
        district["staff_name"],
    )
    assert done.returncode == 0, done.stderr
    with (tmp_path / "per_grid.grids_to_cells.csv").open(encoding="utf-8") as f:
        total = sum(float(r["value"]) for r in csv.DictReader(f))
    assert total == pytest.approx(10 * len(district["mine"]))
    bad = run_wangge(database_url, "grids", "crosswalk", "--system", "s2")
    assert bad.returncode != 0 and "system must be one of" in bad.stderr
