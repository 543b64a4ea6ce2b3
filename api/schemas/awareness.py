"""Request and response models of situational awareness (态势感知): every answer's shape in /docs.

Incident trends (aggregates, hotspots, warnings), hazard areas (GeoJSON), their impact
and check-on lists (GeoJSON), alerts, workers' positions and the live picture.  Times
are ISO 8601 text as the routes have always sent them; per-resident rows carry ids,
rooms and flags, never names or phones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from geojson_pydantic import Feature, FeatureCollection, LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from analysis.aggregates import WINDOWS
from analysis.alerts import GROUPS
from api.inputs import BigId, Text, one_of
from api.schemas.common import geometry, h3_text, json_value, records
from api.services import alerts as alert_service
from api.services import awareness as aw
from api.services import live, trends
from api.state import CUBE_PLACES, CUBE_SPLITS
from gis.coords import COORD_TYPES
from gis.db.models import ALERT_CHANNELS
from gis.store.awareness_store import HazardRow

ISO = "ISO 8601 date-time with offset, e.g. 2026-10-01T08:00:00+08:00"

#: Places incidents are counted by; windows; further columns to split the counts by.
Place = one_of("by", CUBE_PLACES)
Window = one_of("window", WINDOWS)
SplitColumn = one_of("split_by", CUBE_SPLITS)
AlertGroup = one_of("group", tuple(GROUPS))
AlertChannel = one_of("channel", ALERT_CHANNELS)


# ---------------------------------------------------------------- trends


class AggregateRow(BaseModel):
    """Incidents counted in one place (and window, and split value)."""

    model_config = ConfigDict(extra="allow")

    h3_cell: str | None = Field(None, description="H3 cell as a decimal string (by=h3_cell)")
    h3_index: str | None = Field(None, description="H3 cell as its hex index (by=h3_cell)")
    grid_id: int | None = None
    community_id: int | None = None
    window_start: str | None = Field(None, description="start of the window (local time)")
    category_code: str | None = None
    state: str | None = None
    source: str | None = None
    count: int


class Aggregates(BaseModel):
    """Incident counts by place (sent without the columns not asked for)."""

    by: str
    window: str | None
    rows: list[AggregateRow]
    total: int

    @classmethod
    def of(cls, by: str, window: str | None, table: pd.DataFrame) -> Aggregates:
        """From :func:`api.services.trends.aggregates`; H3 cells as text (JS loses digits)."""
        if by == "h3_cell":
            table = table.copy()
            table.insert(1, "h3_index", [h3_text(c) for c in table["h3_cell"]])
            table["h3_cell"] = table["h3_cell"].astype(str)
        rows = [AggregateRow(**r) for r in records(table)]
        total = int(table["count"].sum()) if len(table) else 0
        return cls(by=by, window=window, rows=rows, total=total)


class HotspotProperties(BaseModel):
    """Gi* of one H3 cell."""

    model_config = ConfigDict(extra="allow")

    h3_cell: str = Field(description="H3 cell as a decimal string")
    h3_index: str = Field(description="H3 cell as its hex index")
    count: float
    neighbours: int = Field(description="cells of its k-ring in the study area, itself included")
    gi_z: float | None
    p_value: float | None = Field(description="two-sided")
    q_value: float | None = Field(description="Benjamini-Hochberg (p_value when fdr is off)")
    significant: str = Field(description="hot, cold or none")


class Hotspots(FeatureCollection[Feature[Polygon, HotspotProperties]]):
    """Hotspot cells as GeoJSON polygons, with the test that found them."""

    method: str
    k: int
    alpha: float
    start: str
    end: str
    cells_tested: int
    hot: int
    cold: int

    @classmethod
    def of(cls, found: trends.HotspotCells) -> Hotspots:
        """From :func:`api.services.trends.hotspots`."""
        frame = pd.DataFrame(found.cells.drop(columns="geometry"))
        features = []
        for row, poly in zip(records(frame), found.cells.geometry, strict=True):
            cell = int(row["h3_cell"])
            props = {**row, "h3_cell": str(cell), "h3_index": h3_text(cell)}
            features.append(
                {"type": "Feature", "properties": props, "geometry": poly.__geo_interface__}
            )
        return cls(
            type="FeatureCollection",
            features=features,
            method=found.method,
            k=found.k,
            alpha=found.alpha,
            start=found.start.isoformat(),
            end=found.end.isoformat(),
            cells_tested=found.cells_tested,
            hot=found.hot,
            cold=found.cold,
        )


class EarlyWarningOut(BaseModel):
    """A category's count in a place far above its own baseline, with the evidence."""

    place_kind: str = Field(description="grid, community or h3_cell")
    place_id: int | str | None = Field(description="grid or community id; an H3 cell as text")
    place_code: str | None = Field(description="the grid's code (by=grid_id)")
    category_code: str
    category_name: str | None
    window_start: str
    observed: int
    expected: float
    p_value: float
    evidence: str
    method: str


class Warnings(BaseModel):
    """The early warnings of one window."""

    window: str
    current: str
    baseline_windows: int
    warnings: list[EarlyWarningOut]

    @classmethod
    def of(cls, by: str, got: trends.Warnings) -> Warnings:
        """From :func:`api.services.trends.warnings`."""
        return cls(
            window=got.window,
            current=got.current.isoformat(),
            baseline_windows=got.baseline_windows,
            warnings=[
                EarlyWarningOut(
                    place_kind=w.place_kind,
                    place_id=str(w.place_id) if by == "h3_cell" else json_value(w.place_id),
                    place_code=got.grid_codes.get(w.place_id) if by == "grid_id" else None,
                    category_code=w.category,
                    category_name=got.category_names.get(w.category),
                    window_start=w.window_start.isoformat(),
                    observed=w.observed,
                    expected=round(w.expected, 3),
                    p_value=w.p_value,
                    evidence=w.evidence,
                    method=w.method,
                )
                for w in got.found
            ],
        )


# ---------------------------------------------------------------- hazards


class HazardProperties(BaseModel):
    """A hazard area; ``area_m2`` and ``warnings`` (repairs made) when just stored."""

    id: int
    kind: str = Field(description="typhoon, flood, fire or gas_leak")
    name: str
    severity: int = Field(description="1 (low) to 4 (extreme)")
    valid_from: str
    valid_to: str | None
    area_m2: float | None = None
    warnings: list[str] | None = None


class HazardFeature(Feature[MultiPolygon | Polygon, HazardProperties]):
    """A hazard area as a GeoJSON Feature (WGS84)."""

    @classmethod
    def of(cls, row: HazardRow | Any, **extra: Any) -> HazardFeature:
        """From a stored hazard (a :class:`HazardRow` or a row of the hazards frame)."""
        get = row.get if isinstance(row, pd.Series) else lambda k: getattr(row, k)
        geom = row.geometry if isinstance(row, pd.Series) else row.geom
        hazard_id = int(get("id"))
        props = {
            "id": hazard_id,
            "kind": get("kind"),
            "name": get("name"),
            "severity": int(get("severity")),
            "valid_from": json_value(get("valid_from")),
            "valid_to": json_value(get("valid_to")),
            **extra,
        }
        return cls(type="Feature", id=hazard_id, properties=props, geometry=geometry(geom))

    @classmethod
    def stored(cls, got: aw.StoredHazard) -> HazardFeature:
        """A hazard just stored, with its area and the repairs made."""
        return cls.of(got.hazard, area_m2=round(got.area_m2, 1), warnings=got.warnings)


class HazardCollection(FeatureCollection[HazardFeature]):
    """Hazard areas, newest first."""


class HazardRef(BaseModel):
    """Which hazard."""

    id: int
    kind: str
    name: str
    severity: int


class ImpactGrid(BaseModel):
    """A grid the hazard touches: share of its area, people by group, whom to check on."""

    model_config = ConfigDict(extra="allow")

    grid_id: int
    code: str
    area_share: float = Field(description="share of the grid's area inside the hazard, 0-1")
    buildings: int
    households: int
    residents: int
    elderly_alone: int
    disabled: int
    mobility_impaired: int
    children: int
    check_on: int = Field(description="residents its worker must check on")
    worker_id: int | None = Field(description="the grid's primary worker")


class ShelterRef(BaseModel):
    """A shelter and whether it can be used."""

    id: int
    name: str | None
    usable: bool


class ImpactOut(BaseModel):
    """What a hazard touches: the user's grids; the whole hazard's totals (counts only)."""

    hazard: HazardRef
    area_m2: float
    grids: list[ImpactGrid]
    buildings: int
    households: int
    residents_by_group: dict[str, int]
    check_on: int
    check_on_without_safe_shelter: int
    shelters_inside: list[ShelterRef] = Field(description="inside the hazard: unusable")
    shelters_outside: list[ShelterRef]
    closed_road_edges: int
    notes: list[str]

    @classmethod
    def of(cls, view: aw.ImpactView) -> ImpactOut:
        """From :func:`api.services.awareness.impact_view`."""
        h = view.hazard
        return cls(
            hazard=HazardRef(id=h.id, kind=h.kind, name=h.name, severity=h.severity),
            area_m2=round(view.area_m2, 1),
            grids=[ImpactGrid(**r) for r in records(view.grids)],
            buildings=view.buildings,
            households=view.households,
            residents_by_group=view.residents_by_group,
            check_on=view.check_on,
            check_on_without_safe_shelter=view.check_on_without_safe_shelter,
            shelters_inside=[ShelterRef(**vars(s)) for s in view.shelters_inside],
            shelters_outside=[ShelterRef(**vars(s)) for s in view.shelters_outside],
            closed_road_edges=view.closed_road_edges,
            notes=view.notes,
        )


class CheckOnProperties(BaseModel):
    """A resident to check on, their safe shelter and walk (ids and flags, no names)."""

    model_config = ConfigDict(extra="allow")

    grid_id: int
    grid_code: str
    worker_id: int | None
    resident_id: int
    household_id: int
    building_id: int
    room: str | None
    lon: float
    lat: float
    groups: str = Field(description="why: elderly_alone, disabled, mobility_impaired …")
    shelter_id: int | None
    shelter_name: str | None
    walk_m: float | None
    walk_s: float | None
    walk_min: float | None
    reason: str = Field(description="ok, cut_off or no_safe_shelter")


class CheckOnList(FeatureCollection[Feature[LineString | Point, CheckOnProperties]]):
    """Per resident, the walking route to safety (a line), or their home (a point)."""

    hazard_id: int
    grid: str | None
    count: int

    @classmethod
    def of(cls, got: aw.CheckOnList) -> CheckOnList:
        """From :func:`api.services.awareness.check_on_list`."""
        features = []
        for row in got.rows.to_dict(orient="records"):
            route = row.pop("route", None)
            shape = geometry(route) if isinstance(route, BaseGeometry) else None
            if shape is None or not shape["coordinates"]:  # no route, or one of no length
                shape = {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
            props = {k: json_value(v) for k, v in row.items()}
            features.append({"type": "Feature", "properties": props, "geometry": shape})
        return cls(
            type="FeatureCollection",
            hazard_id=got.hazard_id,
            grid=got.grid,
            count=len(features),
            features=features,
        )


# ---------------------------------------------------------------- alerts


class AlertIn(BaseModel):
    """An alert to send for a hazard area."""

    group: AlertGroup = Field(default="all", description=", ".join(GROUPS))
    message: Text | None = Field(
        default=None, max_length=500, description="default: from the hazard"
    )
    channel: AlertChannel = Field(
        default="outbox", description="outbox (here); sms, wechat in production"
    )
    created_by: Text | None = Field(
        default=None, max_length=64, description="over HTTP: always the caller's username"
    )
    families: bool = Field(
        default=True,
        description="for a group: also message each member's household (their family)",
    )

    def request(self) -> alert_service.AlertRequest:
        """As the alert service takes it."""
        return alert_service.AlertRequest(**self.model_dump())


class GridStatus(BaseModel):
    """An alert in one grid: recipients, sent, confirmed reached, vulnerable still pending."""

    model_config = ConfigDict(extra="allow")

    grid_id: int | None
    grid_code: str | None
    recipients: int
    sent: int
    confirmed: int
    vulnerable: int
    vulnerable_confirmed: int
    pending_resident_ids: list[int]


def _grids(frame: pd.DataFrame) -> list[GridStatus]:
    return [GridStatus(**r) for r in records(frame)]


class SentAlertOut(BaseModel):
    """An alert stored and handed to the outbox."""

    alert_id: int
    hazard_id: int
    group: str
    group_name: str
    channel: str
    created_at: str
    message: str
    recipients: int
    residents: int
    households: int
    without_safe_shelter: int
    outbox_messages: int
    grids: list[GridStatus]

    @classmethod
    def of(cls, sent: alert_service.SentAlert) -> SentAlertOut:
        """From :func:`api.services.alerts.send_alert`."""
        fields = {**vars(sent), "created_at": sent.created_at.isoformat()}
        return cls(**{**fields, "grids": _grids(sent.grids)})


class ConfirmIn(BaseModel):
    """A grid worker's confirmation that residents (or households) were reached."""

    resident_ids: list[BigId] = Field(default_factory=list)
    household_ids: list[BigId] = Field(default_factory=list)
    note: Text | None = Field(default=None, max_length=500)


class ConfirmationOut(BaseModel):
    """What was confirmed, and the status of the caller's grids after it."""

    alert_id: int
    confirmed: int
    confirmed_by: str
    newly_confirmed: int
    not_recipients: list[int] = Field(description="ids given that are not recipients here")
    grids: list[GridStatus]

    @classmethod
    def of(cls, done: alert_service.Confirmation) -> ConfirmationOut:
        """From :func:`api.services.alerts.confirm`."""
        return cls(**{**vars(done), "grids": _grids(done.grids)})


class Recipient(BaseModel):
    """One recipient of an alert: place, safe shelter, delivery and confirmation (no names)."""

    model_config = ConfigDict(extra="allow")

    id: int
    household_id: int
    resident_id: int | None
    grid_id: int | None
    grid_code: str | None
    building_id: int
    room: str | None
    shelter_id: int | None
    shelter_name: str | None
    walk_s: float | None
    sent_at: str | None
    confirmed_at: str | None
    confirmed_by: str | None
    note: str | None
    living_alone_elderly: bool | None
    disabled: bool | None
    mobility_impaired: bool | None
    birth_year: int | None


class AlertOut(BaseModel):
    """An alert and its status over the caller's grids (``recipient_list`` when asked)."""

    id: int
    hazard_id: int
    created_at: str
    created_by: str | None
    message: str
    group: str
    channel: str
    recipients: int
    confirmed: int
    grids: list[GridStatus]
    recipient_list: list[Recipient] | None = None

    @classmethod
    def of(cls, status: alert_service.AlertStatus) -> AlertOut:
        """From :func:`api.services.alerts.alert_status`."""
        row = status.alert
        out = cls(
            id=row.id,
            hazard_id=row.hazard_id,
            created_at=row.created_at.isoformat(),
            created_by=row.created_by,
            message=row.message,
            group=row.target_group,
            channel=row.channel,
            recipients=status.recipients_total,
            confirmed=status.confirmed_total,
            grids=_grids(status.grids),
        )
        if status.recipients is not None:
            out.recipient_list = [Recipient(**r) for r in records(status.recipients)]
        return out


# ---------------------------------------------------------------- workers, live


class PositionIn(BaseModel):
    """A position report from a grid worker's tablet."""

    lon: float = Field(description="longitude, degrees (checked against the service area)")
    lat: float = Field(description="latitude, degrees")
    coord_type: Text = Field(default="wgs84", description=", ".join(COORD_TYPES))
    at: datetime | None = Field(default=None, description=f"default now ({ISO})")


class PositionOut(BaseModel):
    """A stored position (WGS84)."""

    id: int
    worker_id: int
    lon: float
    lat: float
    at: str

    @classmethod
    def of(cls, p: aw.Position) -> PositionOut:
        """From :func:`api.services.awareness.record_position`."""
        return cls(id=p.id, worker_id=p.worker_id, lon=p.lon, lat=p.lat, at=p.at.isoformat())


class LiveIncident(BaseModel):
    """An open incident as the live map draws it (no description, no people)."""

    id: int
    state: str
    category: str | None
    lon: float
    lat: float
    reported_at: str | None
    grid: str | None


class LiveShelter(BaseModel):
    """A shelter with its occupancy; ``usable``: open and outside every hazard in force."""

    id: int
    name: str | None
    capacity: int
    occupancy: int
    usable: bool
    lon: float
    lat: float


class LiveWorker(BaseModel):
    """A grid worker's last position."""

    worker_id: int
    at: str | None
    lon: float
    lat: float


class LiveSnapshot(BaseModel):
    """The live picture as data."""

    at: str
    open_incidents: int
    open_by_state: dict[str, int]
    hazards: list[HazardRef]
    shelters: list[LiveShelter]
    workers: list[LiveWorker]

    @classmethod
    def of(cls, snap: live.Snapshot) -> LiveSnapshot:
        """From :func:`api.services.live.snapshot`."""
        return cls(
            at=snap.at.isoformat(),
            open_incidents=len(snap.incidents),
            open_by_state={k: int(v) for k, v in snap.incidents["state"].value_counts().items()},
            hazards=[
                HazardRef(id=int(r.id), kind=r.kind, name=r.name, severity=int(r.severity))
                for r in snap.hazards.itertuples(index=False)
            ],
            shelters=[
                LiveShelter(
                    id=int(r.facility_id),
                    name=r.name,
                    capacity=int(r.capacity),
                    occupancy=int(r.occupancy),
                    usable=bool(r.usable),
                    lon=r.geometry.x,
                    lat=r.geometry.y,
                )
                for r in snap.shelters.itertuples(index=False)
            ],
            workers=[
                LiveWorker(
                    worker_id=int(r.worker_id),
                    at=json_value(r.at),
                    lon=r.geometry.x,
                    lat=r.geometry.y,
                )
                for r in snap.workers.itertuples(index=False)
            ],
        )
