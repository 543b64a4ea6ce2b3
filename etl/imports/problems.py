"""What is wrong with an imported file, said by sheet, row, column and value, and the rejects file.

A problem names the place a user finds in their own file (the sheet, the row number
Excel shows, the column's own header, the value) and how to fix it.  Many rows with the
same problem are told once, with their count and first rows (an error about the service
area is one line, not one per row).  With ``--on-error skip`` the rows refused are
written to a rejects file, each with its reasons, in the file's own columns so it can be
corrected and imported again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gis.errors import EtlError, InvalidInput

#: The columns a rejects file adds (the importers pass over them when it comes back).
ROW_COLUMN = "原行号"
REASON_COLUMN = "原因"
#: Rows with one problem listed one by one up to this many; beyond, one line with a count.
GROUP_AFTER = 3


@dataclass(frozen=True)
class RowProblem:
    """One problem: where (sheet, row, column), the value, what is wrong, how to fix it.

    ``row`` is None for a problem of the whole file (a missing column).
    """

    sheet: str
    row: int | None
    column: str | None
    value: object
    message: str
    fix: str

    def __str__(self) -> str:
        where = self.sheet
        if self.row is not None:
            where += f" row {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        value = "" if _blank(self.value) else f" ({_show(self.value)})"
        return f"{where}{value}: {self.message} — {self.fix}"

    @property
    def cell(self) -> str:
        """The value as the file's cell holds it; "" for an empty one (not nan, not <NA>)."""
        if _blank(self.value):
            return ""
        return self.value if isinstance(self.value, str) else _show(self.value)


class ImportRejected(EtlError, InvalidInput):
    """The file was refused as a whole: nothing was stored.  Carries every problem."""

    def __init__(self, problems: Sequence[RowProblem], hint: str | None = None):
        self.problems = list(problems)
        self.hint = hint
        lines = summarise(self.problems)
        head = f"{len(self.problems)} problem(s); nothing was stored:"
        text = "\n".join([head, *(f"  - {line}" for line in lines)])
        if hint:
            text += f"\n{hint}"
        super().__init__(text)


def _blank(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, str) and not value.strip()


def _show(value: object) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def summarise(problems: Sequence[RowProblem], limit: int = 30) -> list[str]:
    """Problems as lines: alike ones (same column, message, fix) grouped with a count."""
    groups: dict[tuple[str, str | None, str, str], list[RowProblem]] = {}
    for p in problems:
        groups.setdefault((p.sheet, p.column, p.message, p.fix), []).append(p)
    lines: list[str] = []
    for (sheet, column, message, fix), group in groups.items():
        if len(group) <= GROUP_AFTER:
            lines += [str(p) for p in group]
            continue
        rows = [p.row for p in group if p.row is not None]
        shown = ", ".join(str(r) for r in rows[:5]) + (" …" if len(rows) > 5 else "")
        where = f"{sheet}, {len(group):,} rows ({shown})"
        if column:
            where += f", column '{column}'"
        lines.append(f"{where}: {message} — {fix}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"… and {len(lines) - limit} more kinds of problem"]
    return lines


def rejected_rows(problems: Sequence[RowProblem]) -> dict[int, list[str]]:
    """File row → the reasons it was refused."""
    out: dict[int, list[str]] = {}
    for p in problems:
        if p.row is not None:
            reason = f"{p.column}: {p.message} — {p.fix}" if p.column else f"{p.message} — {p.fix}"
            out.setdefault(p.row, []).append(reason)
    return out


def write_rejects(
    frame: pd.DataFrame, rows: np.ndarray, reasons: dict[int, list[str]], path: Path
) -> Path:
    """Write the refused records (the file's own columns) and their reasons to a file.

    Parameters
    ----------
    frame
        The records as read, under the file's headers (geometry left out).
    rows
        The file row of each record of ``frame``.
    reasons
        File row → reasons, for the rows refused.
    path
        Where to write; ``.xlsx`` or ``.csv`` (UTF-8 with BOM, which Excel opens).
    """
    take = np.isin(rows, list(reasons))
    out = pd.DataFrame(frame.loc[take].drop(columns=_geometry_columns(frame)))
    out.insert(0, ROW_COLUMN, rows[take])
    out[REASON_COLUMN] = ["; ".join(reasons[int(r)]) for r in rows[take]]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        out.to_csv(path, index=False, encoding="utf-8-sig")
    else:
        out.to_excel(path, index=False, sheet_name="rejects", engine="openpyxl")
    return path


def _geometry_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(frame[c].dtype) == "geometry"]
