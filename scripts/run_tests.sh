#!/usr/bin/env bash
# make test's test run, in three phases (tests/phases.py says why):
#   1. the tests that open no page, in TEST_WORKERS processes (pytest-xdist);
#   2. those that open a page in Chromium (marker "browser"), in TEST_WORKERS processes,
#      a test file to a process (its module fixtures, a district and a server, built once);
#   3. those marked "solo", alone.
# The last two import only the test files that may hold their tests (tests.phases).
# TEST_WORKERS=0 runs everything in one process.  Arguments go to pytest (every phase).
# Exit status: the first failing phase's, else 0.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
WORKERS="${TEST_WORKERS:-2}"
# Bytecode is written and read again (__pycache__, ignored by git; make clean removes it):
# with PYTHONDONTWRITEBYTECODE set, as some machines set it, every test process compiled
# the project again and pytest rewrote every test module at each collection (20 of a
# collection's 30 s), and every command a test runs compiled what it imports (0.3 s each)
unset PYTHONDONTWRITEBYTECODE
if [ "$WORKERS" = 0 ]; then
    exec "$PY" -m pytest "$@"
fi
status=0
run_phase() { # run_phase PHASE PYTEST-ARGS... ; PHASE "all", "pages" or "solo" (tests.phases)
    local phase="$1"
    shift
    WANGGE_TEST_PHASE="$phase" "$PY" -m pytest "$@"
    local code=$?
    # 5: no test selected (ARGS chose none of this phase)
    if [ "$code" != 0 ] && [ "$code" != 5 ] && [ "$status" = 0 ]; then
        status=$code
    fi
}
run_phase all -n "$WORKERS" -m "not browser and not solo" "$@"
run_phase pages -n "$WORKERS" --dist loadfile -m "browser and not solo" "$@"
run_phase solo -m solo "$@"
exit "$status"
