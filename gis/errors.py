"""The kinds of error every package raises, so that every door answers each kind one way.

Six kinds, each also a built-in exception so that plain Python callers catch them as
they would expect (an :class:`InvalidInput` is a ``ValueError``):

==================  =====================  ===========================================
kind                built-in               meaning (the HTTP answer, in ``api/errors.py``)
==================  =====================  ===========================================
``InvalidInput``    ``ValueError``         the caller's input is wrong (422; 413 when
                                           :class:`TooLarge`)
``NotFound``        ``LookupError``        no such thing, or the caller may not know it (404)
``Forbidden``       ``PermissionError``    the caller may not do this (403)
``Conflict``        ``RuntimeError``       the state does not allow it now (409)
``Unavailable``     ``RuntimeError``       a part the answer needs is missing or down (503;
                                           429 when :class:`TooManyRequests`)
``Unauthorized``    ``PermissionError``    no valid credentials (401)
==================  =====================  ===========================================

Each package has a base of its own (:class:`GisError`, ``GridError`` in ``grids``,
``EtlError`` in ``etl``, ``AnalysisError`` in ``analysis``, ``MapError`` in ``maps``,
``ServiceError`` in ``api.services``) and each concrete error is one line that names its
package base and its kind::

    class CoverageError(AnalysisError, InvalidInput):
        \"\"\"Bad input to a coverage analysis.\"\"\"

An error's message says what went wrong, where, and how to fix it.  An
:class:`InvalidInput` may carry ``problems``: one :class:`Problem` per row and field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class WanggeError(Exception):
    """Base of every error this project raises on purpose."""

    #: A short title for the answer (e.g. "Changed meanwhile"); the kind's own when empty.
    title: str = ""


class InvalidInput(WanggeError, ValueError):
    """The caller's input is wrong; the message says what, where and how to fix it."""

    #: Row-and-field problems, when the input was a table or a form.
    problems: Sequence[Problem] = ()


class TooLarge(InvalidInput):
    """The input is over a size limit; the message states the limit and how to split it."""


class NotFound(WanggeError, LookupError):
    """The thing asked for does not exist, or the caller may not know that it does."""


class Forbidden(WanggeError, PermissionError):
    """The caller's role or area does not allow this."""


class Conflict(WanggeError, RuntimeError):
    """The current state does not allow this (a case moved meanwhile, a name in use …)."""


class Unavailable(WanggeError, RuntimeError):
    """Something the answer needs is missing or down (the database, the road network …)."""


class TooManyRequests(Unavailable):
    """The caller sent more than their share; ``retry_after_s`` says when to try again."""

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unauthorized(WanggeError, PermissionError):
    """No credentials, or ones that are unknown, expired or revoked."""


KINDS: tuple[type[WanggeError], ...] = (
    InvalidInput,
    NotFound,
    Forbidden,
    Conflict,
    Unavailable,
    Unauthorized,
)


@dataclass(frozen=True)
class Problem:
    """One problem in the input: where (layer, 1-based row, record id, field), what, the fix.

    ``severity`` is ``"error"`` (the input is refused) or ``"warning"`` (reported only).
    """

    layer: str
    row: int | None
    record_id: str | None
    field: str
    message: str
    fix: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.layer}"
        if self.row is not None:
            where += f" row {self.row}"
        if self.record_id is not None:
            where += f" (id {self.record_id})"
        return f"{where}, field '{self.field}': {self.message} — {self.fix}"


# ------------------------------------------------------------------ one base per package


class GisError(WanggeError):
    """Base of the errors of ``gis``: coordinates, validation, the database and its stores."""


class GridError(WanggeError):
    """Base of the errors of ``grids``: codes, topology, design, access, the incident loop."""


class EtlError(WanggeError):
    """Base of the errors of ``etl``: files in and out, loads, imports."""


class AnalysisError(WanggeError):
    """Base of the errors of ``analysis``: networks, shelters, dispatch, coverage, awareness."""


class MapError(WanggeError):
    """Base of the errors of ``maps``: pages and their offline assets."""


class ServiceError(WanggeError):
    """Base of the errors of ``api.services``: the use cases."""


class ValidationError(GisError, InvalidInput):
    """Input refused, with every problem found (not just the first), each by row and field."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        lines = _grouped(errors)
        shown = "\n".join(f"  - {line}" for line in lines[:20])
        more = f"\n  … and {len(lines) - 20} more" if len(lines) > 20 else ""
        super().__init__(f"{len(errors)} problem(s) in the input:\n{shown}{more}")


def _grouped(errors: Sequence[Problem], after: int = 3) -> list[str]:
    """One line per problem, but one line with a count for more than ``after`` alike ones."""
    groups: dict[tuple[str, str, str, str], list[Problem]] = {}
    for p in errors:
        groups.setdefault((p.layer, p.field, p.message, p.fix), []).append(p)
    lines: list[str] = []
    for (layer, field, message, fix), group in groups.items():
        if len(group) <= after:
            lines += [str(p) for p in group]
            continue
        rows = [str(p.row) for p in group if p.row is not None][:5]
        shown = ", ".join(rows) + (" …" if len(group) > len(rows) else "")
        lines.append(f"{layer}, {len(group):,} rows ({shown}), field '{field}': {message} — {fix}")
    return lines
