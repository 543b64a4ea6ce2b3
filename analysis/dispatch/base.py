"""What every part of dispatch shares: the default load penalty and the input error."""

from __future__ import annotations

from gis.errors import AnalysisError, InvalidInput

DEFAULT_LOAD_PENALTY_S = 600.0
"""Default load penalty: each open task weighs like 10 minutes of travel."""


class DispatchInputError(AnalysisError, InvalidInput):
    """The inputs of a dispatch are inconsistent (shapes, signs, unknown columns)."""
