"""The registry desk (人口房屋), driven from outside: community staff search their households in
Chromium and reveal one for a stated reason (the audit row holds it), edit a household with
history over the JSON twin, and see nothing of another community on ``/registry``,
``/api/registry`` or a reveal."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services import accounts
from etl.load import load_layers
from etl.sample import generate_district
from gis import crypt
from gis.settings import get_settings
from tests.browser import accessibility_violations, artifact_path, open_page
from tests.conftest import LiveServer, run_wangge

STAFF_A, PASSWORD_A = "registry_a", "registry desk a 2026"
STAFF_B, PASSWORD_B = "registry_b", "registry desk b 2026"
HTML = {"Accept": "text/html"}
REASON = "独居老人走访，需联系家属"


@pytest.fixture(scope="module")
def desk(engine: Engine, database_url: str) -> Any:
    """The sample district on a server of its own; staff of two communities (password, token)."""
    layers = generate_district(3000, 29, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        communities = conn.execute(
            text(
                "SELECT a.id, a.code FROM admin_area a JOIN grid g ON g.community_id = a.id "
                "JOIN household h ON h.grid_id = g.id WHERE a.level = 'community' "
                "GROUP BY a.id ORDER BY count(*) DESC, a.id LIMIT 2"
            )
        ).all()
    users = {}
    for (name, password), community in zip(
        ((STAFF_A, PASSWORD_A), (STAFF_B, PASSWORD_B)), communities, strict=True
    ):
        done = run_wangge(
            database_url,
            *("users", "add", name, "--role", "community_staff", "--area", community.code),
            *("--name", f"社区{name[-1]}", "--password-stdin"),
            input_text=password + "\n",
        )
        assert done.returncode == 0, done.stderr
        token = accounts.token_for(engine, name)
        users[name] = {"community_id": community.id, "bearer": {"Authorization": f"Bearer {token}"}}
    with LiveServer(database_url, get_settings()) as server:
        yield {"url": server.url, "users": users}


def _community_of(engine: Engine, household_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT g.community_id FROM household h JOIN grid g ON g.id = h.grid_id "
                "WHERE h.id = :h"
            ),
            {"h": household_id},
        ).scalar_one()


def _a_resident(engine: Engine, community_id: int) -> Any:
    """A resident of the community with a name and phone, and a household of two or more."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT r.id, r.household_id, i.name, i.phone, i.id_number, b.name AS building "
                "FROM resident r JOIN resident_identity i ON i.resident_id = r.id "
                "JOIN household h ON h.id = r.household_id JOIN building b ON b.id = h.building_id "
                "JOIN grid g ON g.id = h.grid_id WHERE g.community_id = :c AND i.phone IS NOT NULL "
                "AND (SELECT count(*) FROM resident o WHERE o.household_id = h.id) >= 2 "
                "ORDER BY r.id LIMIT 1"
            ),
            {"c": community_id},
        ).one()
    # ID numbers and phones are sealed at rest: the test reads them as the server would
    return SimpleNamespace(
        **{
            **row._asdict(),
            "phone": crypt.open_value("phone", row.phone),
            "id_number": crypt.open_value("id_number", row.id_number),
        }
    )


def _audit_rows(engine: Engine, household_id: int) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT username, detail FROM audit_log WHERE action = 'reveal_identity' "
                "AND object_type = 'household' AND object_id = :h ORDER BY id"
            ),
            {"h": str(household_id)},
        ).all()


@pytest.mark.browser
def test_staff_search_a_resident_and_reveal_one_household(desk: dict, engine: Engine) -> None:
    url, mine = desk["url"], desk["users"][STAFF_A]
    person = _a_resident(engine, mine["community_id"])
    before = len(_audit_rows(engine, person.household_id))
    with open_page(f"{url}/registry", screenshot="registry_household_masked.png") as (page, log):
        page.get_by_label("用户名").fill(STAFF_A)
        page.get_by_label("密码").fill(PASSWORD_A)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{url}/registry")
        assert accessibility_violations(page) == []
        page.get_by_label("搜索").fill(person.name)
        page.get_by_role("button", name="查询").click()
        page.wait_for_url(re.compile(r".*/registry\?q="))
        row = page.locator(f"tr[data-household='{person.household_id}']")
        assert row.count() == 1
        listed = page.locator("#households").inner_text()
        assert person.name not in listed and person.phone not in listed  # masked
        page.screenshot(path=str(artifact_path("registry_search.png")), full_page=True)
        row.get_by_role("link").click()
        page.wait_for_url(f"{url}/registry/households/{person.household_id}")
        residents = page.locator("#residents").inner_text()
        assert person.name not in residents and person.id_number not in residents
        assert accessibility_violations(page) == []
        page.get_by_label("查看实名信息的理由").fill(REASON)
        page.get_by_role("button", name="显示本户实名信息").click()
        page.wait_for_url(f"{url}/registry/households/{person.household_id}/reveal")
        residents = page.locator("#residents").inner_text()
        assert person.name in residents and person.id_number in residents
        assert person.phone in residents and "已记入审计日志" in residents
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifact_path("registry_household_revealed.png")), full_page=True)
        # leaving the page masks the household again
        page.goto(f"{url}/registry/households/{person.household_id}")
        assert person.name not in page.locator("#residents").inner_text()
        assert REASON in page.locator("#reveals").inner_text()
    assert log.console_errors == [] and log.page_errors == []
    assert log.local_failures() == []
    rows = _audit_rows(engine, person.household_id)
    assert len(rows) == before + 1
    assert rows[-1].username == STAFF_A and rows[-1].detail["reason"] == REASON
    assert person.id in rows[-1].detail["residents"]


def test_staff_of_one_community_see_nothing_of_another(desk: dict, engine: Engine) -> None:
    url, a, b = desk["url"], desk["users"][STAFF_A], desk["users"][STAFF_B]
    theirs = _a_resident(engine, a["community_id"])
    # the whole list of B's area holds only B's households, over several pages
    after, seen = 0, 0
    while after is not None and seen < 400:
        page = httpx.get(
            f"{url}/api/registry", params={"after": after, "limit": 200}, headers=b["bearer"]
        )
        assert page.status_code == 200, page.text
        found = page.json()
        for h in found["households"]:
            assert _community_of(engine, h["id"]) == b["community_id"]
        seen += len(found["households"])
        after = found["next_after"]
    assert seen > 0
    # searching A's resident by name, phone or building finds nothing of A for B
    for q in (theirs.name, theirs.phone, theirs.building):
        found = httpx.get(f"{url}/api/registry", params={"q": q}, headers=b["bearer"]).json()
        assert theirs.household_id not in {h["id"] for h in found["households"]}
        assert all(_community_of(engine, h["id"]) == b["community_id"] for h in found["households"])
        mine = httpx.get(f"{url}/api/registry", params={"q": q}, headers=a["bearer"]).json()
        assert theirs.household_id in {h["id"] for h in mine["households"]}, q
    household = f"{url}/api/registry/households/{theirs.household_id}"
    assert httpx.get(household, headers=b["bearer"]).status_code == 404
    before = len(_audit_rows(engine, theirs.household_id))
    reveal = httpx.post(f"{household}/reveal", json={"reason": REASON}, headers=b["bearer"])
    assert reveal.status_code == 404 and theirs.name not in reveal.text
    assert len(_audit_rows(engine, theirs.household_id)) == before  # nothing revealed, no row
    move_in = {"name": "外人", "sex": "M", "birth_year": 1980}
    assert (
        httpx.post(f"{household}/residents", json=move_in, headers=b["bearer"]).status_code == 404
    )
    # the pages answer the same
    with httpx.Client() as client:
        form = client.get(f"{url}/login", headers=HTML).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        signed = client.post(
            f"{url}/login",
            data={"username": STAFF_B, "password": PASSWORD_B, "csrf_token": csrf, "next": "/"},
            headers=HTML,
        )
        assert signed.status_code == 303
        listing = client.get(f"{url}/registry", params={"q": theirs.name}, headers=HTML)
        assert listing.status_code == 200
        assert f'data-household="{theirs.household_id}"' not in listing.text
        page = client.get(f"{url}/registry/households/{theirs.household_id}", headers=HTML)
        assert page.status_code == 404 and theirs.name not in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', listing.text).group(1)
        posted = client.post(
            f"{url}/registry/households/{theirs.household_id}/reveal",
            data={"reason": REASON, "csrf_token": token},
            headers=HTML,
        )
        assert posted.status_code == 404 and theirs.name not in posted.text
    assert len(_audit_rows(engine, theirs.household_id)) == before


def test_a_resident_is_found_by_their_whole_id_number_or_phone(desk: dict, engine: Engine) -> None:
    """Sealed at rest, still found: the blind index matches the whole value, shown masked."""
    url, a = desk["url"], desk["users"][STAFF_A]
    person = _a_resident(engine, a["community_id"])
    spaced = f"{person.phone[:3]} {person.phone[3:7]} {person.phone[7:]}"
    for q in (person.id_number, person.id_number.lower(), person.phone, spaced):
        found = httpx.get(f"{url}/api/registry", params={"q": q}, headers=a["bearer"])
        assert found.status_code == 200, found.text
        households = found.json()["households"]
        assert person.household_id in {h["id"] for h in households}, q
        assert person.phone not in found.text and person.id_number not in found.text  # masked
    household = f"{url}/api/registry/households/{person.household_id}"
    shown = httpx.get(household, headers=a["bearer"]).json()
    [me] = [r for r in shown["people"] if r["id"] == person.id]
    assert me["id_number"] != person.id_number and me["id_number"][0] == person.id_number[0]
    revealed = httpx.post(f"{household}/reveal", json={"reason": REASON}, headers=a["bearer"])
    assert revealed.status_code == 200, revealed.text
    [me] = [r for r in revealed.json()["people"] if r["id"] == person.id]
    assert (me["id_number"], me["phone"]) == (person.id_number, person.phone)
    # a part of a phone finds nothing: the database cannot read the values any more
    part = httpx.get(f"{url}/api/registry", params={"q": person.phone[2:9]}, headers=a["bearer"])
    assert person.household_id not in {h["id"] for h in part.json()["households"]}


def test_a_grid_worker_or_a_resident_may_not_open_the_registry(desk: dict, engine: Engine) -> None:
    url = desk["url"]
    with engine.connect() as conn:  # a grid worker who signs in (an account has its worker)
        worker = conn.execute(
            text(
                "SELECT u.username FROM app_user u JOIN grid_worker w ON w.user_id = u.id "
                "ORDER BY u.id LIMIT 1"
            )
        ).scalar_one()
    for name, role in ((worker, "grid_worker"), ("registry_resident", "resident")):
        token = accounts.issue_token(engine, name, role)
        answer = httpx.get(f"{url}/api/registry", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 403 and "registry desk" in answer.text


def test_move_in_move_out_and_flags_are_kept_in_the_history(desk: dict, engine: Engine) -> None:
    url, a = desk["url"], desk["users"][STAFF_A]
    theirs = _a_resident(engine, a["community_id"])
    household = f"{url}/api/registry/households/{theirs.household_id}"
    size = httpx.get(household, headers=a["bearer"]).json()["size"]
    bad = httpx.post(
        f"{household}/residents",
        json={"name": "王小明", "sex": "M", "birth_year": 1950, "id_number": "12345"},
        headers=a["bearer"],
    )
    assert bad.status_code == 422 and "id_number" in bad.text
    taken = httpx.post(
        f"{household}/residents",
        json={"name": "王小明", "sex": "M", "birth_year": 1950, "id_number": theirs.id_number},
        headers=a["bearer"],
    )
    assert taken.status_code == 409 and str(theirs.household_id) in taken.text
    moved = httpx.post(
        f"{household}/residents",
        json={
            "name": "王小明",
            "sex": "M",
            "birth_year": 1950,
            "phone": "13900001111",
            "flags": ["living_alone_elderly"],
            "reason": "新迁入",
        },
        headers=a["bearer"],
    )
    assert moved.status_code == 201, moved.text
    new_id = moved.json()["resident_id"]
    flags = httpx.patch(
        f"{household}/residents/{new_id}/flags",
        json={"flags": {"living_alone_elderly": False, "disabled": True}},
        headers=a["bearer"],
    )
    assert flags.status_code == 200 and flags.json()["flags"]["disabled"] is True
    no_reason = httpx.post(
        f"{household}/residents/{new_id}/move-out", json={"reason": ""}, headers=a["bearer"]
    )
    assert no_reason.status_code == 422
    out = httpx.post(
        f"{household}/residents/{new_id}/move-out", json={"reason": "迁往外省"}, headers=a["bearer"]
    )
    assert out.status_code == 204
    view = httpx.get(household, headers=a["bearer"]).json()
    assert view["size"] == size and new_id not in {p["id"] for p in view["people"]}
    history = [(h["action"], h["resident_id"]) for h in view["history"]]
    assert history[:3] == [("move_out", new_id), ("flags", new_id), ("move_in", new_id)]
    assert view["history"][0]["reason"] == "迁往外省"
    assert view["history"][2]["detail"]["name"] == "王**"  # masked in the history too
    assert "王小明" not in str(view)


def test_vulnerable_group_filters_and_bad_input(desk: dict, engine: Engine) -> None:
    url, a = desk["url"], desk["users"][STAFF_A]
    found = httpx.get(
        f"{url}/api/registry", params={"flag": "living_alone_elderly"}, headers=a["bearer"]
    ).json()
    assert found["households"]
    assert all(h["groups"].get("living_alone_elderly", 0) >= 1 for h in found["households"])
    bad = httpx.get(f"{url}/api/registry", params={"flag": "rich"}, headers=a["bearer"])
    assert bad.status_code == 422 and "flag" in bad.text
    odd = httpx.get(f"{url}/api/registry", params={"q": "100%_\\"}, headers=a["bearer"])
    assert odd.status_code == 200 and odd.json()["households"] == []


def test_a_short_search_walks_or_asks_the_indexes_for_the_same_page(
    desk: dict, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gis.store import registry_store

    community = desk["users"][STAFF_A]["community_id"]
    with engine.connect() as conn:
        grids = conn.execute(
            text("SELECT id FROM grid WHERE community_id = :c"), {"c": community}
        ).scalars()
        grids = sorted(grids)
        rows = conn.execute(
            text(
                "SELECT h.id, b.name AS building, i.name, i.phone FROM household h "
                "JOIN building b ON b.id = h.building_id "
                "LEFT JOIN resident r ON r.household_id = h.id "
                "LEFT JOIN resident_identity i ON i.resident_id = r.id "
                "WHERE h.grid_id = ANY(:g)"
            ),
            {"g": grids},
        ).all()
        surname = max(
            {r.name[0] for r in rows if r.name},
            key=lambda s: (sum(1 for r in rows if r.name and r.name.startswith(s)), s),
        )
        for q, limit in ((surname, 20), (surname, 500), ("幢", 30), ("7", 25)):
            expected = sorted(
                {
                    r.id
                    for r in rows
                    if (r.name or "").startswith(q)
                    or q in (r.building or "")
                    or (q.isdigit() and len(q) >= 3 and q == crypt.open_value("phone", r.phone))
                }
            )[:limit]
            as_is = registry_store.search_households(conn, grid_ids=grids, query=q, limit=limit)
            monkeypatch.setattr(registry_store, "FREQUENT_NAMES", 1)  # every text walks
            monkeypatch.setattr(registry_store, "FREQUENT_SHARE", 0.0)
            walked = registry_store.search_households(conn, grid_ids=grids, query=q, limit=limit)
            monkeypatch.setattr(registry_store, "SHORT_SCAN", 1)  # a walk too short: the indexes
            asked = registry_store.search_households(conn, grid_ids=grids, query=q, limit=limit)
            monkeypatch.undo()
            for found in (as_is, walked, asked):
                assert [h["id"] for h in found] == expected, q


def test_guessing_a_masked_number_through_the_search_is_bounded_and_audited(
    desk: dict, engine: Engine, database_url: str
) -> None:
    """The trial's oracle: 178****2085 shown, the 10,000 middle digits tried one by one.

    Each answer is masked, but whether the household came back says whether the guess was
    right; a search by text is bounded per account an hour (429, the page's next-page
    links not counted), and one by phone or ID number is audited with what it found.
    """
    a = desk["users"][STAFF_A]
    person = _a_resident(engine, a["community_id"])
    settings = get_settings().model_copy(update={"rate_searches_per_hour": 4})
    with LiveServer(database_url, settings) as server:
        api = f"{server.url}/api/registry"
        guesses = [f"{person.phone[:3]}{n:04d}{person.phone[-4:]}" for n in range(3)]
        for q in (*guesses, person.phone):
            assert httpx.get(api, params={"q": q}, headers=a["bearer"]).status_code == 200
        refused = httpx.get(api, params={"q": "陈丽"}, headers=a["bearer"])
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "查询过于频繁" in refused.json()["detail"]
        page = httpx.get(f"{server.url}/registry", params={"q": "王"}, headers=a["bearer"] | HTML)
        assert page.status_code == 429
        # a next page of a search, and the list without a text, are no guesses
        assert (
            httpx.get(api, params={"q": "王", "after": 1}, headers=a["bearer"]).status_code == 200
        )
        assert httpx.get(api, headers=a["bearer"]).status_code == 200
    with engine.connect() as conn:
        audited = conn.execute(
            text(
                "SELECT detail FROM audit_log WHERE action = 'search_identity' "
                "AND username = :u AND detail->>'q' = :q ORDER BY id DESC LIMIT 1"
            ),
            {"u": STAFF_A, "q": f"{person.phone[:3]}****{person.phone[-4:]}"},
        ).scalar_one()
    assert person.household_id in audited["households"]


def test_an_id_number_held_outside_the_area_is_a_conflict_not_a_server_error(
    desk: dict, engine: Engine
) -> None:
    """The trial's 500: staff of one community moved in a number held in another."""
    url, a, b = desk["url"], desk["users"][STAFF_A], desk["users"][STAFF_B]
    theirs = _a_resident(engine, a["community_id"])
    mine = _a_resident(engine, b["community_id"])
    moved = httpx.post(
        f"{url}/api/registry/households/{mine.household_id}/residents",
        json={"name": "测试人", "sex": "M", "birth_year": 1990, "id_number": theirs.id_number},
        headers=b["bearer"],
    )
    assert moved.status_code == 409, moved.text
    assert "outside your area" in moved.json()["detail"]
    # neither the number nor where it is registered is said
    assert theirs.id_number not in moved.text and str(theirs.household_id) not in moved.text
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT count(*) FROM resident WHERE household_id = :h"),
            {"h": mine.household_id},
        ).scalar_one() == len(
            httpx.get(
                f"{url}/api/registry/households/{mine.household_id}", headers=b["bearer"]
            ).json()["people"]
        )


def test_answers_holding_personal_data_are_kept_by_no_cache(desk: dict, engine: Engine) -> None:
    """The trial: a household's answer carried no Cache-Control (a shared tablet keeps it)."""
    url, a = desk["url"], desk["users"][STAFF_A]
    person = _a_resident(engine, a["community_id"])
    household = f"{url}/api/registry/households/{person.household_id}"
    for answer in (
        httpx.get(household, headers=a["bearer"]),
        httpx.post(f"{household}/reveal", json={"reason": REASON}, headers=a["bearer"]),
        httpx.get(f"{url}/api/registry", params={"building": 1}, headers=a["bearer"]),
        httpx.get(f"{url}/api/me", headers=a["bearer"]),
    ):
        assert answer.headers["cache-control"] == "private, no-store", answer.url
    # what sets its own caching keeps it: the pages' assets stay cacheable
    asset = httpx.get(f"{url}/static/app/app.css")
    assert asset.status_code == 200 and "no-store" not in asset.headers.get("cache-control", "")
