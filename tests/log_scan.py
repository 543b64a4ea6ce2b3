"""The log scan after the suite (issue 18): no credential and nothing personal in a server log.

Every server a test starts logs into the run's temporary folder: the in-process servers
(:class:`tests.conftest.LiveServer`, access log included) into ``server-logs/`` through a
handler on the root logger, ``wangge serve`` started by a test into a ``server*.log`` of
its own.  :func:`leaks` reads them after the last test (``pytest_sessionfinish`` in
``tests/conftest.py``), whatever order the tests ran in, and the run fails on

* a bearer token or session id: ``Bearer <value>``, a ``wangge_session=`` cookie value,
  or any word shaped like one (43 URL-safe characters, :func:`secrets.token_urlsafe`\\(32));
* an ID number (18 digits, the last a valid check digit, GB 11643);
* a mobile phone number (``1[3-9]`` and nine digits).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: Where the in-process servers log, under the run's base temporary folder.
LOG_DIR = "server-logs"
#: Other server logs under the base temporary folder (``wangge serve`` run by a test).
LOG_GLOB = "**/server*.log"

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

TOKEN_CHARS = r"A-Za-z0-9_\-"
PATTERNS = {
    # (not the access log's protocol after a path ending in "Bearer": a fuzzer's word)
    "bearer token": re.compile(
        r"Bearer\s+(?!\*)(?!HTTP/[0-9.]+\")[" + TOKEN_CHARS + r".~+/]{8,}=*", re.IGNORECASE
    ),
    "session cookie": re.compile(r"wangge_session=(?!\*)[^;\s\"']{8,}"),
    "token-shaped value": re.compile(
        r"(?<![" + TOKEN_CHARS + r"])[" + TOKEN_CHARS + r"]{43}"
        r"(?![" + TOKEN_CHARS + r"])"
    ),
    "ID number": re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])"),
    "phone": re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])"),
}


def valid_id_number(value: str) -> bool:
    """Whether 18 characters are a Chinese resident ID number with a correct check digit."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == value[17].upper()


def _token_like(value: str) -> bool:
    # a random 43-character word has letters and digits; a path or a word of one kind not
    return bool(re.search(r"[0-9]", value) and re.search(r"[A-Za-z]", value))


@dataclass(frozen=True)
class Leak:
    """One thing a log must not hold: where, what kind, and the value masked."""

    path: Path
    line: int
    kind: str
    masked: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} {self.masked}"


def _mask(value: str) -> str:
    return value[:4] + "*" * max(len(value) - 6, 0) + value[-2:]


def leaks_in_text(lines: Iterable[str], path: Path) -> Iterator[Leak]:
    """Every leak in a log's lines."""
    for number, line in enumerate(lines, 1):
        for kind, pattern in PATTERNS.items():
            for match in pattern.finditer(line):
                value = match.group(0)
                if kind == "ID number" and not valid_id_number(value):
                    continue
                if kind == "token-shaped value" and not _token_like(value):
                    continue
                yield Leak(path, number, kind, _mask(value))


def log_files(base: Path) -> list[Path]:
    """The server logs a run wrote under its base temporary folder."""
    # with pytest-xdist each worker's folder is a ``popen-gw*`` below the run's
    found = set(base.glob(f"**/{LOG_DIR}/*.log")) | set(base.glob(LOG_GLOB))
    return sorted(p for p in found if p.is_file())


def leaks(base: Path) -> list[Leak]:
    """Every leak in the server logs under ``base``."""
    found: list[Leak] = []
    for path in log_files(base):
        with path.open(encoding="utf-8", errors="replace") as f:
            found.extend(leaks_in_text(f, path))
    return found
