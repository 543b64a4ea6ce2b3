"""The log scan of the suite (tests/log_scan.py) finds what it must and nothing else."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.log_scan import leaks_in_text, valid_id_number

#: A valid ID number (check digit X) and one with a wrong check digit.
ID_OK, ID_BAD = "11010519491231002X", "110105194912310021"


def _kinds(line: str) -> list[str]:
    return [leak.kind for leak in leaks_in_text([line], Path("server.log"))]


def test_check_digits() -> None:
    assert valid_id_number(ID_OK) and valid_id_number(ID_OK.lower())
    assert not valid_id_number(ID_BAD) and not valid_id_number("12345")


def test_what_a_log_must_not_hold_is_found() -> None:
    token = secrets.token_urlsafe(32)
    assert "bearer token" in _kinds(f"Authorization: Bearer {token}")
    assert "bearer token" in _kinds("Authorization: Bearer HTTP/1.1.abcdef")
    assert "token-shaped value" in _kinds(f'"GET /api/x?key={token} HTTP/1.1" 200')
    assert _kinds("cookie: wangge_session=abcdefgh12345678") == ["session cookie"]
    assert _kinds(f"resident {ID_OK} moved") == ["ID number"]
    assert _kinds("call 13912345678 now") == ["phone"]


def test_ordinary_log_lines_pass() -> None:
    lines = [
        '127.0.0.1:5555 - "GET /api/registry?q=%E7%8E%8B&limit=50 HTTP/1.1" 200',
        '127.0.0.1:5555 - "GET /open311/v2/requests.json?api_key=*** HTTP/1.1" 200',
        "digest 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        f"id number {ID_BAD} refused, 110105********002X masked, 139****5678 masked",
        "uuid 123e4567-e89b-12d3-a456-426614174000 at 1733456789123 ms, tile /14/13712/6705",
        "Authorization: Bearer ***",
        # the fuzzer asked for a user named "Bearer" (it did, in a run of the suite)
        '127.0.0.1:56568 - "GET /admin/users/Bearer HTTP/1.1" 404',
    ]
    assert [k for line in lines for k in _kinds(line)] == []
