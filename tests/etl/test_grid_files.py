"""Grid files a user brings: exported, re-imported (also from GCJ-02), and refused when wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
import shapely
from shapely import box

from etl.grid_files import (
    GridImportRejected,
    export_grids,
    import_grids,
    read_polygons,
)
from etl.load import load_layers
from gis.coords import wgs84_to_gcj02
from gis.errors import ValidationError
from tests.conftest import empty_database
from tests.factories import MID, E, N, S, W, tiny_district

COMMUNITY = "330106109001"


@pytest.fixture()
def district(engine: Engine) -> Engine:
    empty_database(engine)
    load_layers(engine, tiny_district(), progress=False)
    return engine


def current(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT g.code, count(b.id) FROM grid g "
                    "LEFT JOIN building b ON b.grid_id = g.id "
                    "WHERE g.valid_to IS NULL GROUP BY g.code ORDER BY g.code"
                )
            )
        ]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_export_writes_what_a_gis_user_opens(district: Engine, tmp_path: Path, suffix: str) -> None:
    path = export_grids(district, tmp_path / f"grids{suffix}")
    back = read_polygons(path)
    assert list(back["code"]) == [f"{COMMUNITY}001", f"{COMMUNITY}002"]
    assert list(back["households"]) == [2, 1]
    assert back.crs.to_epsg() == 4326
    # GeoJSON (RFC 7946) keeps 7 decimals: about a centimetre
    assert shapely.hausdorff_distance(back.geometry.iloc[0], box(W, S, MID, N)) < 1e-7


def test_gcj02_file_round_trips_to_the_same_grids(district: Engine, tmp_path: Path) -> None:
    before = current(district)
    exported = read_polygons(export_grids(district, tmp_path / "grids.geojson"))
    gcj = exported.copy()
    gcj["geometry"] = gcj.geometry.apply(
        lambda g: shapely.transform(
            g, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
        )
    )
    gcj.to_file(tmp_path / "amap.geojson", driver="GeoJSON")
    report = import_grids(district, tmp_path / "amap.geojson", coord_type="gcj02", progress=False)
    assert report.saved and report.communities == [COMMUNITY]
    assert current(district) == before  # same codes, same buildings in each
    with district.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM grid WHERE valid_to IS NOT NULL")).scalar_one()
            == 2
        )
        west = conn.execute(
            text(
                f"SELECT ST_AsBinary(geom) FROM grid WHERE code = '{COMMUNITY}001' "
                "AND valid_to IS NULL"
            )
        ).scalar_one()
    assert shapely.hausdorff_distance(shapely.from_wkb(bytes(west)), box(W, S, MID, N)) < 1e-8


def test_a_projected_file_is_reprojected_and_said_so(district: Engine, tmp_path: Path) -> None:
    """A Shapefile in Web Mercator, as a GIS exports it: the same grids, and a note."""
    before = current(district)
    exported = read_polygons(export_grids(district, tmp_path / "grids.geojson"))
    exported.to_crs(3857).to_file(tmp_path / "mercator.shp")
    report = import_grids(district, tmp_path / "mercator.shp", progress=False)
    assert report.saved and current(district) == before
    assert [w.message for w in report.warnings if w.field == "crs"] == [
        "reprojected from WGS 84 / Pseudo-Mercator to WGS84"
    ]


def _write(tmp_path: Path, geoms: list, **columns: list) -> Path:
    path = tmp_path / "user.geojson"
    gpd.GeoDataFrame(columns, geometry=geoms, crs=4326).to_file(path, driver="GeoJSON")
    return path


def test_overlapping_grids_are_reported_not_fixed(district: Engine, tmp_path: Path) -> None:
    before = current(district)
    overlap = 0.001  # about 100 m of the west grid reaches into the east one
    path = _write(
        tmp_path,
        [box(W, S, MID + overlap, N), box(MID, S, E, N)],
        code=[f"{COMMUNITY}001", f"{COMMUNITY}002"],
    )
    with pytest.raises(GridImportRejected) as info:
        import_grids(district, path, progress=False)
    problems = info.value.topology.problems
    overlaps = problems[problems["kind"] == "overlap"]
    assert len(overlaps) == 1
    assert f"{COMMUNITY}001" in overlaps.iloc[0]["grid_codes"]
    assert f"{COMMUNITY}002" in overlaps.iloc[0]["grid_codes"]
    assert current(district) == before


def test_gapped_grids_are_reported(district: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, [box(W, S, MID - 0.001, N), box(MID, S, E, N)])
    with pytest.raises(GridImportRejected) as info:
        import_grids(district, path, progress=False)
    assert "gap" in set(info.value.topology.problems["kind"])


def test_a_grid_outside_every_community_is_named(district: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, [box(W, S, MID, N), box(E + 0.05, S, E + 0.06, N)])
    with pytest.raises(ValidationError) as info:
        import_grids(district, path, progress=False)
    [p] = info.value.problems
    assert (p.row, p.field) == (2, "community_code")


def test_bad_codes_are_named(district: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [box(W, S, MID, N), box(MID, S, E, N)],
        code=["330106109002001", f"{COMMUNITY}001"],
    )
    with pytest.raises(ValidationError) as info:
        import_grids(district, path, progress=False)
    [p] = info.value.problems
    assert p.row == 1 and "does not start with its community" in p.message


def test_codes_are_generated_in_reading_order(district: Engine, tmp_path: Path) -> None:
    # north half, then south-west and south-east quarters, given in a scrambled order
    mid_lat = (S + N) / 2
    path = _write(
        tmp_path, [box(MID, S, E, mid_lat), box(W, mid_lat, E, N), box(W, S, MID, mid_lat)]
    )
    report = import_grids(district, path, progress=False)
    assert report.versions[0].codes == [f"{COMMUNITY}003", f"{COMMUNITY}001", f"{COMMUNITY}002"]


def test_numeric_codes_from_a_shapefile_are_read_as_text(district: Engine, tmp_path: Path) -> None:
    path = tmp_path / "numeric.shp"
    gpd.GeoDataFrame(
        {"WGBM": [float(f"{COMMUNITY}001"), float(f"{COMMUNITY}002")]},
        geometry=[box(W, S, MID, N), box(MID, S, E, N)],
        crs=4326,
    ).to_file(path)
    report = import_grids(district, path, dry_run=True, progress=False)
    assert report.grids == 2 and not report.saved


def test_a_city_imported_after_its_district_takes_it_in(district: Engine, tmp_path: Path) -> None:
    path = tmp_path / "cities.geojson"
    gpd.GeoDataFrame(
        {
            "adcode": ["33", "3301", "330108"],
            "name": ["浙江省", "杭州市", "滨江区"],
            "级别": ["省", "市", "区"],
        },
        geometry=[box(W - 1, S - 1, E + 1, N + 1)] * 2 + [box(E + 0.02, S, E + 0.03, N)],
        crs=4326,
    ).to_file(path, driver="GeoJSON")
    from api.services.registry_io import ImportOptions, import_file

    report = import_file(district, "areas", path, ImportOptions())
    assert report.added == 3
    with district.connect() as conn:
        parents = dict(
            conn.execute(
                text(
                    "SELECT c.code, p.code FROM admin_area c LEFT JOIN admin_area p "
                    "ON p.id = c.parent_id WHERE c.level IN ('province', 'city', 'district')"
                )
            ).all()
        )
    # the stored district (330106, loaded first) is hung under the new city too
    assert parents == {"33": None, "3301": "33", "330108": "3301", "330106": "3301"}
    # the grid codes keep the district's 6 digits
    assert current(district)[0][0].startswith("330106")


def test_admin_areas_import_with_parents_already_stored(district: Engine, tmp_path: Path) -> None:
    path = tmp_path / "areas.geojson"
    gpd.GeoDataFrame(
        {
            "code": ["330106109002"],
            "name": ["新社区"],
            "level": ["community"],
            "parent_code": ["330106109"],
        },
        geometry=[box(E, S, E + 0.01, N)],
        crs=4326,
    ).to_file(path, driver="GeoJSON")
    from api.services.registry_io import ImportOptions, import_file

    report = import_file(district, "areas", path, ImportOptions())
    assert (report.added, report.changed) == (1, 0)


def test_grid_kinds_are_read_in_chinese_and_an_unknown_one_is_named(
    district: Engine, tmp_path: Path
) -> None:
    """The trial: a kind of 特殊 reached the database's CHECK rule (a traceback)."""
    halves = [box(W, S, MID, N), box(MID, S, E, N)]
    with pytest.raises(ValidationError) as info:
        import_grids(district, _write(tmp_path, halves, kind=["基础网格", "特殊"]), progress=False)
    [p] = info.value.problems
    assert p.row == 2 and "unknown grid kind '特殊'" in p.message and "专属网格" in p.fix
    import_grids(district, _write(tmp_path, halves, kind=["基础网格", "专属"]), progress=False)
    with district.connect() as conn:
        kinds = conn.execute(
            text("SELECT kind FROM grid WHERE valid_to IS NULL ORDER BY code")
        ).scalars()
        assert list(kinds) == ["base", "dedicated"]


def test_exporting_a_community_that_has_no_grids_is_said(district: Engine, tmp_path: Path) -> None:
    """The trial: --community 999 wrote an empty file, exit 0."""
    from etl.gpkg import LayerFileError

    with pytest.raises(LayerFileError, match="no community of that code has grids"):
        export_grids(district, tmp_path / "g.geojson", "999")
    assert not (tmp_path / "g.geojson").exists()
    assert len(gpd.read_file(export_grids(district, tmp_path / "c.geojson", COMMUNITY))) > 0
