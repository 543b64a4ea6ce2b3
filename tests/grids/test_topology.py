"""The topology check: known gaps, overlaps, crossings, slivers, bad shapes; the CLI gates."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from sqlalchemy import Engine, text
from typer.testing import CliRunner

import geopandas as gpd
import shapely
from pyproj import Transformer
from shapely import Point, box

from etl.load import load_layers
from etl.sample import generate_district
from gis.store import grid_store
from grids.topology import (
    DEFAULT_GATE_KINDS,
    KINDS,
    PROBLEM_COLUMNS,
    CheckTolerances,
    TopologyInputError,
    check_grids,
    polsby_popper,
    robust_z,
)
from tests.conftest import empty_database
from tests.factories import bowtie, tiny_district

UTM51N = 32651
COMMUNITY = "330106109001"
TO_UTM = Transformer.from_crs(4326, UTM51N, always_xy=True)
X0, Y0 = TO_UTM.transform(120.08, 30.31)  # the community's south-west corner, metres


def rect(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    """A rectangle in metres from the community's south-west corner (UTM 51N)."""
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def community(size: float = 100.0) -> gpd.GeoDataFrame:
    """A size × size metre community, built in UTM 51N, handed over in EPSG:4326."""
    frame = gpd.GeoDataFrame(
        {"code": [COMMUNITY], "name": ["测试社区"]}, geometry=[rect(0, 0, size, size)], crs=UTM51N
    )
    return frame.to_crs(4326)


def grids(shapes: Sequence[shapely.Geometry], **columns: Sequence[object]) -> gpd.GeoDataFrame:
    """Grids from metre rectangles, coded 330106109001001, ...002, ..., in EPSG:4326."""
    data: dict[str, Sequence[object]] = {
        "code": [f"{COMMUNITY}{i + 1:03d}" for i in range(len(shapes))],
        "community_code": [COMMUNITY] * len(shapes),
        **columns,
    }
    return gpd.GeoDataFrame(data, geometry=list(shapes), crs=UTM51N).to_crs(4326)


def code(i: int) -> str:
    return f"{COMMUNITY}{i:03d}"


def metric_area(geom: shapely.Geometry) -> float:
    return float(gpd.GeoSeries([geom], crs=4326).to_crs(UTM51N).area.iloc[0])


def kinds(problems: gpd.GeoDataFrame) -> list[str]:
    return sorted(problems["kind"])


# ---------------------------------------------------------------- hand-made shapes


def test_an_overlap_strip_is_measured_and_named() -> None:
    # 0–55 m and 45–100 m: they share a 10 m × 100 m strip
    report = check_grids(grids([rect(0, 0, 55, 100), rect(45, 0, 100, 100)]), community())
    p = report.problems
    assert kinds(p) == ["overlap"]
    row = p.iloc[0]
    assert row["area_m2"] == pytest.approx(1000, rel=0.01)
    assert row["grid_codes"] == f"{code(1)}, {code(2)}"
    assert row["severity"] == "error" and row["community_code"] == COMMUNITY
    assert row["value"] == pytest.approx(2 * 1000 / 220, rel=0.01)  # mean width 2A/P, m
    assert not row["sliver"]
    # where: the strip itself
    strip = gpd.GeoSeries([rect(45, 0, 55, 100)], crs=UTM51N).to_crs(4326).iloc[0]
    assert shapely.symmetric_difference(row.geometry, strip).area < 1e-3 * strip.area
    assert metric_area(row.geometry) == pytest.approx(1000, rel=0.01)
    for word in (code(1), code(2), "重叠", "overlap", "1,000 m²", "cut it from the other"):
        assert word in row["message"]
    assert report.exceeds()
    assert report.summary["overlap"] == 1 and sum(report.summary.values()) == 1


def test_a_gap_is_measured_with_the_grids_around_it() -> None:
    report = check_grids(grids([rect(0, 0, 40, 100), rect(50, 0, 100, 100)]), community())
    [row] = report.problems.itertuples()
    assert row.kind == "gap" and row.severity == "error"
    assert row.area_m2 == pytest.approx(1000, rel=0.01)
    assert row.grid_codes == f"{code(1)}, {code(2)}"  # extend one of these over it
    assert "未被任何网格覆盖" in row.message and "lies in no grid" in row.message
    assert report.exceeds()


def test_a_community_without_grids_is_one_gap() -> None:
    empty = grids([]).astype({"code": object, "community_code": object})
    report = check_grids(empty, community())
    [row] = report.problems.itertuples()
    assert row.kind == "gap" and row.area_m2 == pytest.approx(10_000, rel=0.01)
    assert "no grids" in row.message


def test_a_grid_sticking_out_is_named_with_its_community() -> None:
    report = check_grids(grids([rect(0, 0, 50, 100), rect(50, 0, 110, 100)]), community())
    [row] = report.problems.itertuples()
    assert row.kind == "crossing" and row.grid_codes == code(2)
    assert row.area_m2 == pytest.approx(1000, rel=0.01)
    assert f"测试社区({COMMUNITY})" in row.message and "clip it" in row.message
    assert report.exceeds()


def test_an_invalid_bowtie_is_reported_where_it_crosses_itself_and_not_repaired() -> None:
    layers = tiny_district()
    g = layers["grid"].copy()
    g.loc[0, "geometry"] = bowtie()
    before = g.geometry.iloc[0]
    admin = layers["admin_area"]
    report = check_grids(g, admin[admin["level"] == "community"])
    invalid = report.problems[report.problems["kind"] == "invalid"]
    assert len(invalid) == 1
    row = invalid.iloc[0]
    assert row["grid_codes"] == "330106109001001" and row["severity"] == "error"
    assert "Self-intersection" in row["message"]
    # the point where it crosses itself: the middle of the community
    assert row.geometry.equals_exact(Point(120.085, 30.315), 1e-9)
    assert g.geometry.iloc[0] is before and not g.geometry.iloc[0].is_valid
    assert report.exceeds()


def test_a_thin_grid_is_a_sliver_warning_only() -> None:
    # a 0.5 m wide strip grid along the east edge: area 50 m², Polsby-Popper ≈ 0.016
    shapes = [rect(0, 0, 50, 100), rect(50, 0, 99.5, 100), rect(99.5, 0, 100, 100)]
    report = check_grids(grids(shapes), community())
    [row] = report.problems.itertuples()
    assert row.kind == "sliver" and row.severity == "warning" and row.grid_codes == code(3)
    assert row.area_m2 == pytest.approx(50, rel=0.01)
    assert row.value == pytest.approx(4 * math.pi * 50 / 201**2, rel=0.01)
    assert not report.exceeds()
    strict = CheckTolerances(gate_kinds=DEFAULT_GATE_KINDS | {"sliver"})
    assert report.exceeds(strict)
    assert (
        check_grids(grids(shapes), community(), tolerances=strict).problems.iloc[0]["severity"]
        == "error"
    )


def test_a_thin_gap_is_a_gap_flagged_as_sliver() -> None:
    report = check_grids(grids([rect(0, 0, 50, 100), rect(50.2, 0, 100, 100)]), community())
    [row] = report.problems.itertuples()
    assert row.kind == "gap" and row.sliver and row.severity == "error"
    assert row.area_m2 == pytest.approx(20, rel=0.02)
    assert row.value == pytest.approx(0.2, rel=0.05)  # mean width, m
    assert "snap them together" in row.message


def test_rounding_noise_is_not_reported() -> None:
    # boundaries a millimetre apart, and grids whose vertices on the community edge are
    # not the community's (their straight edges differ from its edges in degrees)
    shapes = [rect(0, 0, 50.001, 100), rect(50, 0, 100, 100)]
    assert check_grids(grids(shapes), community()).problems.empty
    shapes = [rect(0, 0, 50, 100), rect(50.0005, 0, 100, 100)]
    assert check_grids(grids(shapes), community()).problems.empty
    quarters = [rect(x, y, x + 50, y + 50) for x in (0, 50) for y in (0, 50)]
    report = check_grids(grids(quarters), community())
    assert report.problems.empty and not report.exceeds()


def test_the_area_tolerance_decides_what_gates() -> None:
    report = check_grids(grids([rect(0, 0, 55, 100), rect(45, 0, 100, 100)]), community())
    assert report.exceeds()
    assert not report.exceeds(CheckTolerances(area_m2=5_000))
    assert not report.exceeds(CheckTolerances(gate_kinds=frozenset({"gap"})))
    ignored = check_grids(
        grids([rect(0, 0, 55, 100), rect(45, 0, 100, 100)]),
        community(),
        tolerances=CheckTolerances(area_m2=5_000),
    )
    assert ignored.problems.empty


def test_the_tiny_district_is_clean() -> None:
    layers = tiny_district()
    admin = layers["admin_area"]
    buildings = layers["building"].assign(households=[2, 1])
    report = check_grids(layers["grid"], admin[admin["level"] == "community"], buildings=buildings)
    # nothing but the household band: 2 and 1 households are far below 300
    assert kinds(report.problems) == ["band", "band"]
    assert report.errors == 0 and not report.exceeds()
    assert sorted(report.problems["value"]) == [1.0, 2.0]


def test_a_grid_in_an_unknown_community_is_named() -> None:
    g = grids([rect(0, 0, 50, 100), rect(50, 0, 100, 100)])
    g.loc[1, "community_code"] = "330106109999"
    report = check_grids(g, community())
    assert kinds(report.problems) == ["gap", "unknown_community"]
    row = report.problems.set_index("kind").loc["unknown_community"]
    assert row["grid_codes"] == code(2) and "330106109999" in row["message"]
    g.loc[1, "community_code"] = None
    row = check_grids(g, community()).problems.set_index("kind").loc["unknown_community"]
    assert "no community code" in row["message"]


def test_grids_of_a_file_without_codes_are_named_by_row() -> None:
    g = grids([rect(0, 0, 55, 100), rect(45, 0, 100, 100)]).drop(columns="code")
    report = check_grids(g, community())
    assert report.problems.iloc[0]["grid_codes"] == "#1, #2"


# ---------------------------------------------------------------- records, band, outliers


def _points(xy_m: Sequence[tuple[float, float]]) -> list[Point]:
    to_wgs = Transformer.from_crs(UTM51N, 4326, always_xy=True)
    return [Point(*to_wgs.transform(X0 + x, Y0 + y)) for x, y in xy_m]


def test_buildings_in_no_grid_are_counted_where_they_are() -> None:
    g = grids([rect(0, 0, 40, 100), rect(50, 0, 100, 100)])  # gap at 40–50 m
    buildings = gpd.GeoDataFrame(
        {"id": [1, 2, 3, 4], "households": [30, 12, 40, 5]},
        geometry=_points([(10, 10), (45, 20), (45, 80), (300, 300)]),
        crs=4326,
    )
    # a grid file not loaded yet (no ids): placed geometrically
    report = check_grids(g, community(), buildings=buildings)
    lost = report.problems[report.problems["kind"] == "no_grid"].set_index("community_code")
    inside = lost.loc[COMMUNITY]
    assert inside["value"] == 2 and inside["severity"] == "warning"
    assert "52 households" in inside["message"] and "ids 2, 3" in inside["message"]
    assert inside.geometry.geom_type == "MultiPoint" and len(inside.geometry.geoms) == 2
    outside = report.problems[
        (report.problems["kind"] == "no_grid") & report.problems["community_code"].isna()
    ]
    assert len(outside) == 1 and "outside every community" in outside.iloc[0]["message"]
    # households per grid come from the buildings when the grids have none: 30 and 0
    band = report.problems[report.problems["kind"] == "band"]
    assert sorted(band["value"]) == [0.0, 30.0]


def test_stored_placements_and_records_in_no_grid_frames() -> None:
    g = grids([rect(0, 0, 50, 100), rect(50, 0, 100, 100)], id=[7, 8], households=[320, 410])
    points = gpd.GeoDataFrame(
        {"id": [1, 2], "grid_id": pd.array([7, None], dtype="Int64"), "households": [3, 4]},
        geometry=_points([(10, 10), (60, 10)]),
        crs=4326,
    )
    report = check_grids(g, community(), buildings=points)  # the database's word: grid_id
    assert report.summary["no_grid"] == 1
    assert "ids 2" in report.problems.iloc[0]["message"]
    records = gpd.GeoDataFrame(
        {"kind": ["building", "incident", "incident"], "id": [5, 9, 10], "households": [6, 0, 0]},
        geometry=_points([(10, 10), (20, 20), (30, 30)]),
        crs=4326,
    )
    report = check_grids(g, community(), buildings=records)
    lost = report.problems.set_index("kind").loc["no_grid"]
    assert sorted(lost["value"]) == [1.0, 2.0]
    assert any("2 incident(s)" in m for m in lost["message"])


def test_household_band_skips_dedicated_grids() -> None:
    g = grids(
        [rect(0, 0, 25, 100), rect(25, 0, 50, 100), rect(50, 0, 75, 100), rect(75, 0, 100, 100)],
        households=[299, 300, 501, 0],
        kind=["base", "base", "base", "dedicated"],
    )
    report = check_grids(g, community())
    band = report.problems[report.problems["kind"] == "band"]
    assert list(band["grid_codes"]) == [code(1), code(3)]
    assert "below the 300–500 band" in band.iloc[0]["message"]
    assert not report.exceeds()
    report = check_grids(g, community(), tolerances=CheckTolerances(band_min=200, band_max=600))
    assert report.problems.empty


def _lattice(n: int, size: float = 20.0) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """An n × n lattice of size-metre grids tiling one community exactly."""
    shapes = [
        rect(i * size, j * size, (i + 1) * size, (j + 1) * size) for j in range(n) for i in range(n)
    ]
    return grids(shapes), community(n * size)


def test_incident_outliers_by_robust_z_on_log_counts() -> None:
    g, c = _lattice(4)
    g["id"] = np.arange(1, 17)
    counts = pd.Series(
        [20, 22, 18, 25, 19, 21, 23, 17, 20, 24, 16, 22, 21, 19, 300, 0], index=g["id"]
    )
    report = check_grids(g, c, incidents_per_grid=counts)
    out = report.problems[report.problems["kind"] == "outlier"]
    assert list(out["grid_codes"]) == [code(15), code(16)]
    assert out.iloc[0]["value"] > 3.5 and out.iloc[1]["value"] < -3.5
    assert "far above" in out.iloc[0]["message"] and "far below" in out.iloc[1]["message"]
    # the score is the modified z of log(1 + incidents)
    x = np.log1p(counts.to_numpy(float))
    med = np.median(x)
    expected = 0.6745 * (x - med) / np.median(np.abs(x - med))
    assert out.iloc[0]["value"] == pytest.approx(expected[14])
    assert not report.exceeds()
    # by code works too; too few grids: no test at all
    by_code = check_grids(g, c, incidents_per_grid=counts.set_axis(g["code"]))
    assert by_code.summary["outlier"] == 2
    few = check_grids(g.iloc[:9], c, incidents_per_grid=counts)
    assert few.summary["outlier"] == 0


def test_robust_z_falls_back_when_most_loads_are_equal() -> None:
    z = robust_z([1, 1, 1, 1, 1, 1, 9])
    assert z[:6].tolist() == [0.0] * 6 and z[6] > 3.5
    assert robust_z([2, 2, 2]).tolist() == [0.0, 0.0, 0.0]
    assert polsby_popper([math.pi], [2 * math.pi]).tolist() == [pytest.approx(1.0)]


def test_a_large_lattice_is_clean_and_quick() -> None:
    import time

    g, c = _lattice(40, size=25.0)  # 1,600 grids of 625 m², every edge shared
    started = time.perf_counter()
    report = check_grids(g, c)
    assert time.perf_counter() - started < 20
    assert report.problems.empty and report.grids_checked == 1600


# ---------------------------------------------------------------- the report


def test_problems_frame_and_geojson() -> None:
    shapes = [rect(0, 0, 55, 100), rect(45, 0, 90, 100), rect(90, 0, 110, 50)]
    report = check_grids(grids(shapes), community())
    p = report.problems
    assert list(p.columns) == list(PROBLEM_COLUMNS)
    assert p.crs.to_epsg() == 4326
    assert list(p["severity"]) == ["error"] * len(p)
    assert set(report.summary) == set(KINDS)
    doc = report.to_geojson()
    text_ = json.dumps(doc, ensure_ascii=False, allow_nan=False)  # no NaN in it
    assert "crs" not in doc and doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == len(p)
    for feature in doc["features"]:
        ring = np.asarray(feature["geometry"]["coordinates"][0])
        assert 120 < ring[:, 0].min() < 121 and 30 < ring[:, 1].min() < 31  # lon, lat
        signed = np.sum(ring[:-1, 0] * ring[1:, 1] - ring[1:, 0] * ring[:-1, 1])
        assert signed > 0  # exterior counter-clockwise (RFC 7946 §3.1.6)
    assert "重叠" in text_


def test_bad_input_is_named() -> None:
    with pytest.raises(TopologyInputError, match="community_code"):
        check_grids(grids([rect(0, 0, 1, 1)]).drop(columns="community_code"), community())
    with pytest.raises(ValueError, match="band_min"):
        CheckTolerances(band_min=600, band_max=500)
    with pytest.raises(ValueError, match="unknown problem kind"):
        CheckTolerances(gate_kinds=frozenset({"gaps"}))


# ---------------------------------------------------------------- against PostGIS


@pytest.fixture()
def sample(engine: Engine) -> Engine:
    empty_database(engine)
    load_layers(engine, generate_district(2000, 7, progress=False), replace=True, progress=False)
    return engine


def _check_stored(engine: Engine, community_code: str | None = None):  # type: ignore[no-untyped-def]
    return check_grids(
        grid_store.current_grids(engine, community_code),
        grid_store.communities(engine, community_code),
        buildings=grid_store.records_in_no_grid(engine, community_code),
    )


def _corrupt(engine: Engine) -> tuple[str, list[str]]:
    """Grow one grid by 0.0005° (about 50 m); return its code and its neighbours' codes."""
    with engine.begin() as conn:
        target = conn.execute(
            text("SELECT code FROM grid WHERE valid_to IS NULL ORDER BY code LIMIT 1 OFFSET 1")
        ).scalar_one()
        neighbours = list(
            conn.execute(
                text(
                    "SELECT n.code FROM grid g JOIN grid n ON n.id <> g.id "
                    "AND n.valid_to IS NULL AND ST_DWithin(g.geom, n.geom, 0.0005) "
                    "AND ST_Area(ST_Intersection(ST_Buffer(g.geom, 0.0005), n.geom)) > 0 "
                    "WHERE g.code = :c AND g.valid_to IS NULL ORDER BY n.code"
                ),
                {"c": target},
            ).scalars()
        )
        conn.execute(
            text(
                "UPDATE grid SET geom = ST_Multi(ST_Buffer(geom, 0.0005)) "
                "WHERE code = :c AND valid_to IS NULL"
            ),
            {"c": target},
        )
    return target, neighbours


def test_the_stored_sample_district_is_clean(sample: Engine) -> None:
    report = _check_stored(sample)
    assert report.grids_checked == 5 and report.communities_checked == 1
    assert report.errors == 0 and not report.exceeds(), report.problems["message"].tolist()
    assert report.summary["gap"] == report.summary["overlap"] == report.summary["crossing"] == 0


def test_a_corrupted_grid_is_found_in_the_database(sample: Engine) -> None:
    target, neighbours = _corrupt(sample)
    assert neighbours
    report = _check_stored(sample)
    p = report.problems
    overlaps = p[p["kind"] == "overlap"]
    pairs = {frozenset(s.split(", ")) for s in overlaps["grid_codes"]}
    assert pairs == {frozenset({target, n}) for n in neighbours}
    assert (overlaps["area_m2"] > 1_000).all()
    crossing = p[p["kind"] == "crossing"]
    assert list(crossing["grid_codes"]) == [target]
    assert crossing.iloc[0]["area_m2"] > 1_000
    assert report.exceeds()
    # the check of one community sees the same
    community_code = target[:12]
    assert _check_stored(sample, community_code).summary == report.summary


def _cli() -> typer.Typer:
    from api.commands.grids_check import check

    app = typer.Typer()
    app.command("check")(check)
    app.command("noop")(lambda: None)  # two commands: "check" stays a subcommand
    return app


@pytest.fixture()
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from gis.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_cli_passes_a_clean_district(sample: Engine, cli_env: None, tmp_path: Path) -> None:
    out = tmp_path / "problems.geojson"
    result = CliRunner().invoke(_cli(), ["check", "--geojson-out", str(out)])
    assert result.exit_code == 0, result.output
    assert "passed" in result.stderr and "summary" in result.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["features"] == []


def test_the_cli_fails_a_corrupted_grid_and_writes_what_to_fix(
    sample: Engine, cli_env: None, tmp_path: Path
) -> None:
    target, neighbours = _corrupt(sample)
    out, page = tmp_path / "problems.geojson", tmp_path / "topology.html"
    result = CliRunner().invoke(
        _cli(),
        ["check", "--community", target[:12], "--geojson-out", str(out), "--map-out", str(page)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 1, result.output
    assert "failed" in result.stderr and "overlap" in result.stderr and target in result.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    features = doc["features"]
    by_kind: dict[str, list[dict]] = {}
    for feature in features:
        by_kind.setdefault(feature["properties"]["kind"], []).append(feature)
    assert len(by_kind["overlap"]) == len(neighbours)
    [crossing] = by_kind["crossing"]
    props = crossing["properties"]
    assert props["grid_codes"] == target and props["severity"] == "error"
    assert props["kind_label"] == "越出社区边界" and props["area_m2"] > 1_000
    assert "clip it to the community boundary" in props["message"]
    assert crossing["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    for feature in by_kind["overlap"]:
        assert target in feature["properties"]["grid_codes"]
        lon, lat = shapely.geometry.shape(feature["geometry"]).representative_point().coords[0]
        assert 119 < lon < 121 and 29 < lat < 31  # lon/lat order
    # the map file loads its scripts from folders on this machine
    html = page.read_text(encoding="utf-8")
    assert "wangge-problem" in html and target in html
    from maps.assets import external_references

    assert external_references(html) == []
    for src in re.findall(r'<script src="([^"]+)"', html):
        assert Path(src).is_file(), src


def test_the_cli_names_an_unknown_community(sample: Engine, cli_env: None) -> None:
    result = CliRunner().invoke(_cli(), ["check", "--community", "330106999999"])
    assert result.exit_code == 1
    assert "no community with code 330106999999" in result.stderr
