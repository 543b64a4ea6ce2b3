"""Which tests drive Chromium: those run in a phase of their own (marker ``browser``).

``make test`` runs the suite in phases (``scripts/run_tests.sh``): the tests that open no
page in two processes, then those that do in two processes of their own, then the few
marked ``solo`` alone.  A browser flow beside another process's database-heavy work timed
out once waiting for its page (30 s) where beside another page flow it takes a few
seconds more.  Only the tests that open a page wait for their phase: a test whose
function, whose fixtures, or whose module's helpers that they call (at any depth) name a
browser helper.  The rest of such a module runs with the others.

Read from the source (:mod:`ast`), not from what a test does at run time: the split is
made before anything runs.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

#: What a test uses when it drives Chromium (:mod:`tests.browser`).
BROWSER_HELPERS = ("open_page", "serve_page", "sync_playwright")
_HELPER = re.compile(r"\b(?:" + "|".join(BROWSER_HELPERS) + r")\b")


@functools.cache
def _browser_functions(module: ModuleType) -> frozenset[str]:
    """The module-level functions of ``module`` that drive Chromium, directly or not."""
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return frozenset()
    # lines sliced by hand: ast.get_source_segment splits the whole source at every call
    # (7 s of a collection's 35 over the suite's modules)
    lines = source.splitlines()
    bodies = {
        node.name: "\n".join(lines[node.lineno - 1 : node.end_lineno])
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    uses = {name for name, body in bodies.items() if _HELPER.search(body)}
    grew = True
    while grew:
        grew = False
        for name, body in bodies.items():
            if name not in uses and any(re.search(rf"\b{u}\b", body) for u in uses):
                uses.add(name)
                grew = True
    return frozenset(uses)


def _drives_browser(function: object) -> bool:
    module = inspect.getmodule(function)
    name = getattr(function, "__name__", None)
    return module is not None and name in _browser_functions(module)


def drives_browser(item: pytest.Item) -> bool:
    """Tell whether ``item`` opens a page (itself or through one of its fixtures)."""
    function = getattr(item, "function", None)
    if function is not None and _drives_browser(function):
        return True
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        _drives_browser(definition.func)
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


def may_hold(path: Path, phase: str) -> bool:
    """Whether the test file at ``path`` may hold a test of ``phase``, read from its text.

    ``phase`` is ``scripts/run_tests.sh``'s (``WANGGE_TEST_PHASE``): ``pages`` (a test
    that opens a page names a browser helper or imports :mod:`tests.browser`), ``solo``
    (marked so); anything else, every file.  A file that cannot is not even imported in
    that phase: each phase's processes collected the whole suite, some 16 s each (the
    fuzz test's schema generation among it), to run a few files of it.
    """
    if phase not in ("pages", "solo"):
        return True
    text = path.read_text(encoding="utf-8")
    if phase == "solo":
        return "mark.solo" in text
    return _HELPER.search(text) is not None or "tests.browser" in text
