"""The role × resource matrix from the outside (issue 18): every route of the app that reads
area-scoped or personal data, asked by every role — admin, city staff, district staff,
street staff, community staff, grid worker, resident, reporter, anonymous, a revoked token
— for its own area and for another; 0 records of another area and 0 unmasked identities
outside the designed cases.

The two areas lie in two districts of one city (issue 20): B's street is moved into a
district of its own, so that district staff of A have another area too, and city staff
cover both (like an admin, but with identities masked but where :data:`DESIGNED` says).

How a leak is seen: the test marks the two areas' data — incident descriptions, contact
phones, notices and wishes carry ``MXA…`` (community A, the callers' own) or ``MXB…``
(community B, another area), buildings are renamed ``MXA楼…`` / ``MXB楼…`` — and knows
every seeded ID number and phone.  A caller of A who receives any ``MXB`` or any identity
of B has seen another area; an identity in full anywhere but in :data:`DESIGNED` is a
leak; anonymous and revoked callers may see neither area but what :data:`PUBLIC` allows.

Every route must be classified in :data:`ROUTES`: a new route fails
:func:`test_every_route_is_classified` until its author says what it reads.
"""

from __future__ import annotations

import math
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from starlette.routing import Mount

from shapely.geometry import box, mapping

from api.app import create_app
from api.services import accounts
from etl.load import load_layers
from etl.sample import generate_district
from gis import crypt
from gis.settings import get_settings
from gis.store import grid_store
from maps.basemap import label_stacks
from tests.conftest import LiveServer

ROLES = (
    "admin",
    "city_staff",
    "district_staff",
    "street_staff",
    "community_staff",
    "grid_worker",
    "resident",
    "reporter",
    "anonymous",
    "revoked",
)
#: Roles whose own area is community A (or its street): B is another area for them (B is
#: moved to a street of its own when the sample has one street).
AREA_ROLES = (
    "district_staff",
    "street_staff",
    "community_staff",
    "grid_worker",
    "resident",
    "reporter",
)
#: Roles that may see nothing of either area but public data.
OUTSIDERS = ("anonymous", "revoked")

SCOPED, PUBLIC_ROUTE, WRITE, SKIP = "scoped", "public", "write", "skip"

#: What every route reads.  ``scoped``: area-scoped or personal data, asked by every role
#: for its own and another area; ``public``: public by design, asked anonymously and
#: checked for identities and either area's marks; ``write``: a change, exercised by the
#: tests of its family (tests/api/test_<family>*.py), not here; ``skip``: with the reason.
ROUTES: dict[str, str] = {
    # ---- public by design
    "GET /health": PUBLIC_ROUTE,
    "GET /openapi.json": PUBLIC_ROUTE,
    "GET /docs": PUBLIC_ROUTE,
    "GET /login": PUBLIC_ROUTE,
    "GET /api/categories": PUBLIC_ROUTE,
    "GET /api/planning/standards": PUBLIC_ROUTE,
    "GET /tiles/basemap/style.json": PUBLIC_ROUTE,
    "GET /tiles/basemap/glyphs/{fontstack}/ranges.bin": PUBLIC_ROUTE,
    "GET /tiles/basemap/glyphs/{fontstack}/{glyph_range}.pbf": PUBLIC_ROUTE,
    "GET /open311/discovery.{fmt}": PUBLIC_ROUTE,
    "GET /open311/discovery": PUBLIC_ROUTE,
    "GET /open311/v2/services.{fmt}": PUBLIC_ROUTE,
    "GET /open311/v2/services": PUBLIC_ROUTE,
    "GET /open311/v2/services/{name}": PUBLIC_ROUTE,
    "GET /r/report": PUBLIC_ROUTE,
    "GET /r/track": PUBLIC_ROUTE,
    "GET /r/track/{code}": PUBLIC_ROUTE,
    "GET /r/shelter": PUBLIC_ROUTE,
    "GET /resident/shelter": PUBLIC_ROUTE,
    "GET /api/resident/nearest-shelter": PUBLIC_ROUTE,
    "GET /api/resident/nearby": PUBLIC_ROUTE,
    "GET /api/facilities/{facility_id}/service-area": PUBLIC_ROUTE,
    "GET /api/grids/crosswalk": PUBLIC_ROUTE,
    "MOUNT /static/vendor": SKIP,  # files of the repository, no data
    "MOUNT /static/maps": SKIP,
    "MOUNT /static/app": SKIP,
    # ---- area-scoped or personal
    "GET /": SCOPED,
    "GET /desk": SCOPED,
    "GET /desk/cases/{incident_id}": SCOPED,
    "GET /desk/redispatch": SCOPED,
    "GET /map": SCOPED,
    "GET /tiles/{layer}/{z}/{x}/{y}.pbf": SCOPED,
    "GET /api/grids/locate": SCOPED,
    "GET /api/grids": SCOPED,
    "GET /r/requests": SCOPED,
    "GET /r/requests/{incident_id}": SCOPED,
    "GET /r/nearby": SCOPED,
    "GET /r/nearby/list": SCOPED,
    "GET /r/notices": SCOPED,
    "GET /r/notices/{notice_id}": SCOPED,
    "GET /desk/notices": SCOPED,
    "GET /r/wishes": SCOPED,
    "GET /desk/wishes": SCOPED,
    "GET /api/incidents": SCOPED,
    "GET /api/incidents/{incident_id}": SCOPED,
    "GET /api/incidents/{incident_id}/photos/{photo_id}": SCOPED,
    "GET /api/me": SCOPED,
    "GET /api/incidents/{incident_id}/recommendation": SCOPED,
    "GET /api/planning/access": SCOPED,
    "GET /api/planning/access/cells": SCOPED,
    "GET /api/planning/access/stored": SCOPED,
    "GET /api/planning/scenarios": SCOPED,
    "GET /api/planning/scenarios/{key}": SCOPED,
    "GET /api/planning/compare": SCOPED,
    "GET /planning/access": SCOPED,
    "GET /planning/sites": SCOPED,
    "GET /planning/compare": SCOPED,
    "GET /planning/compare/map": SCOPED,
    "GET /api/awareness/aggregates": SCOPED,
    "GET /api/awareness/hotspots": SCOPED,
    "GET /api/awareness/warnings": SCOPED,
    "GET /api/hazards": SCOPED,
    "GET /api/hazards/{hazard_id}": SCOPED,
    "GET /api/hazards/{hazard_id}/impact": SCOPED,
    "GET /api/hazards/{hazard_id}/check-on": SCOPED,
    "GET /api/alerts/{alert_id}": SCOPED,
    "GET /api/live/incidents": SCOPED,
    "GET /api/live": SCOPED,
    # an endless event stream: its rows are those of /api/live/incidents (asked above);
    # tests/api/test_awareness_access.py reads it per role
    "GET /api/live/stream": SKIP,
    "GET /live": SCOPED,
    "GET /reports/daily": SCOPED,
    "GET /api/worker/grids": SCOPED,
    "GET /api/worker/buildings": SCOPED,
    "GET /api/worker/households": SCOPED,
    "GET /api/worker/tasks": SCOPED,
    "GET /api/worker/route": SCOPED,
    "GET /api/worker/package": SCOPED,
    "GET /worker": SCOPED,
    "GET /api/worker/bundle": SCOPED,
    "GET /api/worker/checkon": SCOPED,
    "GET /api/worker/coverage": SCOPED,
    "GET /api/worker/notices": SCOPED,
    "GET /api/worker/proof-rules": SCOPED,
    "GET /api/desk/coverage": SCOPED,
    "GET /api/resident/reminders": SCOPED,
    # an endless event stream; its reminders are tested in tests/api/test_case_reminders.py
    "GET /api/resident/stream": SKIP,
    # the field app's service worker and manifest: files, no data
    "GET /worker-sw.js": PUBLIC_ROUTE,
    "GET /worker/manifest.webmanifest": PUBLIC_ROUTE,
    "GET /api/kpi": SCOPED,
    "GET /api/kpi/chart.png": SCOPED,
    "GET /kpi": SCOPED,
    "GET /kpi/print": SCOPED,
    "GET /open311/v2/requests.{fmt}": SCOPED,
    "GET /open311/v2/requests": SCOPED,
    "GET /open311/v2/requests/{name}": SCOPED,
    "GET /open311/v2/tokens/{name}": SCOPED,
    "GET /api/exports/{kind}": SCOPED,
    "GET /api/registry": SCOPED,
    "GET /api/registry/households/{household_id}": SCOPED,
    "GET /registry": SCOPED,
    "GET /registry/households/{household_id}": SCOPED,
    "GET /grids": SCOPED,
    "GET /grids/design": SCOPED,
    "GET /grids/simulate": SCOPED,
    "GET /admin/users": SCOPED,
    "GET /admin/users/{username}": SCOPED,
    "GET /admin/audit": SCOPED,
    "GET /admin/audit.csv": SCOPED,
    "GET /admin/imports": SCOPED,
    # the reveal answers a household in full: a read, asked like the others
    "POST /api/registry/households/{household_id}/reveal": SCOPED,
    "MOUNT /ogc": SCOPED,
    # ---- changes (each family's tests drive them per role)
    "POST /desk/cases/{incident_id}/actions": WRITE,
    "POST /desk/cases/{incident_id}/merge": WRITE,
    "POST /desk/cases/{incident_id}/grid": WRITE,
    "POST /desk/redispatch": WRITE,
    "POST /login": WRITE,
    "POST /logout": WRITE,
    "POST /api/grids/crosswalk/convert": WRITE,
    "POST /api/grids/simulate": WRITE,
    "POST /r/report": WRITE,
    "POST /r/track/{code}/rate": WRITE,
    "POST /r/requests/{incident_id}/rate": WRITE,
    "POST /desk/notices": WRITE,
    "POST /r/wishes": WRITE,
    "POST /r/wishes/{wish_id}/support": WRITE,
    "POST /r/alerts/{alert_id}/seen": WRITE,
    "POST /desk/wishes/{wish_id}/decide": WRITE,
    "POST /api/incidents": WRITE,
    "POST /api/incidents/{incident_id}/actions": WRITE,
    "POST /api/incidents/{incident_id}/photos": WRITE,
    "POST /api/incidents/redispatch": WRITE,
    "POST /api/incidents/{incident_id}/merge": WRITE,
    "POST /api/incidents/{incident_id}/grid": WRITE,
    "POST /api/incidents/escalations": WRITE,
    "POST /api/incidents/hotline": WRITE,
    "POST /api/planning/access": WRITE,
    "POST /api/planning/solve": WRITE,
    "POST /api/planning/scenarios": WRITE,
    "DELETE /api/planning/scenarios/{key}": WRITE,
    "POST /api/hazards": WRITE,
    "POST /api/hazards/{hazard_id}/alerts": WRITE,
    "POST /api/alerts/{alert_id}/confirm": WRITE,
    "POST /api/workers/{worker_id}/position": WRITE,
    "POST /api/worker/tasks/{task_id}/checkin": WRITE,
    "POST /api/worker/visits": WRITE,
    "POST /api/worker/checkon/marks": WRITE,
    "POST /open311/v2/requests.{fmt}": WRITE,
    "POST /open311/v2/requests": WRITE,
    "POST /api/registry/households/{household_id}/residents": WRITE,
    "POST /api/registry/households/{household_id}/residents/{resident_id}/move-out": WRITE,
    "PATCH /api/registry/households/{household_id}/residents/{resident_id}/flags": WRITE,
    "POST /registry/households/{household_id}/reveal": WRITE,
    "POST /registry/households/{household_id}/move-in": WRITE,
    "POST /registry/households/{household_id}/residents/{resident_id}/move-out": WRITE,
    "POST /registry/households/{household_id}/residents/{resident_id}/flags": WRITE,
    "POST /grids/{grid_id}/handover": WRITE,
    "POST /grids/design": WRITE,
    "POST /grids/simulate": WRITE,
    "POST /admin/users": WRITE,
    "POST /admin/users/{username}/disable": WRITE,
    "POST /admin/users/{username}/enable": WRITE,
    "POST /admin/users/{username}/password": WRITE,
    "POST /admin/users/{username}/role": WRITE,
    "POST /admin/users/{username}/revoke": WRITE,
    "POST /admin/imports": WRITE,
    "POST /admin/imports/confirm": WRITE,
}

ID, PHONE = "ID number", "phone"
STAFF = ("community_staff", "street_staff", "admin")
#: Staff who supervise a district or a city: identities masked, revealed one at a time.
SUPERVISORS = ("district_staff", "city_staff")
#: (route, role) -> the identities in full that are the design there: the registry's
#: reveal (for a stated reason, audited); the registers' export to staff (unmasked for
#: the roles that see them in full, audited; masked for district and city staff); a
#: case's reporter contact for the staff who call back and for the reporter themself; the
#: phones of the households at a grid worker's open task (audited; ID numbers stay masked).
DESIGNED: dict[tuple[str, str], set[str]] = {
    **{
        ("POST /api/registry/households/{household_id}/reveal", role): {ID, PHONE}
        for role in (*STAFF, *SUPERVISORS)
    },
    **{("GET /api/exports/{kind}", role): {ID, PHONE} for role in STAFF},
    **{
        (route, role): {PHONE}
        for route in ("GET /desk/cases/{incident_id}", "GET /api/incidents/{incident_id}")
        for role in (*STAFF, *SUPERVISORS, "reporter")
    },
    ("GET /api/worker/households", "grid_worker"): {PHONE},
    # the check-on list of a hazard names and phones its people to the grid's own worker
    ("GET /api/worker/checkon", "grid_worker"): {PHONE},
}

#: Marks of an area that a route shows to everyone by design (route -> kinds of marks):
#: buildings are public map data (names on the map, the grids' building counts).
PUBLIC: dict[str, set[str]] = {
    "GET /tiles/{layer}/{z}/{x}/{y}.pbf": {"building"},
    "GET /map": {"building"},
    "GET /api/resident/nearby": {"building"},
    "GET /r/nearby": {"building"},
    "GET /r/nearby/list": {"building"},
    "MOUNT /ogc": {"building"},
}


def _routes() -> dict[str, Any]:
    """Every (method path) of the app, flattened through included routers and mounts."""
    app = create_app()
    found: dict[str, Any] = {}
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):
            contexts = route.effective_route_contexts()
            for c in contexts:
                for method in c.methods or ():
                    if method != "HEAD":
                        found[f"{method} {c.path}"] = c
        elif isinstance(route, Mount):
            found[f"MOUNT {route.path}"] = route
        else:
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    found[f"{method} {route.path}"] = route
    return found


def test_every_route_is_classified() -> None:
    found = set(_routes())
    new = sorted(found - set(ROUTES))
    gone = sorted(set(ROUTES) - found)
    assert not new, (
        f"{len(new)} route(s) not classified in tests/api/test_role_matrix.py ROUTES: "
        + ", ".join(new)
        + ". Say what each reads: 'scoped' (area-scoped or personal data: the matrix asks it "
        "with every role for its own and another area; give the parameters it needs in "
        "_params / _query), 'public' (public by design), 'write' (a change, tested by its "
        "family), or 'skip' with a comment why."
    )
    assert not gone, f"routes classified but gone (remove them from ROUTES): {gone}"


# ------------------------------------------------------------------ the world


@dataclass
class Area:
    code: str
    id: int
    street: str
    grid_code: str
    grid_id: int
    household: int
    incident: int
    notice: int
    mark: str
    phone: str
    lon: float
    lat: float
    resident_phone: str


def _tile(lon: float, lat: float, z: int = 16) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def _pick_area(conn: Any, community_id: int, mark: str, category: str, worker: int) -> Area:
    row = conn.execute(
        text(
            "SELECT a.code, s.code AS street, g.id AS grid_id, g.code AS grid_code, "
            "ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat, "
            "(SELECT h.id FROM household h WHERE h.grid_id = g.id ORDER BY h.id LIMIT 1) AS hh "
            "FROM admin_area a JOIN admin_area s ON s.id = a.parent_id "
            "JOIN grid g ON g.community_id = a.id AND g.valid_to IS NULL "
            "JOIN grid_assignment ga ON ga.grid_id = g.id AND ga.worker_id = :w "
            "WHERE a.id = :c AND EXISTS (SELECT 1 FROM household h WHERE h.grid_id = g.id) "
            "ORDER BY g.code LIMIT 1"
        ),
        {"c": community_id, "w": worker},
    ).one()
    phone = "1390" + str(uuid.uuid4().int)[:7]
    incident = conn.execute(
        text(
            "INSERT INTO incident (id, category_code, source, description, state, reported_at, "
            "grid_id, assignee_id, geom) VALUES (nextval(pg_get_serial_sequence('incident', "
            "'id')), :c, 'patrol', :d, 'dispatched', now(), :g, :w, "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"
        ),
        {
            "c": category,
            "d": f"{mark}事件描述",
            "g": row.grid_id,
            "w": worker,
            "x": row.lon,
            "y": row.lat,
        },
    ).scalar_one()
    conn.execute(
        text("INSERT INTO incident_contact (incident_id, name, phone) VALUES (:i, :n, :p)"),
        {"i": incident, "n": f"{mark}联系人", "p": crypt.seal("phone", phone)},  # sealed at rest
    )
    notice = conn.execute(
        text(
            "INSERT INTO notice (community_id, scope, title, body, created_at, created_by) "
            "VALUES (:c, 'community', :t, :t, now(), 'matrix') RETURNING id"
        ),
        {"c": community_id, "t": f"{mark}通知"},
    ).scalar_one()
    conn.execute(
        text(
            "UPDATE building b SET name = :m || '楼' || b.id FROM household h JOIN grid g "
            "ON g.id = h.grid_id WHERE h.building_id = b.id AND g.community_id = :c"
        ),
        {"m": mark, "c": community_id},
    )
    resident_phone = crypt.open_value(
        "phone",
        conn.execute(
            text(
                "SELECT i.phone FROM resident_identity i JOIN resident r ON r.id = i.resident_id "
                "WHERE r.household_id = :h AND i.phone IS NOT NULL LIMIT 1"
            ),
            {"h": row.hh},
        ).scalar_one(),
    )
    return Area(
        row.code,
        community_id,
        row.street,
        row.grid_code,
        row.grid_id,
        row.hh,
        incident,
        notice,
        mark,
        phone,
        float(row.lon),
        float(row.lat),
        resident_phone,
    )


@pytest.fixture(scope="module")
def world(engine: Engine, database_url: str) -> Any:
    layers = generate_district(3000, 37, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.begin() as conn:
        category = conn.execute(text("SELECT code FROM incident_category LIMIT 1")).scalar_one()
        facility = conn.execute(text("SELECT min(id) FROM facility")).scalar_one()
        # communities in different streets when there are, each with a worker of its own
        pairs = conn.execute(
            text(
                "SELECT w.id AS worker, u.username, min(g.community_id) AS community, "
                "min(s.id) AS street FROM grid_worker w JOIN app_user u ON u.id = w.user_id "
                "JOIN grid_assignment ga ON ga.worker_id = w.id "
                "JOIN grid g ON g.id = ga.grid_id JOIN admin_area a ON a.id = g.community_id "
                "JOIN admin_area s ON s.id = a.parent_id "
                "GROUP BY w.id, u.username HAVING count(DISTINCT g.community_id) = 1 "
                "ORDER BY w.id"
            )
        ).all()
        a = pairs[0]
        others = [p for p in pairs if p.community != a.community]
        b = next((p for p in others if p.street != a.street), others[0])
        area_a = _pick_area(conn, a.community, "MXA", category, a.worker)
        area_b = _pick_area(conn, b.community, "MXB", category, b.worker)
        if area_b.street == area_a.street:
            # the sample has one street: B moves to a street of its own, so that street
            # staff too have another area
            area_b.street = conn.execute(
                text(
                    "INSERT INTO admin_area (code, name, level, parent_id, geom) "
                    "SELECT s.code || '9', '矩阵街道', 'street', s.parent_id, c.geom "
                    "FROM admin_area c JOIN admin_area s ON s.id = c.parent_id "
                    "WHERE c.id = :c RETURNING code"
                ),
                {"c": area_b.id},
            ).scalar_one()
            conn.execute(
                text(
                    "UPDATE admin_area SET parent_id = (SELECT id FROM admin_area "
                    "WHERE code = :s) WHERE id = :c"
                ),
                {"s": area_b.street, "c": area_b.id},
            )
        # two districts of one city: B's street leaves the sample district for a district
        # of its own (the grid codes stay as they are)
        conn.execute(
            text(
                "INSERT INTO admin_area (code, name, level, geom) SELECT '330100', '矩阵市', "
                "'city', ST_Multi(ST_Envelope(ST_Buffer(geom, 0.01))) FROM admin_area "
                "WHERE code = '330106'"
            )
        )
        conn.execute(
            text(
                "INSERT INTO admin_area (code, name, level, parent_id, geom) SELECT '330199', "
                "'矩阵区', 'district', (SELECT id FROM admin_area WHERE code = '330100'), "
                "geom FROM admin_area WHERE code = :s"
            ),
            {"s": area_b.street},
        )
        conn.execute(
            text(
                "UPDATE admin_area SET parent_id = CASE code WHEN '330106' THEN "
                "(SELECT id FROM admin_area WHERE code = '330100') ELSE "
                "(SELECT id FROM admin_area WHERE code = '330199') END "
                "WHERE code IN ('330106', :s)"
            ),
            {"s": area_b.street},
        )
        ids = conn.execute(
            text(
                "SELECT i.id_number, i.phone, g.community_id FROM resident_identity i "
                "JOIN resident r ON r.id = i.resident_id JOIN household h ON h.id = r.household_id "
                "JOIN grid g ON g.id = h.grid_id"
            )
        ).all()
        resident_of_a = conn.execute(
            text("SELECT id FROM resident WHERE household_id = :h LIMIT 1"),
            {"h": area_a.household},
        ).scalar_one()
    tokens = {
        "admin": accounts.issue_token(engine, "mx_admin", "admin"),
        "city_staff": accounts.issue_token(engine, "mx_city", "city_staff", "330100"),
        "district_staff": accounts.issue_token(engine, "mx_district", "district_staff", "330106"),
        "street_staff": accounts.issue_token(engine, "mx_street", "street_staff", area_a.street),
        "community_staff": accounts.issue_token(
            engine, "mx_community", "community_staff", area_a.code
        ),
        "grid_worker": accounts.issue_token(engine, a.username, "grid_worker"),
        "resident": accounts.issue_token(engine, "mx_resident", "resident"),
        "reporter": accounts.issue_token(engine, "mx_reporter", "resident"),
        "revoked": accounts.issue_token(engine, "mx_revoked", "community_staff", area_a.code),
    }
    accounts.revoke_access(engine, "mx_revoked")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO resident_account (user_id, resident_id) SELECT id, :r FROM app_user "
                "WHERE username = 'mx_resident'"
            ),
            {"r": resident_of_a},
        )
        conn.execute(
            text(
                "UPDATE incident SET reporter_id = (SELECT id FROM app_user WHERE username = "
                "'mx_reporter') WHERE id = :i"
            ),
            {"i": area_a.incident},
        )
        b_staff = conn.execute(
            text(
                "SELECT username FROM app_user u JOIN admin_area a ON a.id = u.area_id "
                "WHERE a.id = :c AND u.role = 'community_staff' LIMIT 1"
            ),
            {"c": area_b.id},
        ).scalar()
    identities_a, identities_b = set(), set()
    for number, phone, community in ids:
        target = identities_b if community == area_b.id else identities_a
        opened = (crypt.open_value("id_number", number), crypt.open_value("phone", phone))
        target.update(v for v in opened if v)
    identities_a.add(area_a.phone)
    identities_b.add(area_b.phone)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    with LiveServer(database_url, get_settings()) as server:
        w, s, e, n = grid_store.current_grids(engine).total_bounds
        band = box(w - 0.001, s - 0.001, e + 0.001, n + 0.001)
        feature = {"type": "Feature", "properties": {"name": "矩阵台风"}, "geometry": mapping(band)}
        hazard = httpx.post(
            f"{server.url}/api/hazards",
            params={"kind": "typhoon", "severity": 3},
            json=feature,
            headers=admin,
            timeout=120,
        )
        assert hazard.status_code == 201, hazard.text
        hazard_id = hazard.json()["id"]
        alert = httpx.post(
            f"{server.url}/api/hazards/{hazard_id}/alerts",
            json={"group": "vulnerable"},
            headers=admin,
            timeout=120,
        )
        assert alert.status_code == 201, alert.text
        yield {
            "url": server.url,
            "tokens": tokens,
            "a": area_a,
            "b": area_b,
            "b_staff": b_staff or "admin",
            "category": category,
            "facility": facility,
            "hazard": hazard_id,
            "alert": alert.json()["alert_id"],
            "identities_a": identities_a,
            "identities_b": identities_b,
        }


# ------------------------------------------------------------------ the requests


def _params(world: dict, area: Area) -> dict[str, list[str]]:
    """Values of each path parameter for a request about ``area`` (lists: one request each)."""
    return {
        "incident_id": [str(area.incident)],
        "photo_id": ["1"],
        "household_id": [str(area.household)],
        "notice_id": [str(area.notice)],
        "hazard_id": [str(world["hazard"])],
        "alert_id": [str(world["alert"])],
        "key": ["matrix"],
        "name": [str(area.incident)],
        "fmt": ["json"],
        "kind": ["residents", "households", "incidents"],
        "username": ["mx_community" if area is world["a"] else world["b_staff"]],
        "layer": ["incidents", "checkon", "buildings", "grids"],
        "facility_id": [str(world["facility"])],
        # the basemap labels' glyphs: the regular fontstack, Latin and the first CJK range
        "fontstack": list(label_stacks() or ("Noto Sans CJK SC Regular",))[:1],
        "glyph_range": ["0-255", "19968-20223"],
    }


def _query(world: dict, area: Area, route: str) -> dict[str, str]:
    q = {
        "area": area.code,
        "format": "csv",
        "grid": area.grid_code,
        "task": str(area.incident),
        "lon": f"{area.lon:.6f}",
        "lat": f"{area.lat:.6f}",
        "community": area.code,
        "street": area.street,
    }
    if "registry" in route:
        q["q"] = area.resident_phone  # a search by another area's phone finds nothing
    if "planning" in route:
        q["kind"] = "elder_care"
    if route == "GET /reports/daily":
        del q["street"]  # one area: the community
    return q


def _urls(world: dict, route: str, area: Area) -> list[str]:
    method, path = route.split(" ", 1)
    if method == "MOUNT":
        items = "items?limit=100"
        return [
            f"{path}/collections",
            *(f"{path}/collections/{c}/{items}" for c in ("pub_incident", "public.pub_incident")),
            *(f"{path}/collections/{c}/{items}" for c in ("pub_building", "public.pub_building")),
        ]
    urls = [path]
    for name, values in _params(world, area).items():
        token = "{" + name + "}"
        if token in path:
            urls = [u.replace(token, v) for u in urls for v in values]
    if "{z}" in path:
        z, x, y = _tile(area.lon, area.lat)
        urls = [
            u.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y)) for u in urls
        ]
    return urls


@dataclass
class Answer:
    route: str
    role: str
    area: str
    url: str
    status: int
    body: bytes


def _ask(world: dict, client: httpx.Client, route: str, role: str, area: Area) -> list[Answer]:
    method = route.split(" ", 1)[0]
    token = world["tokens"].get(role)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answers = []
    for url in _urls(world, route, area):
        query = _query(world, area, route) if method != "MOUNT" else None
        if method == "POST":
            r = client.post(url, json={"reason": "矩阵测试核对住户信息"}, headers=headers)
        else:
            r = client.get(url, params=query, headers=headers)
        answers.append(Answer(route, role, area.mark, str(r.request.url), r.status_code, r.content))
    return answers


#: The words the marks of :func:`_pick_area` are followed by.
SUFFIXES = ("事件描述", "联系人", "通知", "楼")
DIGITS = re.compile(rb"(?<![0-9])(?:[0-9]{17}[0-9X]|1[3-9][0-9]{9})(?![0-9])")


def _leaks(world: dict, answer: Answer) -> list[str]:
    """What ``answer`` shows that its role may not see."""
    body, role, route = answer.body, answer.role, answer.route
    found = []
    numbers = {m.decode() for m in DIGITS.findall(body)}
    own, other = world["identities_a"], world["identities_b"]
    allowed_kinds = PUBLIC.get(route, set())
    for mark in ("MXA", "MXB"):
        # a mark is followed by its Chinese word: "MXB" alone may be a chance run of base64
        hits = list(re.finditer(f"{mark}({'|'.join(SUFFIXES)})".encode(), body))
        if not hits:
            continue
        kinds = {"building" if m.group(1) == "楼".encode() else "record" for m in hits}
        kinds -= allowed_kinds
        if not kinds:
            continue
        start = hits[0].start()
        around = body[max(start - 60, 0) : start + 30].decode(errors="replace")
        seen = f"{mark} {sorted(kinds)} in …{around!r}…"
        if role in OUTSIDERS or (mark == "MXB" and role in AREA_ROLES):
            found.append(seen)
    # what the caller sent (a search by phone) may come back: it is theirs
    numbers -= {m.decode() for m in DIGITS.findall(answer.url.encode())}
    full = numbers & (own | other)
    kinds = {ID if len(n) == 18 else PHONE for n in full} - DESIGNED.get((route, role), set())
    if kinds:
        found.append(f"{len(full)} identities in full ({', '.join(sorted(kinds))})")
    if numbers & other and role in (*AREA_ROLES, *OUTSIDERS):
        found.append("identities of another area")
    return found


def test_no_role_sees_another_area_or_an_unmasked_identity(world: dict) -> None:
    scoped = [r for r, kind in ROUTES.items() if kind == SCOPED]
    public = [r for r, kind in ROUTES.items() if kind == PUBLIC_ROUTE]
    # city staff ask about B only: both areas are theirs, and B, in the other district,
    # is the one that tells their area from a district's (A's records reach them through
    # every listing anyway, asserted below); the matrix stays about as fast
    jobs = [
        (r, role, area)
        for r in scoped
        for role in ROLES
        for area in (world["a"], world["b"])
        if role != "city_staff" or area is world["b"]
    ]
    jobs += [(r, "anonymous", world["a"]) for r in public]
    answers: list[Answer] = []
    with httpx.Client(base_url=world["url"], timeout=60) as client, ThreadPoolExecutor(6) as pool:
        for batch in pool.map(lambda job: _ask(world, client, *job), jobs):
            answers.extend(batch)
    leaks = [
        f"{a.role} {a.area} {a.url} ({a.status}): {', '.join(found)}"
        for a in answers
        if (found := _leaks(world, a))
    ]
    errors = [f"{a.role} {a.url}: {a.status} {a.body[:300]!r}" for a in answers if a.status >= 500]
    assert not leaks, f"{len(leaks)} leak(s) in {len(answers)} answers:\n" + "\n".join(leaks)
    assert not errors, "server errors:\n" + "\n".join(errors)
    # the matrix asked something real: each area role saw its own area somewhere
    for role in ("community_staff", "grid_worker", "district_staff", "city_staff", "admin"):
        assert any(b"MXA" in a.body for a in answers if a.role == role and a.status == 200), role
    # and a city's staff saw the other district too
    assert any(b"MXB" in a.body for a in answers if a.role == "city_staff" and a.status == 200)
    assert len(answers) > 500, len(answers)
