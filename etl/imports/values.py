"""Values as offices write them: Chinese choices, tags, dates, ID numbers, yes and no.

Each function takes a column and returns the values we store and a mask of the ones
that cannot be read (the caller reports them by row).  Work is done once per distinct
value, so a register of hundreds of thousands of rows with a few hundred distinct
values costs little.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pandas as pd

from etl.imports.addresses import room_of
from etl.imports.dictionary import TAGS, Field
from gis.validate import (
    FALSE_SPELLINGS,
    TRUE_SPELLINGS,
)

_TAG_SPLIT = re.compile(r"[、,，;；/|\s]+")
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = "10X98765432"
#: a year (four digits, not five: 18330 is no year), then perhaps month and day
_DATE = re.compile(
    r"^\s*(\d{4})(?!\d)\s*(?:[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(\d{1,2})\s*日?)?\s*月?)?"
)


def normalise_value(value: object) -> str:
    """Text as compared: half-width (NFKC), trimmed, lower-case."""
    return unicodedata.normalize("NFKC", str(value)).strip().lower()


def _per_distinct(
    values: pd.Series, parse: Callable[[object], object]
) -> tuple[pd.Series, np.ndarray]:
    """Apply ``parse`` once per distinct non-blank value; None and a flag where it fails."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = np.empty(len(uniques), dtype=object)
    failed = np.zeros(len(uniques), dtype=bool)
    blank = np.zeros(len(uniques), dtype=bool)
    for i, v in enumerate(uniques):
        if isinstance(v, str) and not v.strip():
            blank[i] = True
            continue
        try:
            results[i] = parse(v)
        except (ValueError, TypeError):
            failed[i] = True
    present = codes >= 0
    at = np.where(present, codes, 0)
    out = np.where(present, results[at] if len(uniques) else None, None)
    bad = present & (failed[at] if len(uniques) else False)
    out[bad] = None
    return pd.Series(out, index=values.index, dtype=object), np.asarray(bad, dtype=bool)


def choices(values: pd.Series, field: Field) -> tuple[pd.Series, np.ndarray]:
    """Stored values of a choice column: ``住宅`` → ``residential``; unknown ones flagged."""
    lookup: dict[str, str] = {}
    for c in field.choices:
        for spelling in (c.value, c.zh, *c.also):
            lookup.setdefault(normalise_value(spelling), c.value)

    def parse(v: object) -> str:
        key = normalise_value(v)
        if key in lookup:
            return lookup[key]
        # a longer spelling that names one choice (社区卫生服务站 → 卫生服务站)
        hits = {
            value for spelling, value in lookup.items() if len(spelling) > 1 and spelling in key
        }
        if len(hits) == 1:
            return hits.pop()
        raise ValueError(v)

    return _per_distinct(values, parse)


def yes_no(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """True / False from 是/否, yes/no, 1/0, √/×."""

    def parse(v: object) -> bool:
        if isinstance(v, bool | np.bool_):
            return bool(v)
        key = normalise_value(v)
        if isinstance(v, int | float) and not isinstance(v, bool):
            key = str(int(v)) if float(v).is_integer() else key
        if key in TRUE_SPELLINGS or key in ("√", "✓", "有"):
            return True
        if key in FALSE_SPELLINGS or key in ("×", "✗", "无", "-"):
            return False
        raise ValueError(v)

    return _per_distinct(values, parse)


def tags(values: pd.Series) -> tuple[pd.DataFrame, list[str]]:
    """The flags a 标签 column names, and the tags that name no flag (not stored).

    ``"独居老人、低保"`` → living_alone_elderly and low_income True.
    """
    lookup: dict[str, str] = {}
    for c in TAGS:
        for spelling in (c.value, c.zh, *c.also):
            lookup[normalise_value(spelling)] = c.value
    # once per distinct value: a register has a handful of tag combinations
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    on = {c.value: np.zeros(len(uniques) + 1, dtype=bool) for c in TAGS}  # last: blank
    other: set[str] = set()
    for i, v in enumerate(uniques):
        if isinstance(v, float) and np.isnan(v):
            continue
        words = [w for w in _TAG_SPLIT.split(normalise_value(v)) if w]
        for w in words:
            if w in lookup:
                on[lookup[w]][i] = True
            else:
                other.add(w)
    at = np.where(codes >= 0, codes, len(uniques))
    flags = {name: present[at] for name, present in on.items()}
    return pd.DataFrame(flags, index=values.index), sorted(other)


def birth_years(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The year of a date: a spreadsheet date, ``1950-03-08``, ``1950/3/8``, ``1950年3月``."""

    def parse(v: object) -> int:
        if isinstance(v, datetime | date | pd.Timestamp):
            return int(v.year)
        if isinstance(v, int | float) and not isinstance(v, bool):
            number = int(v)
            if 1890 <= number <= 2100:
                return number
            if 18900101 <= number <= 21001231:
                return number // 10000
            raise ValueError(v)
        text = normalise_value(v)
        if re.fullmatch(r"\d{8}", text):
            text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
        m = _DATE.match(text)
        if m is None:
            raise ValueError(v)
        year = int(m.group(1))
        if m.group(2) and not 1 <= int(m.group(2)) <= 12:
            raise ValueError(v)
        return year

    return _per_distinct(values, parse)


def id_numbers(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """ID numbers (身份证号) checked: 18 characters, the check digit right; ``x`` → ``X``."""
    if len(values) and pd.api.types.infer_dtype(values, skipna=True) == "string":
        return _id_numbers_text(values)
    return _id_numbers_each(values)


def _id_numbers_text(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The same check, vectorised, for a column of text (a CSV, text cells of a workbook)."""
    text = values.astype("string").str.strip().str.replace(" ", "", regex=False).str.upper()
    present = (text.notna() & (text != "")).to_numpy(dtype=bool)
    shaped = text.str.fullmatch(r"\d{17}[\dX]").fillna(False).to_numpy(dtype=bool)
    good = shaped.copy()
    if shaped.any():
        raw = "".join(text[shaped].tolist()).encode("ascii")
        digits = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
        expected = np.frombuffer(_ID_CHECK.encode(), dtype=np.uint8)[
            ((digits[:, :17].astype(np.int64) - ord("0")) @ _ID_WEIGHTS) % 11
        ]
        good[shaped] = expected == digits[:, 17]
    bad = present & ~good
    out = text.astype(object).where(good, None)
    return out, bad


def _id_numbers_each(values: pd.Series) -> tuple[pd.Series, np.ndarray]:

    def parse(v: object) -> str:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        text = normalise_value(v).upper().replace(" ", "")
        if not re.fullmatch(r"\d{17}[\dX]", text):
            raise ValueError(v)
        digits = np.frombuffer(text[:17].encode(), dtype=np.uint8) - ord("0")
        if _ID_CHECK[int(digits @ _ID_WEIGHTS) % 11] != text[17]:
            raise ValueError(v)
        return text

    return _per_distinct(values, parse)


def id_check_digit(first17: str) -> str:
    """The check digit of an ID number's first 17 digits (GB 11643)."""
    digits = np.frombuffer(first17.encode(), dtype=np.uint8) - ord("0")
    return _ID_CHECK[int(digits @ _ID_WEIGHTS) % 11]


def from_id_number(numbers: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Birth year and sex (M/F) a valid ID number holds (None where there is no number)."""
    text = numbers.astype(object)
    present = text.notna()
    year = pd.Series(None, index=numbers.index, dtype=object)
    sex = pd.Series(None, index=numbers.index, dtype=object)
    if present.any():
        s = text[present].astype(str)
        year[present] = s.str[6:10].astype(int).to_numpy()
        sex[present] = np.where(s.str[16].astype(int) % 2 == 1, "M", "F")
    return year, sex


def rooms(values: pd.Series) -> pd.Series:
    """A 室 column, each room as addresses give it (:func:`addresses.room_of`)."""
    return _per_distinct(values, room_of)[0]


def texts(values: pd.Series) -> pd.Series:
    """Text as stored: trimmed, a spreadsheet's 1001.0 written 1001, blanks missing."""
    if isinstance(values.dtype, pd.StringDtype) or (
        len(values) and pd.api.types.infer_dtype(values, skipna=True) == "string"
    ):
        stripped = values.astype("string").str.strip()
        stripped = stripped.where((stripped != "").fillna(False))
        return pd.Series(
            stripped.to_numpy(dtype=object, na_value=None), index=values.index, dtype=object
        )

    def one(v: object) -> object:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, datetime | pd.Timestamp):
            return v.strftime("%Y-%m-%d")
        out = str(v).strip()
        return out or None

    return values.map(one).astype(object)
