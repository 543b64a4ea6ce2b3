"""The access policy itself (grids/access.py): each role's reach, masks, area filters.

The doors are tested from outside in tests/api; these pin the rules down one by one.
"""

from __future__ import annotations

import pandas as pd
import pytest

from grids.access import (
    ROLE_NAMES_ZH,
    Forbidden,
    Principal,
    home_grids,
    identity_visible,
    incident_filter,
    kpi_filter,
    mask_id_number,
    mask_identities,
    mask_name,
    mask_phone,
    may_reveal_identity,
    may_see_area,
    may_see_contact,
    may_see_incident,
    may_see_worker,
    require_check_on,
    require_command_centre,
    require_households,
    require_own_position,
    require_registry,
    require_reveal,
    require_staff,
    require_street_staff,
    rows_in_area,
    workers_in_area,
)

RESIDENT = Principal(1, "r1", "居民", "resident")
WORKER = Principal(2, "gw1", "网格员", "grid_worker", worker_id=7, grid_ids=frozenset({10, 11}))
STAFF = Principal(3, "cs1", "社区", "community_staff", area_id=5, grid_ids=frozenset({10, 11, 12}))
OTHER_STAFF = Principal(4, "cs2", "社区", "community_staff", area_id=6, grid_ids=frozenset({20}))
ADMIN = Principal(5, "admin", "管理员", "admin", grid_ids=None)


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        Principal(9, "x", "x", "mayor")


@pytest.mark.parametrize(
    ("user", "grid", "reporter", "assignee", "sees"),
    [
        (RESIDENT, 10, 1, None, True),  # their own report
        (RESIDENT, 10, 99, None, False),  # someone else's, even in a grid
        (WORKER, 11, 99, None, True),  # in their grid
        (WORKER, 30, 99, 7, True),  # assigned to them outside their grids
        (WORKER, 30, 99, 8, False),
        (STAFF, 12, 99, None, True),
        (OTHER_STAFF, 12, 99, None, False),
        (STAFF, None, 99, None, False),  # in no grid: admin only
        (ADMIN, None, 99, None, True),
    ],
)
def test_who_sees_which_incident(
    user: Principal, grid: int | None, reporter: int, assignee: int | None, sees: bool
) -> None:
    assert may_see_incident(user, grid_id=grid, reporter_id=reporter, assignee_id=assignee) is sees


def test_the_sql_filter_says_the_same_as_the_single_check() -> None:
    rule = incident_filter(WORKER)
    assert not rule.everything and rule.grid_ids == (10, 11) and rule.worker_id == 7
    assert incident_filter(RESIDENT).reporter_id == 1 and incident_filter(RESIDENT).grid_ids == ()
    assert incident_filter(ADMIN).everything


def test_kpi_review_worker_sees_only_their_own_cases_resident_none() -> None:
    assert kpi_filter(WORKER).grid_ids == () and kpi_filter(WORKER).worker_id == 7
    assert kpi_filter(STAFF).grid_ids == (10, 11, 12)
    with pytest.raises(Forbidden):
        kpi_filter(RESIDENT)


def test_contact_is_for_staff_and_the_reporter_not_the_worker() -> None:
    assert may_see_contact(STAFF, reporter_id=99)
    assert may_see_contact(RESIDENT, reporter_id=1)
    assert not may_see_contact(RESIDENT, reporter_id=99)
    assert not may_see_contact(WORKER, reporter_id=99)


def test_identity_masked_for_a_worker_unless_a_task_needs_it() -> None:
    assert not identity_visible(WORKER, building_id=3, task_buildings={4})
    assert identity_visible(WORKER, building_id=4, task_buildings={4})
    assert identity_visible(STAFF, building_id=3, task_buildings=())
    assert not identity_visible(RESIDENT, building_id=4, task_buildings={4})
    with pytest.raises(Forbidden):
        require_households(RESIDENT)
    require_households(WORKER)


def test_masks_keep_enough_to_recognise_not_to_use() -> None:
    assert mask_name("张三丰") == "张**"
    assert mask_name("李") == "李*"
    assert mask_phone("13812345678") == "138****5678"
    masked = mask_id_number("330106199001011234")
    assert masked == "3****************4"
    assert "19900101" not in masked and "1990" not in masked
    assert mask_name(None) is None and mask_phone("") == ""


def test_doors_by_role() -> None:
    for door in (require_staff, require_command_centre):
        for user in (RESIDENT, WORKER):
            with pytest.raises(Forbidden):
                door(user, "do it")
        door(STAFF, "do it")
    with pytest.raises(Forbidden):
        require_check_on(RESIDENT)
    require_check_on(WORKER)
    with pytest.raises(Forbidden):
        require_own_position(WORKER, 8)
    require_own_position(WORKER, 7)
    require_own_position(ADMIN, 8)


def test_rows_and_areas() -> None:
    assert rows_in_area(STAFF, [10, 20, None]).tolist() == [True, False, False]
    assert rows_in_area(ADMIN, [10, 20, None]).tolist() == [True, True, True]
    assert may_see_area(STAFF, [10, 11]) and not may_see_area(STAFF, [10, 20])
    assert not may_see_area(STAFF, [])
    assert may_see_worker(STAFF, [12]) and not may_see_worker(OTHER_STAFF, [12])
    assert not may_see_worker(WORKER, [10])


#: grids 10-12 are STAFF's community, 20 OTHER_STAFF's; worker 40 is primary in 20 and
#: backs up 12 (a community's only grid borrows the next one's worker), 50 is a standby
#: who only backs up 11.
ASSIGNMENTS = pd.DataFrame(
    {
        "grid_id": [10, 10, 11, 12, 12, 20, 11],
        "worker_id": [7, 8, 8, 9, 40, 40, 50],
        "role": ["primary", "backup", "primary", "primary", "backup", "primary", "backup"],
    }
)


def test_a_worker_belongs_to_the_grids_they_are_primary_of() -> None:
    home = home_grids(ASSIGNMENTS)
    assert sorted(zip(home["worker_id"], home["grid_id"], strict=True)) == [
        (7, 10),
        (8, 11),
        (9, 12),
        (40, 20),
        (50, 11),  # primary nowhere: where they back up
    ]


def test_staff_assign_only_to_the_workers_of_their_own_area() -> None:
    # 40 backs up STAFF's grid 12 but belongs to the other community
    assert workers_in_area(STAFF, ASSIGNMENTS) == {7, 8, 9, 50}
    assert workers_in_area(OTHER_STAFF, ASSIGNMENTS) == {40}
    assert workers_in_area(ADMIN, ASSIGNMENTS) == {7, 8, 9, 40, 50}


DISTRICT = Principal(6, "ds1", "区", "district_staff", area_id=2, grid_ids=frozenset({10, 11, 12}))
CITY = Principal(7, "cy1", "市", "city_staff", area_id=1, grid_ids=frozenset({10, 11, 12, 20}))


@pytest.mark.parametrize("user", [DISTRICT, CITY], ids=["district", "city"])
def test_district_and_city_staff_supervise_with_identities_masked(user: Principal) -> None:
    # staff of their whole area: cases, contacts, the desks
    assert user.is_staff and may_see_incident(user, grid_id=12, reporter_id=9, assignee_id=None)
    assert not may_see_incident(user, grid_id=30, reporter_id=9, assignee_id=None)
    assert may_see_contact(user, reporter_id=99)
    require_registry(user)
    require_command_centre(user, "watch")
    # residents' identities masked, in the registers and in exports, but revealed one
    # household at a time on the registry desk
    assert not identity_visible(user, building_id=3, task_buildings={3})
    people = pd.DataFrame(
        {"name": ["张三丰"], "id_number": ["330106199001011234"], "phone": [None]}
    )
    shown, masked = mask_identities(user, people)
    assert masked and shown.loc[0, "name"] == "张**" and shown.loc[0, "phone"] is None
    assert may_reveal_identity(user)
    require_reveal(user)
    # they do not store a street's grid designs
    with pytest.raises(Forbidden, match="only street staff or an admin"):
        require_street_staff(user, "store a new grid design")
    assert ROLE_NAMES_ZH[user.role] in ("区级工作人员", "市级工作人员")
