"""The sample district made for an area (``--area``): its codes, spot, users, ID numbers."""

from __future__ import annotations

import numpy as np
import pytest

import shapely

from etl.sample import DEFAULT_END, generate_district, id_check_char
from etl.sample.areas import (
    PITCH_M,
    AreaCodeError,
    place_in_area,
    resequence_id_numbers,
    sample_area,
    slot_offset_m,
    spiral,
)
from grids.codes import check_codes


@pytest.fixture(scope="module")
def district() -> dict:
    return generate_district(300, 5, progress=False, end=DEFAULT_END)


def _valid_id(value: str) -> bool:
    digits = np.frombuffer(value[:17].encode(), dtype=np.uint8).reshape(1, 17) - ord("0")
    return chr(id_check_char(digits)[0]) == value[17]


def test_a_streets_district_takes_its_codes_users_and_a_spot_of_its_own(district: dict) -> None:
    placed = place_in_area(district, sample_area("330106110"))
    areas = placed["admin_area"]
    assert set(areas["code"].str[:9]) == {"330106", "330106110"}
    assert dict(zip(areas["code"], areas["level"], strict=True))["330106110"] == "street"
    grids = placed["grid"]
    assert not check_codes(list(grids["code"]), list(grids["community_code"]))
    users = set(placed["app_user"]["username"])
    assert "admin" not in users  # the deployment's, not the area's
    assert all(
        u.startswith(("ss330106110", "cs330106110", "gw330106110")) or u.endswith(".330106110")
        for u in users
    )
    # every reference to a user names one of the area's
    named = set(placed["incident_event"]["actor"]) | set(
        placed["incident"]["reporter_username"].dropna()
    )
    assert named - {"system"} <= users
    # the whole district moved by the code's slot, nothing else about it
    east, north = slot_offset_m("330106110")
    assert (east, north) != (0, 0) and east % PITCH_M == 0 and north % PITCH_M == 0
    before, after = (shapely.get_coordinates(d["building"].geometry) for d in (district, placed))
    moved = after[:, 1] - before[:, 1]
    assert np.allclose(moved, north / 110_574.0)
    assert list(placed["household"]["id"]) == list(district["household"]["id"])
    assert all(_valid_id(v) for v in placed["resident"]["id_number"])


def test_a_districts_code_replaces_the_generators_and_at_sets_the_centre(district: dict) -> None:
    placed = place_in_area(district, sample_area("330107", at=(120.5, 30.5)))
    assert set(placed["admin_area"]["code"].str[:6]) == {"330107"}
    assert set(placed["resident"]["id_number"].str[:6]) == {"330107"}
    centre = placed["admin_area"].geometry.union_all().envelope.centroid
    assert (round(centre.x, 9), round(centre.y, 9)) == (120.5, 30.5)
    # the generator's own codes keep their place
    assert slot_offset_m("330106") == slot_offset_m("330106109") == (0.0, 0.0)


@pytest.mark.parametrize("code", ["3301", "330106109001", "330100", "33010A"])
def test_codes_that_take_no_sample_district_are_refused(code: str) -> None:
    with pytest.raises(AreaCodeError, match="district"):
        sample_area(code)


def test_a_street_holds_one_streets_communities() -> None:
    two_streets = generate_district(40_000, 5, progress=False, end=DEFAULT_END)
    with pytest.raises(AreaCodeError, match="2 streets were made"):
        place_in_area(two_streets, sample_area("330106110"))


def test_the_spiral_visits_each_cell_once_and_id_numbers_move_on_keeping_sex() -> None:
    cells = [spiral(n) for n in range(441)]
    assert len(set(cells)) == 441 and max(max(abs(x), abs(y)) for x, y in cells) == 10
    ids = np.array(["330106199001010013", "33010619900101002X"], dtype=object)
    ids[1] = ids[1][:17] + chr(
        id_check_char(
            np.frombuffer(ids[1][:17].encode(), dtype=np.uint8).reshape(1, 17) - ord("0")
        )[0]
    )
    moved = resequence_id_numbers(ids, np.array([True, False]))
    assert moved[0][:14] == ids[0][:14] and moved[0][14:17] == "003" and _valid_id(moved[0])
    assert moved[1] == ids[1]
