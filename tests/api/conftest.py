"""Helpers shared by test modules of this folder get pytest's assertion messages too."""

import pytest

pytest.register_assert_rewrite("tests.api.awareness_shared", "tests.api.incidents_shared")
