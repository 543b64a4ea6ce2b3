# Wangge developer tasks.  Extra arguments go in ARGS, e.g.
#   make demo ARGS="--households 5000"     make test ARGS="-k cluster -x"
# Everything runs from .venv (created by `make setup`); no activation needed.

VENV   := .venv
PYTHON := $(VENV)/bin/python
SETUP  := bash scripts/setup.sh
# test processes of make test (pytest-xdist; 0: one process, the tests in this one)
TEST_WORKERS ?= 2
ARGS   ?=

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint bench clean stop-db

help:
	@echo "make setup     install everything (Python venv, PostgreSQL/PostGIS, map assets)"
	@echo "make demo      set up, then run the demo (wangge demo \$$ARGS)"
	@echo "make test      set up with test tools (Chromium), then run pytest \$$ARGS"
	@echo "make lint      ruff check + ruff format --check"
	@echo "make bench     run every benchmarks/*.py"
	@echo "make clean     remove build artefacts and test output (keeps .venv and .data)"
	@echo "make stop-db   stop the private PostgreSQL cluster, if one was started"

setup:
	$(SETUP)

demo:
	$(SETUP)
	$(VENV)/bin/wangge demo $(ARGS)

test:
	$(SETUP) --test
	TEST_WORKERS=$(TEST_WORKERS) bash scripts/run_tests.sh $(ARGS)

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench:
	$(SETUP) --bench
	@set -e; found=0; for f in benchmarks/*.py; do \
		[ -e "$$f" ] || continue; \
		case "$$(basename "$$f")" in _*) continue ;; esac; \
		found=1; echo "== $$f"; $(PYTHON) "$$f" $(ARGS); \
	done; [ "$$found" = 1 ] || echo "no benchmarks/*.py yet"

clean:
	rm -rf build dist test-artifacts .pytest_cache .ruff_cache .mypy_cache .hypothesis
	rm -rf *.egg-info
	find . -path ./.venv -prune -o -path ./maps/node_modules -prune -o \
		-type d -name __pycache__ -prune -exec rm -rf {} +

stop-db:
	$(PYTHON) -m gis.db.cluster stop
