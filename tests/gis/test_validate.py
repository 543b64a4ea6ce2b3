"""gis.validate.coerce_columns: values read as text get their declared types, or are named."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.validate import (
    coerce_columns,
)

KINDS = {
    "id": "integer",
    "area": "float",
    "open": "boolean",
    "at": "timestamp",
    "code": "text",
}


def test_text_values_get_their_declared_types() -> None:
    frame = pd.DataFrame(
        {
            "id": ["1", " 2 ", "3.0", ""],
            "area": ["12.5", "3", "", "-1e3"],
            "open": ["是", "否", "Yes", "f"],
            "at": ["2026-10-01 09:00", "2026-10-01T09:00:00+08:00", "", "2026-10-01 01:00Z"],
            "code": [330106109001001.0, "A1", "  ", None],
        },
        dtype=object,
    )
    out, problems = coerce_columns(frame, "layer", KINDS)
    assert problems == []
    assert out["id"].tolist()[:3] == [1, 2, 3] and out["id"].isna().tolist()[3]
    assert out["area"].tolist()[:2] == [12.5, 3.0] and np.isnan(out["area"][2])
    assert out["open"].tolist() == [True, False, True, False]
    local = pd.Timestamp("2026-10-01 09:00", tz="Asia/Shanghai")
    assert out["at"][0] == local and out["at"][1] == local and out["at"][3] == local
    assert out["at"].isna()[2]
    assert out["code"].tolist() == ["330106109001001", "A1", None, None]


def test_typed_columns_are_kept_as_they_are() -> None:
    frame = pd.DataFrame({"id": [1, 2], "area": [1.5, 2.0], "open": [True, False]})
    out, problems = coerce_columns(frame, "layer", KINDS)
    assert out is frame and problems == []


def test_values_that_cannot_be_read_are_named_by_row_and_field() -> None:
    frame = pd.DataFrame(
        {
            "id": ["1", "x5", "2.5"],
            "area": ["1", "1,5", "2"],
            "open": ["是", "maybe", "2"],
            "at": ["2026-10-01", "yesterday", "2026-10-01"],
        }
    )
    out, problems = coerce_columns(frame, "household", KINDS)
    found = {(p.row, p.field): str(p) for p in problems}
    assert set(found) == {(2, "id"), (3, "id"), (2, "area"), (2, "open"), (3, "open"), (2, "at")}
    assert found[(2, "id")] == (
        "household row 2 (id x5), field 'id': 'x5' is not a whole number — "
        "write id as a whole number, e.g. 12"
    )
    assert "'2.5' is not a whole number" in found[(3, "id")]
    assert "'1,5' is not a number" in found[(2, "area")]
    assert "'maybe' is not true or false" in found[(2, "open")]
    assert "是/否" in found[(2, "open")]
    assert "'yesterday' is not a date and time" in found[(2, "at")]
    # an unreadable value becomes missing, never a guess
    assert out["id"].isna().tolist() == [False, True, True]
