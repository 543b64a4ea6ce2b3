"""The staff desk's access rules: who opens the registry and the grids desk, reveals, hands over."""

from __future__ import annotations

import pytest

from grids.access import (
    Forbidden,
    Principal,
    may_manage_grid,
    may_reveal_identity,
    registry_grids,
    require_grid_desk,
    require_registry,
    require_reveal,
)

RESIDENT = Principal(1, "r1", "居民", "resident")
WORKER = Principal(2, "gw1", "网格员", "grid_worker", worker_id=7, grid_ids=frozenset({10, 11}))
STAFF = Principal(3, "cs1", "社区", "community_staff", area_id=5, grid_ids=frozenset({12, 10}))
STREET = Principal(4, "ss1", "街道", "street_staff", area_id=1, grid_ids=frozenset({10, 12, 20}))
ADMIN = Principal(5, "admin", "管理员", "admin", grid_ids=None)


def test_the_registry_is_for_staff_over_their_own_grids() -> None:
    assert registry_grids(STAFF) == (10, 12)
    assert registry_grids(STREET) == (10, 12, 20)
    assert registry_grids(ADMIN) is None
    for user in (RESIDENT, WORKER):
        with pytest.raises(Forbidden, match="registry desk"):
            require_registry(user)
    with pytest.raises(Forbidden, match="/worker"):
        registry_grids(WORKER)  # the worker is pointed to their tablet


def test_identities_are_revealed_only_by_the_roles_that_may_read_them() -> None:
    assert all(may_reveal_identity(u) for u in (STAFF, STREET, ADMIN))
    assert not any(may_reveal_identity(u) for u in (RESIDENT, WORKER))
    with pytest.raises(Forbidden, match="查看实名信息"):
        require_reveal(WORKER)


def test_a_grid_is_handed_over_by_staff_covering_it() -> None:
    assert may_manage_grid(STAFF, 10) and not may_manage_grid(STAFF, 20)
    assert may_manage_grid(STREET, 20) and may_manage_grid(ADMIN, 999)
    assert not may_manage_grid(WORKER, 10)  # their own grid, but they are not staff
    with pytest.raises(Forbidden, match="grids desk"):
        require_grid_desk(WORKER)
