"""Input types every door shares: text fit to store, ids bounded to their column's type.

Declared once and used in the request models and in the path and query parameters, so
that bad input is refused before a route runs (422, naming the field) instead of
failing in the database with a 500: a NUL character or a lone surrogate in a text, an
id beyond the range of its column.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import AfterValidator, BeforeValidator

from gis.validate import (
    text_problem,
)

#: The largest value of PostgreSQL's ``integer`` and ``bigint``.
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1


def storable(value: str) -> str:
    """The text itself, or a ``ValueError`` saying why it cannot be stored (NUL, surrogate)."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: Text a person sends: refused when it holds a NUL character or a lone UTF-16 surrogate.
Text = Annotated[str, AfterValidator(storable)]
#: The id of a row of an ``integer`` key: grids, users, workers, hazards, alerts, scenarios.
Id = Annotated[int, Interval(ge=1, le=INT4_MAX)]
#: The id of a row of a ``bigint`` key: incidents, photos, households, residents, facilities.
BigId = Annotated[int, Interval(ge=1, le=INT8_MAX)]


def one_of(name: str, values: tuple[str, ...]) -> Any:
    """A choice among ``values``: an enumeration in ``/docs``, refused before the route runs.

    The refusal (422) names the parameter and the choices: ``by must be one of h3_cell,
    grid_id, community_id, not 'street'``.
    """

    def check(value: object) -> object:
        if value not in values:
            raise ValueError(f"{name} must be one of {', '.join(values)}, not {value!r}")
        return value

    return Annotated[Literal[values], BeforeValidator(check)]  # type: ignore[valid-type]
