"""Every published view's tiles can be kept: the tables it reads are all followed by data
versions (a view reading one that is not would have its OGC tiles built at every request)."""

from __future__ import annotations

from sqlalchemy import Engine

from gis.store.view_versions import versioned_tables_of, view_tables
from grids.access import PUBLIC_COLLECTIONS, STAFF_COLLECTIONS


def test_every_published_view_reads_only_followed_tables(engine: Engine) -> None:
    views = sorted(PUBLIC_COLLECTIONS | STAFF_COLLECTIONS)
    tables = view_tables(engine, "public", views)
    assert sorted(tables) == views
    # the kept counts stand for the rows that move them
    assert set(tables["pub_building"]) == {"building", "household"}
    assert {"grid", "household", "resident"} <= set(tables["pub_grid"])


def test_a_view_reading_an_unfollowed_relation_is_left_out() -> None:
    rows = [("pub_a", "building"), ("pub_b", "grid"), ("pub_b", "some_log")]
    assert versioned_tables_of(rows) == {"pub_a": ("building",)}
