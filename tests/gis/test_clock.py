"""One clock for every process of a run: ``WANGGE_NOW`` sets it once, children read it on.

Each test runs Python in fresh processes, so that this process's own clock (shifted or
not by the suite's ``WANGGE_NOW``) is not touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: A parent reads the clock, waits, starts a child that reads it too; both printed.
PARENT = """
import subprocess, sys, time
from gis import clock
first = clock.now()
time.sleep(1.5)
child = subprocess.run(
    [sys.executable, "-c", "from gis import clock; print(clock.now().isoformat())"],
    capture_output=True, text=True, check=True,
)
print(first.isoformat())
print(child.stdout.strip())
"""


def _python(code: str, env: dict[str, str]) -> str:
    """What ``code`` prints, run in a fresh Python with ``env`` and no other WANGGE_ setting."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WANGGE_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def _run(env: dict[str, str]) -> tuple[datetime, datetime]:
    out = _python(PARENT, env).split()
    return datetime.fromisoformat(out[0]), datetime.fromisoformat(out[1])


def test_a_child_process_reads_on_from_its_parents_shifted_clock() -> None:
    start = "2031-03-01T09:00:00+08:00"
    parent, child = _run({"WANGGE_NOW": start})
    assert parent - datetime.fromisoformat(start) < timedelta(seconds=30)
    # the child does not start again at WANGGE_NOW: it is later than the parent's reading
    assert timedelta(seconds=1.4) <= child - parent < timedelta(seconds=60)


def test_a_child_given_another_time_starts_its_own_clock() -> None:
    env = {"WANGGE_NOW": "2031-03-01T09:00:00+08:00"}
    code = (
        "import os, subprocess, sys\n"
        "from gis import clock\n"
        "clock.now()\n"
        "env = dict(os.environ, WANGGE_NOW='2040-01-01T00:00:00+08:00')\n"
        "print(subprocess.run([sys.executable, '-c', 'from gis import clock; "
        "print(clock.now().isoformat())'], env=env, capture_output=True, text=True, "
        "check=True).stdout.strip())\n"
    )
    out = _python(code, env).strip()
    given = datetime.fromisoformat("2040-01-01T00:00:00+08:00")
    assert abs(datetime.fromisoformat(out) - given) < timedelta(seconds=30)


def test_without_wangge_now_the_clock_is_real_time() -> None:
    parent, child = _run({})
    real = datetime.now().astimezone()
    assert abs(parent - real) < timedelta(seconds=60) and abs(child - real) < timedelta(seconds=60)
