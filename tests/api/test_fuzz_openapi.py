"""The whole OpenAPI fuzzed against the real server: no request is answered with a 5xx.

schemathesis generates requests for every operation of the app's schema — valid ones and
invalid ones (wrong types, numbers beyond every bound, NUL characters, the wrong content
type) — and sends them over HTTP to a live server on a real database with a district
loaded, signed in as an admin (the grid worker's routes as that grid's worker), so that
the authorised routes run past 401 and 403.  Bad input must come back as a 4xx.

Bounded and deterministic: a fixed seed, derandomized generation, :data:`MAX_EXAMPLES`
generated requests per operation after schemathesis's examples and coverage phases (the
boundary values of every parameter): about 3,000 requests, a minute and a half on two
cores.  Everything the fuzzer writes (incidents, hazards, alerts, scenarios …) goes into a
database of its own, created for this module and dropped after it.

Not fuzzed: the server-sent event streams (``GET /api/live/stream``,
``GET /api/resident/stream``: any operation whose answer is ``text/event-stream``), whose
answer never ends by design, so no generated request to it would complete (a new stream
is left out by its declared answer, not by a list to remember).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from sqlalchemy import create_engine, text

from api.app import create_app
from api.inputs import INT4_MAX, INT8_MAX
from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis.settings import get_settings
from tests.conftest import LiveServer, throwaway_database

#: Generated requests per operation (the examples and coverage phases come on top).
MAX_EXAMPLES = 15
SEED = 20261123

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        # deterministic: hypothesis derandomized; no example database written to disk
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    }
)
# The schema is the app's own (no server is needed to read it), so the fuzz is collected as
# one test per operation; schemathesis's lazy from_fixture() fails under pytest 9.2.
OPENAPI = create_app().openapi()
#: Operations that cannot be fuzzed, and why: every event stream (its answer never ends).
NOT_FUZZED = {
    path: "server-sent events: the answer never ends"
    for path, operations in OPENAPI["paths"].items()
    for operation in operations.values()
    if "text/event-stream" in operation.get("responses", {}).get("200", {}).get("content", {})
}
assert "/api/live/stream" in NOT_FUZZED and "/api/resident/stream" in NOT_FUZZED
schema = schemathesis.openapi.from_dict(OPENAPI, config=CONFIG).exclude(path=list(NOT_FUZZED))


@dataclass(frozen=True)
class Fuzzed:
    """The live server of the fuzz and the tokens it signs in with."""

    server: LiveServer
    admin: dict[str, str]
    worker: dict[str, str]


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    """A server on a database of its own (dropped after), a district loaded, two tokens."""
    with throwaway_database("wangge_fuzz") as url:
        engine = create_engine(url)
        try:
            load_layers(
                engine, generate_district(1000, 3, progress=False), replace=True, progress=False
            )
            with engine.connect() as conn:
                worker = conn.execute(
                    text(
                        "SELECT u.username FROM grid_assignment a JOIN grid_worker w "
                        "ON w.id = a.worker_id JOIN app_user u ON u.id = w.user_id "
                        "WHERE a.role = 'primary' ORDER BY a.grid_id LIMIT 1"
                    )
                ).scalar_one()
            admin_token = issue_token(engine, "fuzz_admin", "admin")
            worker_token = issue_token(engine, worker, "grid_worker")
        finally:
            engine.dispose()
        # the fuzz explores inputs, not the rate limits (tests/api/test_rate_limits.py):
        # it sends more than a caller's share in a minute
        unlimited = get_settings().model_copy(
            update={"rate_writes_per_min": 0, "rate_public_per_min": 0}
        )
        with LiveServer(url, unlimited) as server:
            yield Fuzzed(
                server,
                {"Authorization": f"Bearer {admin_token}"},
                {"Authorization": f"Bearer {worker_token}"},
            )


@schema.parametrize()
def test_no_request_gets_a_server_error(case: schemathesis.Case, fuzzed: Fuzzed) -> None:
    headers = fuzzed.worker if case.operation.path.startswith("/api/worker/") else fuzzed.admin
    case.call_and_validate(
        base_url=fuzzed.server.url, headers=headers, checks=[not_a_server_error], timeout=120
    )


def _id_parameters() -> list[tuple[str, str, str, str, int | None]]:
    """(method, path, in, name, declared maximum) of every integer id of a path or query."""
    found = []
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            for p in operation.get("parameters", []):
                kinds = [p["schema"], *p["schema"].get("anyOf", [])]
                ints = [k for k in kinds if k.get("type") == "integer"]
                if ints and (p["name"].endswith("_id") or p["name"] == "task"):
                    maximum = ints[0].get("maximum")
                    found.append((method.upper(), path, p["in"], p["name"], maximum))
    return found


@pytest.mark.parametrize(("method", "path", "where", "name", "maximum"), _id_parameters())
def test_every_id_is_bounded_by_its_column(
    fuzzed: Fuzzed, method: str, path: str, where: str, name: str, maximum: int | None
) -> None:
    """An id declares the largest value of its key (integer or bigint); one more is a 422
    naming it, and the largest itself reaches the database without overflowing it."""
    assert maximum in (INT4_MAX, INT8_MAX)

    def send(value: int) -> httpx.Response:
        url = re.sub(r"\{(\w+)\}", lambda m: str(value) if m[1] == name else "1", path)
        params = {name: value} if where == "query" else {}
        return httpx.request(
            method, fuzzed.server.url + url, params=params, headers=fuzzed.admin, timeout=60
        )

    beyond = send(maximum + 1)
    assert beyond.status_code == 422, beyond.text
    assert [where, name] in [e["loc"] for e in beyond.json()["errors"]]
    largest = send(maximum)
    assert largest.status_code < 500, largest.text
    if largest.headers["content-type"] == "application/problem+json":
        assert [where, name] not in [e["loc"] for e in largest.json().get("errors", [])]
