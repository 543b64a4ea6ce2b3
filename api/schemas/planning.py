"""Requests and answers of facility planning (设施规划), as ``/docs`` shows them.

Kinds, groups and models are ``Literal`` types checked before a route runs; a wrong
one is a 422 naming the valid values.  Each answer model is built from its service's
dataclass by its ``of`` class method.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from geojson_pydantic import Feature, FeatureCollection, Polygon

from analysis import coverage as cv
from api.inputs import INT4_MAX, BigId, Text
from api.schemas.common import BeidouLocated, json_value, records
from api.services.planning import AccessReport, Coverage, Group, Kind, Model
from api.services.scenarios import Comparison, Scenario, ScenarioDraft, SitePoint, sites_frame
from api.services.siting import Solved, SolveQuery
from maps.coverage import access_cells

KindParam = Annotated[Kind, BeforeValidator(cv.check_kind)]
GroupParam = Annotated[Group, BeforeValidator(cv.check_group)]
ModelParam = Annotated[Model, BeforeValidator(cv.check_model)]

KindQ = Annotated[KindParam, Query(description="facility kind: " + ", ".join(cv.KIND_NAMES))]
GroupQ = Annotated[
    GroupParam | None,
    Query(description="group: " + ", ".join(cv.GROUPS) + "; default the standard's"),
]


# ------------------------------------------------------------------ requests


class DemandAccessRequest(BaseModel):
    """Access for demand a planner brings (a census grid …) instead of the residents."""

    kind: KindParam
    group: GroupParam | None = None
    demand: dict[str, Any] = Field(
        description="GeoJSON FeatureCollection of points or polygons with an 'everyone' "
        "property (people) and any of elderly_60, elderly_80, children, disabled"
    )
    coord_type: Text = "wgs84"
    top: int = Field(default=20, ge=1, le=500)


class Site(BeidouLocated):
    """A site a planner gives: a point, optionally a name, capacity and cost."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    name: Text | None = None
    capacity: int | None = Field(default=None, ge=0, le=INT4_MAX)
    cost: float | None = Field(default=None, ge=0)
    site_id: Text | None = Field(default=None, description="your id for excluding it")

    def point(self) -> SitePoint:
        """The site as the services take it."""
        return SitePoint(**self.model_dump(exclude={"beidou"}))


class SolveRequest(BaseModel):
    """Where should new facilities go (选址)."""

    kind: KindParam = Field(description="facility kind, e.g. elder_care")
    group: GroupParam | None = Field(
        default=None, description="whose demand; default the standard's"
    )
    model: ModelParam = "mclp"
    p: int = Field(default=3, ge=1, le=200, description="new sites (not for lscp)")
    candidates: Text = Field(
        default="cells",
        description="'cells' (H3 cells with people), 'buildings:<use>' (e.g. buildings:public)"
        " or 'sites' (the sites given below)",
    )
    sites: list[Site] = Field(default_factory=list, description="candidate sites, e.g. a file")
    coord_type: Text = "wgs84"
    exclude: list[Text] = Field(default_factory=list, description="site_id values not allowed")
    unserved_minutes: float | None = Field(
        default=None,
        gt=0,
        description="p-medians: minutes charged per person left unserved (too little capacity "
        "then gives the best partial answer instead of 'infeasible')",
    )
    new_capacity: int | None = Field(
        default=None, ge=0, description="capacity of a new site where none is given (unlimited)"
    )
    time_limit: float = Field(default=30.0, gt=0, le=600)
    save_as: Text | None = Field(default=None, description="save the result as a scenario")

    def query(self) -> SolveQuery:
        """The request as the siting service takes it."""
        return SolveQuery(
            kind=self.kind,
            group=self.group,
            model=self.model,
            p=self.p,
            candidates=self.candidates,
            sites=sites_frame([s.point() for s in self.sites], self.coord_type),
            exclude=self.exclude,
            unserved_minutes=self.unserved_minutes,
            new_capacity=self.new_capacity,
            time_limit=self.time_limit,
            save_as=self.save_as,
        )


class ScenarioRequest(BaseModel):
    """A plan to save: sites added and facilities removed."""

    name: Text = Field(min_length=1, max_length=200)
    kind: KindParam
    add: list[Site] = Field(default_factory=list)
    remove: list[BigId] = Field(default_factory=list, description="facility ids closed")
    coord_type: Text = "wgs84"
    description: Text | None = None

    def draft(self) -> ScenarioDraft:
        """The request as the planning service takes it."""
        return ScenarioDraft(
            name=self.name,
            kind=self.kind,
            add=[s.point() for s in self.add],
            remove=self.remove,
            coord_type=self.coord_type,
            description=self.description,
        )


# ------------------------------------------------------------------ answers


class StandardOut(BaseModel):
    """The walking limit of one facility kind and the group it is planned for."""

    kind: Kind
    kind_name: str
    minutes: float = Field(description="walking limit along the streets, minutes")
    group: Group
    group_name: str
    circle: str = Field(description="the life circle, e.g. 15分钟生活圈")
    source: str

    @classmethod
    def of(cls, s: cv.Standard) -> StandardOut:
        """From a standard."""
        return cls(
            kind=s.kind,  # type: ignore[arg-type]
            kind_name=cv.KIND_NAMES[s.kind],
            minutes=s.minutes,
            group=s.group,  # type: ignore[arg-type]
            group_name=cv.GROUP_NAMES[s.group],
            circle=s.circle,
            source=s.source,
        )


class GroupOut(BaseModel):
    """A population group and its Chinese name."""

    group: Group
    name: str


class StandardsOut(BaseModel):
    """The standards table (GB 50180-2018 life circles) and the groups."""

    standards: list[StandardOut]
    groups: list[GroupOut]

    @classmethod
    def of(cls, table: Any) -> StandardsOut:
        """From the standards by kind."""
        return cls(
            standards=[StandardOut.of(s) for s in table.values()],
            groups=[GroupOut(group=g, name=n) for g, n in cv.GROUP_NAMES.items()],
        )


class ServedRow(BaseModel):
    """People of a group within the walking limit."""

    group: Group
    name: str
    people: float
    served: float
    unserved: float
    share_served: float | None = Field(description="null when the group has nobody")


class CapacitySplitOut(BaseModel):
    """The standard's group in three parts: served, lacking capacity, too far (whole people)."""

    group: Group
    people: int
    served: int
    lack_of_capacity: int
    outside_limit: int


class EquityRow(BaseModel):
    """Who is left out: a group's unserved share against everyone's, walking-time spread."""

    group: Group
    name: str
    share_unserved: float | None
    ratio_to_everyone: float | None
    mean_min: float | None
    p90_min: float | None = Field(description="null when beyond reach")
    gini: float | None
    unreachable: float


class UnservedGrid(BaseModel):
    """A grid by its unserved people (``grid_id`` null: people in no grid)."""

    grid_id: int | None
    people: float
    unserved: float
    share_unserved: float | None
    grid_code: str | None
    grid_name: str | None
    community_name: str | None


class UnservedCommunity(BaseModel):
    """A community (社区) by its unserved people."""

    community_id: int | None
    people: float
    unserved: float
    share_unserved: float | None
    community_code: str | None
    community_name: str | None


class AccessReportOut(BaseModel):
    """Who lacks a facility within its walking limit: shares, capacity, equity, where."""

    kind: Kind
    group: Group
    standard: StandardOut
    facilities: int = Field(description="facilities of the kind today")
    served: list[ServedRow]
    capacity_split: CapacitySplitOut
    equity: list[EquityRow]
    unserved_by_grid: list[UnservedGrid]
    unserved_by_community: list[UnservedCommunity]

    @classmethod
    def of(cls, report: AccessReport) -> AccessReportOut:
        """From the planning service's report."""
        split = report.split
        return cls.model_validate(
            {
                "kind": report.coverage.kind,
                "group": report.coverage.group,
                "standard": StandardOut.of(report.coverage.access.standard),
                "facilities": report.facilities,
                "served": records(report.served.reset_index()),
                "capacity_split": {
                    "group": split.group,
                    "people": split.people,
                    "served": split.served,
                    "lack_of_capacity": split.lack_of_capacity,
                    "outside_limit": split.outside_limit,
                },
                "equity": records(report.equity.reset_index()),
                "unserved_by_grid": records(report.unserved_by_grid),
                "unserved_by_community": records(report.unserved_by_community),
            }
        )


class StoredAccessGrid(BaseModel):
    """A grid's households and their stored walking access (``grid_id`` null: in no grid)."""

    grid_id: int | None
    grid_code: str | None
    grid_name: str | None
    households: int
    served: int = Field(description="households within the standard")
    median_minutes: float | None = Field(description="null: no facility reachable")
    standard_minutes: float
    computed_at: datetime


class StoredAccessOut(BaseModel):
    """The stored access per grid (``wangge plan access --store``), worst grids first.

    Only the households the caller may see are counted; no grid: nothing stored yet.
    """

    kind: Kind
    grids: list[StoredAccessGrid]


class AccessCellProperties(BaseModel):
    """One H3 cell: people of the group, those beyond the limit, walking minutes."""

    cell: str = Field(description="H3 cell, hexadecimal")
    people: float
    unserved: float
    minutes: float | None = Field(description="people-weighted walking minutes; null: none")
    served: bool


AccessCells = FeatureCollection[Feature[Polygon, AccessCellProperties]]


def access_cells_geojson(found: Coverage) -> str:
    """The cells of an access map as GeoJSON text (:data:`AccessCells`)."""
    cells = access_cells(found.access, found.group)
    cells["cell"] = [f"{int(c):x}" for c in cells["cell"]]
    cells["minutes"] = [round(m, 2) if math.isfinite(m) else None for m in cells["minutes"]]
    cells["served"] = cells["unserved"] <= 0
    return cells.to_json(drop_id=True)


class SiteOut(BaseModel):
    """A recommended site (a candidate chosen)."""

    site_id: str
    name: str
    lon: float
    lat: float
    capacity: float | None
    cost: float | None
    source: str


class UncoverableCell(BaseModel):
    """Demand no candidate serves in time; its people are under the group's name."""

    model_config = ConfigDict(extra="allow")

    cell: str = Field(description="H3 cell, hexadecimal")
    grid_id: int | None
    lon: float
    lat: float


class SolveOut(BaseModel):
    """Recommended new sites, coverage before and after, and the solver's account."""

    kind: Kind
    group: Group
    model: Model
    status: str = Field(description="optimal, time_limit or infeasible")
    objective: float | None
    candidates: int
    sites: list[SiteOut]
    served_before: float
    served_after: float
    people: float
    uncoverable: list[UncoverableCell] = Field(
        description="each with the people of the group under its name, e.g. elderly_60"
    )
    explanation: str
    scenario_id: int | None

    @classmethod
    def of(cls, solved: Solved) -> SolveOut:
        """From the siting service's answer."""
        rec, group = solved.recommendation, solved.group
        uncoverable = rec.uncoverable.assign(cell=[f"{int(c):x}" for c in rec.uncoverable["cell"]])
        return cls.model_validate(
            {
                "kind": solved.kind,
                "group": group,
                "model": rec.model,
                "status": rec.status,
                "objective": json_value(rec.objective),
                "candidates": len(solved.candidates),
                "sites": records(rec.sites),
                "served_before": rec.served_before,
                "served_after": rec.served_after,
                "people": solved.people,
                "uncoverable": records(uncoverable[["cell", "grid_id", "lon", "lat", group]]),
                "explanation": rec.explanation,
                "scenario_id": solved.scenario_id,
            }
        )


class AddedSite(BaseModel):
    """A site a plan adds."""

    name: str | None
    capacity: float | None
    cost: float | None
    lon: float
    lat: float


class ScenarioOut(BaseModel):
    """A saved plan: sites added, facility ids removed."""

    id: int
    name: str
    kind: Kind
    description: str | None
    created_at: datetime | None
    add: list[AddedSite]
    remove: list[int]

    @classmethod
    def of(cls, s: Scenario) -> ScenarioOut:
        """From a saved scenario."""
        return cls.model_validate(
            {
                "id": s.id,
                "name": s.name,
                "kind": s.kind,
                "description": s.description,
                "created_at": s.created_at,
                "add": records(s.added),
                "remove": list(s.removed),
            }
        )


class ScenarioSummary(BaseModel):
    """A saved plan in a listing: how many sites it adds and removes, its cost."""

    id: int
    name: str
    kind: Kind
    description: str | None
    created_by: str | None
    created_at: datetime
    added: int
    removed: int
    cost: float


class PlanRow(BaseModel):
    """One plan (today: 现状) in the comparison."""

    plan: str
    facilities: int
    added: int
    removed: int
    served_everyone: float
    share_everyone: float | None
    served_elderly_60: float
    share_elderly_60: float | None
    served_elderly_80: float
    share_elderly_80: float | None
    served_children: float
    share_children: float | None
    served_disabled: float
    share_disabled: float | None
    mean_min: float | None = Field(description="of the standard's group")
    p90_min: float | None = Field(description="of the standard's group")
    served_with_capacity: int
    cost: float


class ComparisonOut(BaseModel):
    """Today and each plan side by side."""

    kind: Kind
    plans: list[PlanRow]

    @classmethod
    def of(cls, c: Comparison) -> ComparisonOut:
        """From the planning service's comparison."""
        return cls.model_validate({"kind": c.kind, "plans": records(c.table.reset_index())})
