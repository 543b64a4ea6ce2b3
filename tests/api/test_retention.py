"""Retention (issue 18, point 8), from the outside: two residents move out over HTTP, one of
them long ago (the clock stood 400 days back), one today; workers' positions are reported 40
days ago and yesterday.  ``wangge retention run --dry-run`` changes nothing; the run removes
the old move-out from the registry desk and the old positions, keeps the recent ones, and
the admin's audit log shows one purge with counts and ids only."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services import accounts
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock, crypt
from gis.settings import get_settings
from tests.conftest import LiveServer, run_wangge

REASON = "迁往外省，户口随迁"


@pytest.fixture(scope="module")
def town(engine: Engine, database_url: str) -> Any:
    """The sample district on a server of its own, a community's staff and an admin."""
    layers = generate_district(3000, 31, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        community = conn.execute(
            text(
                "SELECT a.id, a.code FROM admin_area a JOIN grid g ON g.community_id = a.id "
                "JOIN household h ON h.grid_id = g.id WHERE a.level = 'community' "
                "GROUP BY a.id ORDER BY count(*) DESC, a.id LIMIT 1"
            )
        ).one()
        sealed = conn.execute(
            text(
                "SELECT r.id, r.household_id, i.name, i.id_number FROM resident r "
                "JOIN resident_identity i ON i.resident_id = r.id "
                "JOIN household h ON h.id = r.household_id JOIN grid g ON g.id = h.grid_id "
                "WHERE g.community_id = :c AND i.id_number IS NOT NULL ORDER BY r.id LIMIT 3"
            ),
            {"c": community.id},
        ).all()
        # ID numbers are sealed at rest: the test compares exports with the clear values
        people = [
            SimpleNamespace(
                **{**row._asdict(), "id_number": crypt.open_value("id_number", row.id_number)}
            )
            for row in sealed
        ]
        workers = conn.execute(text("SELECT id FROM grid_worker ORDER BY id LIMIT 2")).all()
    staff = accounts.issue_token(engine, "retention_staff", "community_staff", community.code)
    admin = accounts.issue_token(engine, "retention_admin", "admin")
    with LiveServer(database_url, get_settings()) as server:
        yield {
            "url": server.url,
            "area": community.code,
            "people": people,
            "workers": [w.id for w in workers],
            # a worker reports from inside the district (the service area follows its bounds)
            "where": layers["grid"].geometry.iloc[0].representative_point(),
            "staff": {"Authorization": f"Bearer {staff}"},
            "admin": {"Authorization": f"Bearer {admin}"},
        }


def _move_out(town: dict, person: Any) -> None:
    out = httpx.post(
        f"{town['url']}/api/registry/households/{person.household_id}/residents/{person.id}"
        "/move-out",
        json={"reason": REASON},
        headers=town["staff"],
    )
    assert out.status_code == 204, out.text


def _history(town: dict, household_id: int) -> list[tuple[str, int | None]]:
    view = httpx.get(f"{town['url']}/api/registry/households/{household_id}", headers=town["staff"])
    assert view.status_code == 200, view.text
    return [(h["action"], h["resident_id"]) for h in view.json()["history"]]


def _report_position(town: dict, worker_id: int) -> None:
    answer = httpx.post(
        f"{town['url']}/api/workers/{worker_id}/position",
        json={"lon": town["where"].x, "lat": town["where"].y},
        headers=town["admin"],
    )
    assert answer.status_code == 201, answer.text


def _positions(engine: Engine, worker_id: int) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT at FROM worker_position WHERE worker_id = :w ORDER BY at"),
                {"w": worker_id},
            ).scalars()
        )


def _purges(town: dict) -> list[dict[str, str]]:
    answer = httpx.get(
        f"{town['url']}/admin/audit.csv",
        params={"action": "retention_purge"},
        headers=town["admin"],
    )
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def _export(town: dict) -> str:
    answer = httpx.get(
        f"{town['url']}/api/exports/residents",
        params={"area": town["area"], "format": "csv"},
        headers=town["staff"],
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return answer.content.decode("utf-8-sig")


def test_moved_out_long_ago_and_old_positions_go_recent_ones_stay(
    town: dict, engine: Engine, database_url: str
) -> None:
    old, recent, staying = town["people"]
    tracked, other = town["workers"]
    now = clock.now()
    with clock.frozen(now - timedelta(days=400)):
        _move_out(town, old)
        _report_position(town, tracked)
    with clock.frozen(now - timedelta(days=40)):
        _report_position(town, tracked)
    with clock.frozen(now - timedelta(days=1)):
        _report_position(town, tracked)
        _report_position(town, other)
    _move_out(town, recent)
    assert ("move_out", old.id) in _history(town, old.household_id)
    assert ("move_out", recent.id) in _history(town, recent.household_id)
    assert len(_positions(engine, tracked)) == 3
    purges_before = len(_purges(town))

    dry = run_wangge(database_url, "retention", "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stderr and "would delete" in dry.stderr
    assert ("move_out", old.id) in _history(town, old.household_id)
    assert len(_positions(engine, tracked)) == 3
    assert len(_purges(town)) == purges_before

    done = run_wangge(database_url, "retention", "run")
    assert done.returncode == 0, done.stderr
    assert "deleting worker positions" in done.stderr  # the progress line
    assert "retention_purge" in done.stderr
    assert old.id not in {r for _, r in _history(town, old.household_id)}
    assert ("move_out", recent.id) in _history(town, recent.household_id)
    kept = _positions(engine, tracked)
    assert len(kept) == 1 and kept[0] > now - timedelta(days=2)
    assert len(_positions(engine, other)) == 1
    exported = _export(town)
    assert old.id_number not in exported and recent.id_number not in exported
    assert staying.id_number in exported

    purges = _purges(town)
    assert len(purges) == purges_before + 1
    row = purges[0]  # newest first
    text_of_row = json.dumps(row, ensure_ascii=False)
    assert old.name not in text_of_row and old.id_number not in text_of_row
    detail = json.loads(row[next(k for k in row if "detail" in k.lower() or "详情" in k)])
    assert old.id in detail["resident_ids"] and recent.id not in detail["resident_ids"]
    assert detail["positions"] >= 2 and detail["history_rows"] >= 1

    again = run_wangge(database_url, "retention", "run")
    assert again.returncode == 0 and "nothing removed" in again.stderr
    assert len(_purges(town)) == purges_before + 1


def test_the_server_runs_the_retention_in_the_background(
    town: dict, engine: Engine, database_url: str
) -> None:
    _, tracked = town["workers"]
    with clock.frozen(clock.now() - timedelta(days=45)):
        _report_position(town, tracked)
    old = [at for at in _positions(engine, tracked) if at < clock.now() - timedelta(days=30)]
    assert old
    settings = get_settings().model_copy(update={"retention_interval_s": 0.5})
    with LiveServer(database_url, settings):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(at > clock.now() - timedelta(days=30) for at in _positions(engine, tracked)):
                break
            time.sleep(0.2)
    assert all(at > clock.now() - timedelta(days=30) for at in _positions(engine, tracked))
