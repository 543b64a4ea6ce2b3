"""Re-locating on a Dask cluster gives the single-process answer, record for record.

A sample district is loaded, one community's grids are cut anew, and the records are
put back where they were before the change (pointing at retired grids, some without
cells), as records that have not followed a grid change yet.  Both paths then place
them again, each in a transaction rolled back afterwards, from the same state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from distributed import LocalCluster
from sqlalchemy import Connection, Engine, text

import geopandas as gpd
import shapely

from etl.grid_versions import save_grid_version
from etl.load import load_layers
from etl.relocate import RelocateReport, relocate
from etl.relocate_dask import dask_client, relocate_on_dask
from etl.sample import generate_district
from gis.settings import Settings
from tests.conftest import empty_database, run_wangge

#: Every table whose rows carry a place; households follow their building.
PLACED = ("building", "household", "facility", "road_node", "incident")
#: Small partitions, so that every table is split over both workers.
PARTITION_ROWS = 400


@pytest.fixture(scope="module", autouse=True)
def quiet_dask() -> Iterator[None]:
    """Only Dask's warnings in the test process's log, which the log scan reads.

    The clusters' schedulers run in the test process; Dask's INFO lines name clients and
    keys by 43-character ids that the scan would take for tokens.
    """
    dask_log = logging.getLogger("distributed")
    level = dask_log.level
    dask_log.setLevel(logging.WARNING)
    yield
    dask_log.setLevel(level)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """One 2-worker cluster for the module, as ``WANGGE_DASK_SCHEDULER`` would name one."""
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GiB",
        dashboard_address=None,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def stale_district(engine: Engine) -> tuple[Engine, dict[str, list[tuple]]]:
    """A district whose records have not followed a grid change; and their places then."""
    empty_database(engine)
    layers = generate_district(3000, 17, progress=False)
    load_layers(engine, layers, progress=False)
    community = str(layers["grid"]["community_code"].iloc[0])
    area = shapely.union_all(
        layers["grid"].loc[layers["grid"]["community_code"] == community].geometry.array
    )
    west, south, east, north = area.bounds
    cut = (east - west) / 3
    strips = [
        shapely.intersection(area, shapely.box(west + i * cut, south, west + (i + 1) * cut, north))
        for i in range(3)
    ]
    with engine.connect() as conn:  # the places before the change, in temporary tables
        for table in PLACED:
            conn.execute(
                text(
                    f"CREATE TEMP TABLE stale_{table} AS "
                    f"SELECT id, grid_id, h3_cell, beidou_cell FROM {table}"
                )
            )
        conn.commit()
        new_grids = gpd.GeoDataFrame(geometry=strips, crs=4326)
        save_grid_version(engine, community, new_grids, progress=False)
        for table in PLACED:  # back to before the change; a third of the cells lost too
            conn.execute(
                text(f"""
                UPDATE {table} t SET grid_id = s.grid_id,
                  h3_cell = CASE WHEN t.id % 3 = 0 THEN NULL ELSE s.h3_cell END,
                  beidou_cell = CASE WHEN t.id % 3 = 1 THEN NULL ELSE s.beidou_cell END
                FROM stale_{table} s WHERE s.id = t.id""")
            )
            conn.execute(text(f"DROP TABLE stale_{table}"))
        stale = places(conn)
        conn.commit()
    return engine, stale


def places(conn: Connection) -> dict[str, list[tuple]]:
    """Every record's grid, H3 cell and 北斗 cell, per table, by id."""
    return {
        table: [
            tuple(row)
            for row in conn.execute(
                text(f"SELECT id, grid_id, h3_cell, beidou_cell FROM {table} ORDER BY id")
            )
        ]
        for table in PLACED
    }


def single_process_answer(engine: Engine) -> tuple[RelocateReport, dict[str, list[tuple]]]:
    """What :func:`etl.relocate.relocate` writes (rolled back afterwards)."""
    with engine.connect() as conn, conn.begin() as tx:
        report = relocate(conn, progress=False)
        answer = places(conn)
        tx.rollback()
    return report, answer


def test_dask_places_every_record_as_the_single_process_path(
    stale_district: tuple[Engine, dict[str, list[tuple]]], cluster: LocalCluster
) -> None:
    engine, stale = stale_district
    expected_report, expected = single_process_answer(engine)
    # the grid change matters: records move to the new grids and lost cells come back
    assert expected != stale
    assert expected_report.changed["household"] > 0 and expected_report.changed["incident"] > 0
    with (
        cluster.get_client() as client,
        engine.connect() as conn,
        conn.begin() as tx,
    ):
        report = relocate_on_dask(
            conn, client=client, progress=False, partition_rows=PARTITION_ROWS
        )
        answer = places(conn)
        tx.rollback()
    assert answer == expected
    assert report == expected_report


def test_dask_runs_on_the_cluster_wangge_dask_scheduler_names(
    stale_district: tuple[Engine, dict[str, list[tuple]]],
    cluster: LocalCluster,
    database_url: str,
) -> None:
    engine, stale = stale_district
    _, expected = single_process_answer(engine)
    settings = Settings(dask_scheduler=cluster.scheduler_address)
    with engine.connect() as conn, conn.begin() as tx:
        relocate_on_dask(conn, settings=settings, progress=False, partition_rows=PARTITION_ROWS)
        assert places(conn) == expected
        tx.rollback()
    # the command line, as an operator runs it after a grid import; it commits
    run = run_wangge(
        database_url,
        "locate",
        "--dask",
        env={"WANGGE_DASK_SCHEDULER": cluster.scheduler_address},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert cluster.scheduler_address in run.stderr and "dask workers" in run.stderr
    with engine.begin() as conn:
        assert places(conn) == expected
        put_back(conn, stale)  # as the other tests expect the district


def put_back(conn: Connection, stale: dict[str, list[tuple]]) -> None:
    """Write the places of before the grid change back (after a test that committed)."""
    for table, rows in stale.items():
        conn.execute(
            text(f"UPDATE {table} SET grid_id = :g, h3_cell = :h, beidou_cell = :b WHERE id = :i"),
            [{"i": i, "g": g, "h": h, "b": b} for i, g, h, b in rows],
        )


def test_without_a_scheduler_a_local_cluster_as_the_settings_say_does_the_work(
    stale_district: tuple[Engine, dict[str, list[tuple]]],
) -> None:
    engine, _ = stale_district
    _, expected = single_process_answer(engine)
    settings = Settings(dask_scheduler="", dask_workers=1, dask_worker_memory="768MiB")
    with dask_client(settings) as client:
        workers = client.scheduler_info()["workers"].values()
        assert [(w["nthreads"], w["memory_limit"]) for w in workers] == [(1, 768 * 2**20)]
        with engine.connect() as conn, conn.begin() as tx:
            relocate_on_dask(conn, client=client, progress=False, settings=settings)
            assert places(conn) == expected
            tx.rollback()
