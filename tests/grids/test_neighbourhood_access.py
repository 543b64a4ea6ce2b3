"""Who may post notices and decide on wishes (grids.access): staff of the community only."""

from __future__ import annotations

import pytest

from gis.errors import Forbidden
from grids.access import (
    Principal,
    may_manage_community,
    require_community_desk,
    require_resident,
)

COMMUNITY = frozenset({1, 2, 3})


def _user(role: str, grids: frozenset[int] | None = frozenset()) -> Principal:
    return Principal(user_id=1, username="u", display_name="u", role=role, grid_ids=grids)


def test_staff_manage_only_communities_wholly_in_their_area() -> None:
    assert may_manage_community(_user("community_staff", COMMUNITY), COMMUNITY)
    assert may_manage_community(_user("street_staff", COMMUNITY | {4, 5}), COMMUNITY)
    assert not may_manage_community(_user("community_staff", frozenset({4, 5})), COMMUNITY)
    assert not may_manage_community(_user("community_staff", frozenset({1, 2})), COMMUNITY)
    assert may_manage_community(_user("admin", None), COMMUNITY)
    # a grid worker covering the grids, or a resident, never
    assert not may_manage_community(_user("grid_worker", COMMUNITY), COMMUNITY)
    assert not may_manage_community(_user("resident", COMMUNITY), COMMUNITY)
    # a community without grids: admin only
    assert not may_manage_community(_user("community_staff", COMMUNITY), ())


def test_residents_and_staff_are_told_apart() -> None:
    require_resident(_user("resident"), "post a wish")
    with pytest.raises(Forbidden, match="only a resident's account may post a wish"):
        require_resident(_user("community_staff", COMMUNITY), "post a wish")
    require_community_desk(_user("street_staff", COMMUNITY), "post notices")
    for role in ("resident", "grid_worker"):
        with pytest.raises(Forbidden, match="only community or street staff may post notices"):
            require_community_desk(_user(role), "post notices")
