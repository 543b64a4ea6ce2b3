"""The incident commands as an operator runs them: tokens, the 12345 import, the 督办 job."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, text

from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.store import incident_ids, partition_store
from tests.conftest import LiveServer, run_wangge


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(2000, 5, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


def test_users_add_prints_a_token_the_api_accepts(
    district: dict, database_url: str, live_server: LiveServer, engine: Engine
) -> None:
    with engine.connect() as conn:
        community = conn.execute(
            text("SELECT code FROM admin_area WHERE level = 'community' ORDER BY code LIMIT 1")
        ).scalar_one()
    done = run_wangge(
        database_url, "users", "add", "cli_staff", "--role", "community_staff", "--area", community
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    me = httpx.get(f"{live_server.url}/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "community_staff"
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_sha256 FROM api_token")).scalars().all()
    assert token not in stored  # only digests are kept
    bad = run_wangge(database_url, "users", "add", "x", "--role", "mayor")
    assert bad.returncode != 0 and "unknown role" in bad.stderr
    missing = run_wangge(database_url, "users", "token", "nobody_here")
    assert missing.returncode != 0 and "nobody_here" in missing.stderr


def test_hotline_import_refuses_a_bad_file_and_files_a_good_one(
    district: dict, database_url: str, engine: Engine, tmp_path
) -> None:
    b = district["building"].geometry.iloc[3].representative_point()
    good = tmp_path / "good.csv"
    good.write_text(
        f"category_code,description,lon,lat\n10102,路灯不亮,{b.x},{b.y}\n", encoding="utf-8"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"category_code,description,lon,lat\n10102,路灯不亮,{b.x},{b.y}\n10102,没有坐标,,\n",
        encoding="utf-8",
    )
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM incident")).scalar()
    refused = run_wangge(database_url, "incidents", "import-hotline", str(bad), "--as", "admin")
    assert refused.returncode == 1
    assert "row 2" in refused.stderr and "Nothing was filed" in refused.stderr
    filed = run_wangge(database_url, "incidents", "import-hotline", str(good), "--as", "admin")
    assert filed.returncode == 0, filed.stderr
    with engine.connect() as conn:
        after = conn.execute(text("SELECT count(*), max(source) FROM incident WHERE id > 0")).one()
    assert after[0] == before + 1
    job = run_wangge(database_url, "incidents", "escalate")
    assert job.returncode == 0 and "escalated" in job.stderr


def test_hotline_import_of_a_nul_byte_is_one_clear_line_and_no_traceback(
    district: dict, database_url: str, engine: Engine, tmp_path
) -> None:
    b = district["building"].geometry.iloc[3].representative_point()
    nul = tmp_path / "nul.csv"
    nul.write_bytes(f"category_code,description,lon,lat\n10102,路灯\x00不亮,{b.x},{b.y}\n".encode())
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM incident")).scalar()
    done = run_wangge(database_url, "incidents", "import-hotline", str(nul), "--as", "admin")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    [line] = [x for x in done.stderr.splitlines() if "NUL" in x]
    assert "row 1" in line and "'description'" in line
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident")).scalar() == before


def test_hotline_import_files_each_case_once_and_refuses_a_file_too_long(
    district: dict, database_url: str, engine: Engine, tmp_path
) -> None:
    b = district["building"].geometry.iloc[5].representative_point()
    at = clock.now() - timedelta(days=2)
    head = "case_no,category_code,description,lon,lat,reported_at\n"
    rows = [
        f"GD{i:05d},10103,消防栓漏水,{b.x},{b.y},{(at + timedelta(minutes=i)).isoformat()}\n"
        for i in range(30)
    ]
    export = tmp_path / "12345.csv"
    export.write_text(head + "".join(rows), encoding="utf-8")

    def count() -> int:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM incident")).scalar_one()

    before = count()
    first = run_wangge(database_url, "incidents", "import-hotline", str(export), "--as", "admin")
    assert first.returncode == 0, first.stderr
    assert count() == before + 30
    # the next export repeats those cases, one of them edited, and brings one new case
    rows[3] = rows[3].replace("消防栓漏水", "消防栓漏水，已关阀")
    rows.append(f"GD99999,10103,消防栓倾倒,{b.x},{b.y},{at.isoformat()}\n")
    export.write_text(head + "".join(rows), encoding="utf-8")
    again = run_wangge(database_url, "incidents", "import-hotline", str(export), "--as", "admin")
    assert again.returncode == 0, again.stderr
    assert "30 row(s) filed before" in again.stderr
    assert count() == before + 31
    long = run_wangge(
        database_url,
        "incidents",
        "import-hotline",
        str(export),
        "--as",
        "admin",
        env={"WANGGE_HOTLINE_MAX_ROWS": "20"},
    )
    assert long.returncode == 1
    assert "more than 20 rows" in long.stderr and "Nothing was filed" in long.stderr
    assert count() == before + 31


def test_a_hotline_import_of_old_calls_numbers_them_by_their_month(
    district: dict, database_url: str, engine: Engine, tmp_path
) -> None:
    """The command line makes the months of the calls it files (the server's role cannot):
    a call of two and a half years ago is stored under its month's number, in its month."""
    b = district["building"].geometry.iloc[7].representative_point()
    at = clock.now() - timedelta(days=920)
    export = tmp_path / "old.csv"
    export.write_text(
        "case_no,category_code,description,lon,lat,reported_at\n"
        f"OLD00920,10103,消防栓漏水,{b.x},{b.y},{at.isoformat()}\n",
        encoding="utf-8",
    )
    done = run_wangge(database_url, "incidents", "import-hotline", str(export), "--as", "admin")
    assert done.returncode == 0, done.stderr
    with engine.connect() as conn:
        case, where = conn.execute(
            text(
                "SELECT id, tableoid::regclass::text FROM incident "
                "WHERE source = 'hotline_12345' AND source_ref = 'case:OLD00920'"
            )
        ).one()
    month = partition_store.month_of(at)
    assert incident_ids.month_of_id(case) == month
    assert where == f"{partition_store.SCHEMA}.incident_{month:%Y_%m}"
    assert str(case) in done.stdout + done.stderr  # the number the office is told
