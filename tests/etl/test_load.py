"""Loading a district into PostGIS: counts, placement in grids and cells, all-or-nothing."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
import h3
import shapely

from etl.load import TABLES, LoadError, load_layers
from gis import crypt
from gis.errors import ValidationError
from tests.conftest import empty_database
from tests.factories import bowtie, tiny_case, tiny_district


@pytest.fixture()
def empty(engine: Engine) -> Engine:
    empty_database(engine)
    return engine


#: A server's own bookkeeping, no loaded data: a server of another module still running on
#: the test database may record a job's run at any moment (a fresh-clone run failed so).
NOT_LOADED = frozenset({"job_run"})


def counts(engine: Engine) -> dict[str, int]:
    """Rows per table a load writes."""
    with engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in TABLES
            if t not in NOT_LOADED
        }


def test_tiny_district_loads_and_is_placed_in_grids_and_cells(empty: Engine) -> None:
    report = load_layers(empty, tiny_district(), progress=False)
    assert report.rows["household"] == 3
    assert report.rows["resident"] == 6 and report.rows["resident_identity"] == 6
    with empty.connect() as conn:
        placed = dict(
            conn.execute(
                text("SELECT b.id, g.code FROM building b JOIN grid g ON g.id = b.grid_id")
            ).all()
        )
        assert placed == {1: "330106109001001", 2: "330106109001002"}
        # households are where their building is
        hh = conn.execute(
            text(
                "SELECT count(*) FROM household h JOIN building b ON b.id = h.building_id "
                "WHERE h.grid_id = b.grid_id AND h.h3_cell = b.h3_cell"
            )
        ).scalar_one()
        assert hh == 3
        # the H3 cell is the one h3 gives for the building's point on surface, at res 10
        row = conn.execute(
            text("SELECT h3_cell, ST_AsBinary(geom) FROM building WHERE id = 2")
        ).one()
        point = shapely.point_on_surface(shapely.from_wkb(bytes(row[1])))
        assert row[0] == h3.str_to_int(h3.latlng_to_cell(point.y, point.x, 10))
        # the incident in the east is in grid 2, categories were seeded
        code = conn.execute(
            text("SELECT g.code FROM incident i JOIN grid g ON g.id = i.grid_id WHERE i.id = :i"),
            {"i": tiny_case(2)},  # the file's case 2, under its month's number
        ).scalar_one()
        assert code == "330106109001002"
        assert conn.execute(text("SELECT count(*) FROM incident_category")).scalar_one() > 20
        assert conn.execute(
            text("SELECT parent_id IS NOT NULL FROM admin_area WHERE level = 'estate'")
        ).scalar_one()


def test_reload_with_replace_is_harmless(empty: Engine) -> None:
    load_layers(empty, tiny_district(), progress=False)
    first = counts(empty)
    load_layers(empty, tiny_district(), replace=True, progress=False)
    assert counts(empty) == first


def test_id_already_in_database_is_named_and_nothing_is_loaded(empty: Engine) -> None:
    load_layers(empty, tiny_district(), progress=False)
    before = counts(empty)
    layers = tiny_district()
    layers = {k: v for k, v in layers.items() if k in ("building",)}
    with pytest.raises(LoadError, match=r"building: id 1 already exists"):
        load_layers(empty, layers, progress=False)
    assert counts(empty) == before


def test_constraint_failure_in_a_late_table_rolls_everything_back(empty: Engine) -> None:
    layers = tiny_district()
    # a worker assigned to one grid twice: only the database's primary key sees it
    assignments = layers["grid_assignment"]
    layers["grid_assignment"] = pd.concat([assignments, assignments.iloc[:1]], ignore_index=True)
    with pytest.raises(LoadError, match="grid_assignment"):
        load_layers(empty, layers, progress=False)
    assert sum(counts(empty).values()) == 0


def test_a_number_the_database_would_refuse_is_named_by_row_first() -> None:
    layers = tiny_district()
    layers["road_edge"].loc[1, "walk_speed_mps"] = -1.0  # the table's rule: above 0
    layers["household"].loc[0, "unit"] = 40000  # more than a SMALLINT holds
    found = {(p.layer, p.row, p.field): p for p in _problems(layers)}
    assert set(found) == {("road_edge", 2, "walk_speed_mps"), ("household", 1, "unit")}
    assert "more than 0" in found[("road_edge", 2, "walk_speed_mps")].fix
    assert "40000 is out of range" in found[("household", 1, "unit")].message


def test_a_nan_vertex_is_named_though_the_bounds_look_fine() -> None:
    layers = tiny_district()
    ring = np.asarray(layers["building"].geometry.iloc[0].exterior.coords)
    ring[1, 1] = np.nan  # a bounding box skips NaN, so this polygon's box is in range
    layers["building"].loc[0, "geometry"] = shapely.Polygon(ring)
    [p] = _problems(layers)
    assert (p.layer, p.row, p.field) == ("building", 1, "geometry")
    assert "not a finite number" in p.message


def _problems(layers) -> list:
    with pytest.raises(ValidationError) as info:
        load_layers_no_db(layers)
    return info.value.problems


def load_layers_no_db(layers) -> None:
    """Validation runs before any connection is opened."""
    from etl.layers import validate_layers
    from gis.settings import get_settings

    validate_layers(layers, get_settings().service_area_bounds)


def test_duplicate_id_names_both_rows() -> None:
    layers = tiny_district()
    layers["household"].loc[2, "id"] = 11
    p, *rest = _problems(layers)
    assert (p.layer, p.row, p.field) == ("household", 3, "id")
    assert "first seen in row 1" in p.message
    # the residents of the household that lost its id are named too
    assert {(r.layer, r.field) for r in rest} == {("resident", "household_id")}


def test_swapped_coordinates_are_named() -> None:
    layers = tiny_district()
    f = layers["facility"]
    f.loc[0, "geometry"] = shapely.Point(30.315, 120.085)
    [p] = _problems(layers)
    assert (p.layer, p.row, p.record_id) == ("facility", 1, "1")
    assert "swapped" in p.message


def test_out_of_range_and_outside_service_area() -> None:
    layers = tiny_district()
    layers["facility"].loc[0, "geometry"] = shapely.Point(200.0, 30.0)
    layers["facility"].loc[1, "geometry"] = shapely.Point(-0.12, 51.5)  # London
    problems = _problems(layers)
    assert [p.row for p in problems] == [1, 2]
    assert "out of range" in problems[0].message
    assert "outside the service area" in problems[1].message


def test_wrong_crs_is_rejected_with_the_fix() -> None:
    layers = tiny_district()
    layers["grid"] = layers["grid"].to_crs(32651)
    [p] = _problems(layers)
    assert p.field == "crs" and "to_crs(4326)" in p.fix


def test_bowtie_is_rejected_but_a_harmless_ring_is_repaired() -> None:
    layers = tiny_district()
    layers["building"].loc[0, "geometry"] = bowtie()
    [p] = _problems(layers)
    assert (p.layer, p.row, p.field) == ("building", 1, "geometry")
    assert "cannot be repaired" in p.message

    layers = tiny_district()
    b = layers["building"].geometry.iloc[1]
    x0, y0, x1, y1 = b.bounds
    # a ring that closes on itself with a zero-area spike: invalid, repair keeps the area
    spiky = shapely.Polygon(
        [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0), (x0 - 1e-9, y0), (x0, y0)]
    )
    assert not spiky.is_valid
    layers["building"].loc[1, "geometry"] = spiky
    from etl.layers import validate_layers
    from gis.settings import get_settings

    cleaned, warnings = validate_layers(layers, get_settings().service_area_bounds)
    assert [w.row for w in warnings] == [2]
    assert cleaned["building"].geometry.iloc[1].is_valid


def test_unknown_category_lists_the_allowed_ones() -> None:
    layers = tiny_district()
    layers["incident"].loc[0, "category_code"] = "99999"
    [p] = _problems(layers)
    assert p.field == "category_code" and "20101" in p.fix


def test_broken_reference_is_named() -> None:
    layers = tiny_district()
    layers["household"].loc[0, "building_id"] = 999
    [p] = _problems(layers)
    assert (p.layer, p.field) == ("household", "building_id")
    assert "999" in p.message


def test_replace_load_checks_references_to_tables_it_emptied(empty: Engine) -> None:
    load_layers(empty, tiny_district(), progress=False)
    before = counts(empty)
    # households alone, with replace: their buildings are gone, so the load must fail whole
    layers = {"household": tiny_district()["household"]}
    with pytest.raises(LoadError, match=r"building_id.*not present"):
        load_layers(empty, layers, replace=True, progress=False)
    assert counts(empty) == before


def test_replace_load_checks_unique_keys_it_deferred(empty: Engine) -> None:
    layers = tiny_district()
    layers["resident"].loc[1, "id_number"] = layers["resident"].loc[0, "id_number"]
    with pytest.raises(LoadError, match=r"id_number .* appears more than once"):
        load_layers(empty, layers, replace=True, progress=False)
    assert sum(counts(empty).values()) == 0


def test_gcj02_input_is_converted_to_wgs84_on_the_way_in(empty: Engine) -> None:
    from gis.coords import wgs84_to_gcj02

    wgs = tiny_district()
    gcj = tiny_district()
    for frame in gcj.values():
        if hasattr(frame, "geometry"):
            frame[frame.geometry.name] = frame.geometry.apply(
                lambda g: shapely.transform(
                    g, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
                )
            )
    load_layers(empty, gcj, coord_type="gcj02", progress=False)
    with empty.connect() as conn:
        x, y = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM facility WHERE id = 1")).one()
    expected = wgs["facility"].geometry.iloc[0]
    assert abs(x - expected.x) < 1e-8 and abs(y - expected.y) < 1e-8


def test_unknown_coord_type_is_a_clear_error() -> None:
    from gis.coords import CoordTypeError

    with pytest.raises(CoordTypeError, match="gcj02"):
        load_layers(None, tiny_district(), coord_type="mars", progress=False)  # type: ignore[arg-type]


def test_a_later_file_may_refer_to_records_already_stored(empty: Engine) -> None:
    layers = tiny_district()
    first = {k: layers[k] for k in ("admin_area", "grid")}
    load_layers(empty, first, progress=False)
    rest = {k: v for k, v in tiny_district().items() if k not in first}
    report = load_layers(empty, rest, progress=False)
    assert report.rows["building"] == 2
    # and a reference to nothing, neither in the file nor stored, is still named
    orphans = {"household": tiny_district()["household"].assign(building_id=999)}
    with pytest.raises(ValidationError, match="building_id 999 names no record"):
        load_layers(empty, orphans, progress=False)


def _tabular_tables(engine: Engine) -> dict[str, list[tuple]]:
    tables = ("household", "resident", "resident_identity", "app_user", "grid_worker")
    tables += ("grid_assignment", "incident_event")
    with engine.connect() as conn:
        out = {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2")).all()]
            for t in tables
        }
    # sealed values differ at each sealing (a fresh nonce): compare what they open to
    out["resident_identity"] = [
        (r[0], r[1], crypt.open_value("id_number", r[2]), crypt.open_value("phone", r[3]), *r[4:])
        for r in out["resident_identity"]
    ]
    return out


def test_layers_read_from_csv_load_like_the_same_rows_typed(empty: Engine, tmp_path) -> None:
    """A CSV holds only text; every column still gets the type its table declares."""
    from etl.gpkg import read_layers

    district = tiny_district()
    tabular = [k for k, v in district.items() if not isinstance(v, gpd.GeoDataFrame)]
    load_layers(empty, district, progress=False)
    typed = _tabular_tables(empty)

    empty_database(empty)
    residents = district["resident"]
    flags = residents["living_alone_elderly"]
    # booleans as a clerk writes them, a local time without an offset
    district["resident"] = residents.assign(
        living_alone_elderly=flags.map({True: "是", False: "否"}),
        disabled="no",
        mobility_impaired="FALSE",
        low_income="0",
    )
    events = district["incident_event"]
    district["incident_event"] = events.assign(at=events["at"].dt.strftime("%Y-%m-%d %H:%M"))

    def from_csv(names: list[str]) -> dict[str, pd.DataFrame]:
        layers: dict[str, pd.DataFrame] = {}
        for name in names:
            district[name].to_csv(tmp_path / f"{name}.csv", index=False)
            layers |= read_layers(tmp_path / f"{name}.csv")
        return layers

    spatial = [k for k in district if k not in tabular and k != "incident"]
    load_layers(empty, {k: district[k] for k in spatial}, progress=False)
    people = from_csv([k for k in tabular if k != "incident_event"])
    assert all(pd.api.types.is_string_dtype(people["household"][c]) for c in ("id", "size"))
    load_layers(empty, people, progress=False)
    load_layers(
        empty, {"incident": district["incident"], **from_csv(["incident_event"])}, progress=False
    )
    assert _tabular_tables(empty) == typed


def test_implausible_incident_times_are_rejected_by_row_and_field() -> None:
    layers = tiny_district()
    incidents = layers["incident"].astype({"reported_at": object})
    incidents.loc[1, "reported_at"] = "9999-12-31T23:59:59+14:00"
    layers["incident"] = incidents
    events = layers["incident_event"].astype({"at": object})
    events.loc[0, "at"] = "1970-01-01T08:00:00+08:00"
    layers["incident_event"] = events
    problems = {(p.layer, p.row, p.field): p for p in _problems(layers)}
    assert set(problems) == {("incident", 2, "reported_at"), ("incident_event", 1, "at")}
    for p in problems.values():
        assert "out of range" in p.message and "2000-01-01T00:00:00+08:00" in p.fix


def test_a_step_before_its_cases_report_is_named_by_row() -> None:
    layers = tiny_district()
    events = layers["incident_event"].copy()
    reported = pd.to_datetime(
        layers["incident"].set_index("id")["reported_at"], utc=True, format="mixed"
    )
    case = events["incident_id"].iloc[-1]
    events.loc[events.index[-1], "at"] = reported[case] - pd.Timedelta(days=2)
    layers["incident_event"] = events
    problems = [p for p in _problems(layers) if p.layer == "incident_event"]
    assert [(p.row, p.field) for p in problems] == [(len(events), "at")]
    assert f"before the report of incident {case}" in problems[0].message


def test_a_step_before_a_stored_cases_report_is_refused_by_the_database(empty: Engine) -> None:
    load_layers(empty, tiny_district(), progress=False)
    before = counts(empty)
    with empty.connect() as conn:
        case, reported = conn.execute(
            text("SELECT id, reported_at FROM incident ORDER BY id LIMIT 1")
        ).one()
    early = pd.DataFrame(
        {"incident_id": [case], "to_state": ["registered"], "at": [reported - timedelta(days=2)]}
    )
    with pytest.raises(LoadError) as info:
        load_layers(empty, {"incident_event": early}, progress=False)
    message = str(info.value)
    assert message.startswith("incident_event: a row breaks the rule incident_event_after_report")
    assert f"incident {case}: a step at" in message and "Nothing was loaded" in message
    assert counts(empty) == before


def test_a_reference_that_may_not_be_missing_is_required() -> None:
    """Every reference a record must have is among its layer's required columns.

    check_references leaves missing values to check_required: so a missing one is named.
    """
    from etl.layers import LAYER_SPECS

    unnamed = [
        (spec.name, ref.column)
        for spec in LAYER_SPECS
        for ref in spec.references
        if not ref.nullable and ref.column not in spec.required
    ]
    assert unnamed == []
