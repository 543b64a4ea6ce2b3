"""Facility kinds, population groups, location models and each kind's walking standard."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from gis.db.models import FACILITY_KINDS
from gis.errors import AnalysisError, InvalidInput

GROUPS: Final = ("everyone", "elderly_60", "elderly_80", "children", "disabled")
"""The population groups demand is counted for."""

GROUP_NAMES: Final = {
    "everyone": "全体居民",
    "elderly_60": "60岁及以上老人",
    "elderly_80": "80岁及以上老人",
    "children": "儿童（0–14岁）",
    "disabled": "残疾人",
}
KIND_NAMES: Final = {
    "clinic": "社区卫生服务站/诊所",
    "elder_care": "养老服务设施",
    "park": "公园/绿地",
    "school": "学校",
    "community_centre": "社区服务中心",
    "shelter": "避难场所",
    "pharmacy": "药店",
}
STANDARDS_ENV: Final = "WANGGE_PLAN_STANDARDS"
"""Environment variable naming a JSON file that overrides :data:`DEFAULT_STANDARDS`."""

MODELS: Final = ("lscp", "mclp", "p_median", "capacitated_p_median")
"""Location models :func:`recommend_sites` can solve."""

_GB50180 = "GB 50180-2018 城市居住区规划设计标准（15/10/5分钟生活圈）"


class CoverageError(AnalysisError, InvalidInput):
    """Bad planning input: an unknown kind or group, an empty demand, a bad standard."""


@dataclass(frozen=True)
class Standard:
    """What counts as served for one facility kind.

    Attributes
    ----------
    kind : str
        Facility kind (``facility.kind``).
    minutes : float
        Walking limit, minutes along the network.
    group : str
        The group the facility is planned for; its capacity counts these people
        (elder care: ``elderly_60``, schools: ``children``, else ``everyone``).
    circle : str
        The life circle, as planners name it (e.g. 15分钟生活圈).
    source : str
        Where the limit comes from.
    """

    kind: str
    minutes: float
    group: str = "everyone"
    circle: str = ""
    source: str = _GB50180

    @property
    def limit_s(self) -> float:
        """The walking limit, seconds."""
        return self.minutes * 60.0


DEFAULT_STANDARDS: Final[Mapping[str, Standard]] = {
    "clinic": Standard("clinic", 15, "everyone", "15分钟生活圈"),
    "elder_care": Standard("elder_care", 15, "elderly_60", "15分钟生活圈"),
    "community_centre": Standard("community_centre", 15, "everyone", "15分钟生活圈"),
    "school": Standard("school", 15, "children", "15分钟生活圈"),
    "park": Standard("park", 10, "everyone", "10分钟生活圈"),
    "pharmacy": Standard("pharmacy", 15, "everyone", "15分钟生活圈"),
    "shelter": Standard(
        "shelter", 15, "everyone", "15分钟步行", "GB 51143-2015 防灾避难场所设计规范; " + _GB50180
    ),
}
"""Default standards: GB 50180-2018 life circles (clinic, elder care, community centre
and school in the 15-minute circle, parks in the 10-minute circle) and shelters within
a 15-minute walk."""


def check_kind(kind: str) -> str:
    """Return ``kind`` if it is a facility kind, else raise naming the valid ones."""
    if kind not in FACILITY_KINDS:
        raise CoverageError(
            f"unknown facility kind {kind!r}: use one of {', '.join(FACILITY_KINDS)}"
        )
    return kind


def check_group(group: str) -> str:
    """Return ``group`` if it is a population group, else raise naming the valid ones."""
    if group not in GROUPS:
        raise CoverageError(f"unknown group {group!r}: use one of {', '.join(GROUPS)}")
    return group


def check_model(model: str) -> str:
    """Return ``model`` if it is a location model, else raise naming the valid ones."""
    if model not in MODELS:
        raise CoverageError(f"unknown model {model!r}: use one of {', '.join(MODELS)}")
    return model


def load_standards(source: str | Path | Mapping[str, Any] | None = None) -> dict[str, Standard]:
    """The standards table: the defaults, overridden per kind by a JSON file or mapping.

    Parameters
    ----------
    source : str, path or mapping, optional
        ``{"park": {"minutes": 5}, "clinic": {"minutes": 10, "group": "elderly_60"}}``
        as a mapping, a JSON file, or None to read the file named by the
        ``WANGGE_PLAN_STANDARDS`` environment variable (the defaults when unset).

    Returns
    -------
    dict of str to Standard

    Raises
    ------
    CoverageError
        On an unreadable file, an unknown kind, group or field, or a limit that is not
        a positive number of minutes.
    """
    if source is None:
        source = os.environ.get(STANDARDS_ENV) or None
        if source is None:
            return dict(DEFAULT_STANDARDS)
    if isinstance(source, str | Path):
        try:
            overrides = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CoverageError(f"cannot read the standards file {source}: {exc}") from exc
    else:
        overrides = dict(source)
    if not isinstance(overrides, dict):
        raise CoverageError("standards: a JSON object {kind: {minutes, group}} is expected")
    table = dict(DEFAULT_STANDARDS)
    allowed = {"minutes", "group", "circle", "source"}
    for kind, values in overrides.items():
        check_kind(kind)
        if not isinstance(values, dict) or set(values) - allowed:
            raise CoverageError(
                f"standards[{kind!r}]: give an object with fields {', '.join(sorted(allowed))}"
            )
        new = replace(table[kind], **values)
        check_group(new.group)
        if not (isinstance(new.minutes, int | float) and 0 < new.minutes <= 120):
            raise CoverageError(
                f"standards[{kind!r}].minutes must be a number of minutes in (0, 120], "
                f"got {new.minutes!r}"
            )
        table[kind] = replace(new, minutes=float(new.minutes))
    return table


def _standard(kind: str, standards: Mapping[str, Standard] | None) -> Standard:
    check_kind(kind)
    table = DEFAULT_STANDARDS if standards is None else standards
    if kind not in table:
        raise CoverageError(f"no standard for kind {kind!r} in the standards table")
    return table[kind]
