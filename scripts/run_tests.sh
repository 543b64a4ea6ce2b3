#!/usr/bin/env bash
# make test's test run: the suite in TEST_WORKERS processes (pytest-xdist), then the tests
# marked "solo" on their own; TEST_WORKERS=0 runs everything in one process.  Arguments go
# to pytest (both runs).  Exit status: the first failure's, else 0.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
WORKERS="${TEST_WORKERS:-2}"
if [ "$WORKERS" = 0 ]; then
    exec "$PY" -m pytest "$@"
fi
"$PY" -m pytest -n "$WORKERS" -m "not solo" "$@"
parallel=$?
"$PY" -m pytest -m solo "$@"
solo=$?
# 5: no test selected (ARGS chose none of one part)
[ "$parallel" = 5 ] && [ "$solo" = 0 ] && parallel=0
[ "$solo" = 5 ] && solo=0
[ "$parallel" != 0 ] && exit "$parallel"
exit "$solo"
