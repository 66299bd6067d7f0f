"""Importing boundary layers: versions, no-op re-imports, dry runs, repairs, rejections, activation."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from layers.coords import point_from_lonlat
from layers.importing import (
    BoundaryImportSpec,
    LayerActivationError,
    LayerImportError,
    activate,
    import_boundaries,
    read_manifest,
    retire,
    rollback_last,
)
from layers.lookup import ward_at
from layers.models import LayerChange, LayerKind, LayerVersion, Ward, WardPart
from tests.conftest import EAST_SQUARE, WEST_SQUARE, collection, feature

pytestmark = pytest.mark.django_db

BOWTIE = [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]  # self-intersecting ring


def nothing_written() -> bool:
    return not (LayerVersion.objects.exists() or Ward.objects.exists() or WardPart.objects.exists())


def test_an_import_records_a_version_with_counts_and_parts(two_square_wards):
    version = LayerVersion.objects.get(pk=two_square_wards.version_id)
    assert version.kind == LayerKind.WARDS
    assert version.feature_count == 2
    assert version.counts["boundaries"] == 2
    assert len(version.checksum) == 64
    assert version.active
    assert WardPart.objects.filter(layer_version=version).count() >= 2
    assert two_square_wards.boundaries_written == 2


def test_reimporting_the_same_file_is_a_no_op_that_says_so(write_geojson):
    path = write_geojson(collection(feature("1", WEST_SQUARE)))
    spec = BoundaryImportSpec(path=path, kind=LayerKind.WARDS, name="w", number_field="ward")
    first = import_boundaries(spec)
    second = import_boundaries(spec)
    assert second.unchanged
    assert second.version_id == first.version_id
    assert "unchanged" in second.lines()[0]
    assert LayerVersion.objects.count() == 1
    assert Ward.objects.count() == 1


def test_a_dry_run_reads_everything_and_leaves_nothing(load_wards):
    report = load_wards(collection(feature("1", WEST_SQUARE), feature("2", EAST_SQUARE)), dry_run=True)
    assert report.dry_run
    assert report.boundaries_written == 2
    assert report.version_id is None
    assert report.lines()[0].startswith("DRY RUN")
    assert nothing_written()
    assert not LayerChange.objects.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "could not read it as a vector file"),
        (collection(), "no features"),
        (collection(feature("  ", WEST_SQUARE)), "must name the area"),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"ward": "1"},
                        "geometry": {"type": "Point", "coordinates": [0.5, 0.5]},
                    }
                ],
            },
            "expected a Polygon or MultiPolygon",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {"ward": "1"}, "geometry": None}],
            },
            "has no geometry",
        ),
    ],
    ids=["broken-json", "empty", "blank-identifier", "point-geometry", "null-geometry"],
)
def test_a_broken_or_empty_file_is_rejected_naming_the_problem(load_wards, content, expected):
    with pytest.raises(LayerImportError, match=expected):
        load_wards(content)
    assert nothing_written()


def test_a_missing_number_property_lists_the_properties_found(load_wards):
    with pytest.raises(LayerImportError, match=r"'district' is not in the file; properties found: ward"):
        load_wards(collection(feature("1", WEST_SQUARE)), number_field="district")
    assert nothing_written()


def test_a_second_feature_failing_leaves_nothing_from_the_first(load_wards):
    with pytest.raises(LayerImportError, match="feature 2"):
        load_wards(collection(feature("1", WEST_SQUARE), feature(None, EAST_SQUARE)))
    assert nothing_written()


def test_an_invalid_ring_is_repaired_and_reported(load_wards):
    report = load_wards(collection(feature("3", BOWTIE)))
    assert [r["number"] for r in report.repaired] == [3]
    assert "Self-intersection" in str(report.repaired[0]["reason"])
    ward = Ward.objects.get(number=3)
    assert ward.geom.valid
    assert ward.geom.area == pytest.approx(0.5)
    assert any("repaired number 3" in line for line in report.lines())
    assert ward_at(point_from_lonlat(0.1, 0.5)).number == 3
    assert ward_at(point_from_lonlat(0.9, 0.5)).number == 3


def test_features_sharing_a_number_are_merged_and_reported(load_wards):
    report = load_wards(collection(feature("5", WEST_SQUARE), feature("5", EAST_SQUARE)))
    assert report.merged == [{"number": 5, "features": 2}]
    ward = Ward.objects.get(number=5)
    assert ward.geom.valid
    assert ward.geom.area == pytest.approx(2.0)
    assert ward_at(point_from_lonlat(1.5, 0.5)).number == 5


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="needs gdal-bin's ogr2ogr to write test files")
@pytest.mark.parametrize(("driver", "suffix"), [("ESRI Shapefile", ".shp"), ("GPKG", ".gpkg")])
def test_shapefiles_and_geopackages_in_state_plane_are_reprojected(write_geojson, tmp_path, driver, suffix):
    """Another city's districts in a projected CRS (Illinois East, US feet) load without code changes."""
    src = write_geojson(
        collection(
            feature(
                "1", [[-87.70, 41.90], [-87.60, 41.90], [-87.60, 41.95], [-87.70, 41.95], [-87.70, 41.90]], district="1"
            )
        )
    )
    out = tmp_path / f"districts{suffix}"
    subprocess.run(["ogr2ogr", "-f", driver, "-t_srs", "EPSG:3435", str(out), str(src)], check=True)
    report = import_boundaries(
        BoundaryImportSpec(path=out, kind=LayerKind.WARDS, name="districts", number_field="district", activate=True)
    )
    ward = Ward.objects.get(layer_version_id=report.version_id)
    xmin, ymin, xmax, ymax = ward.geom.extent
    assert (xmin, ymin, xmax, ymax) == pytest.approx((-87.70, 41.90, -87.60, 41.95), abs=1e-6)
    assert ward_at(point_from_lonlat(-87.65, 41.92)).number == 1


def test_activation_retires_the_overlapping_version_and_rollback_restores_it(load_wards):
    old = load_wards(collection(feature("1", WEST_SQUARE)), name="old")
    new = load_wards(collection(feature("9", WEST_SQUARE)), name="new", activate=False)
    pt = point_from_lonlat(0.5, 0.5)
    assert ward_at(pt).number == 1

    report = activate(LayerVersion.objects.get(pk=new.version_id))
    assert report.changed[old.version_id] == (True, False)
    assert ward_at(pt).number == 9

    rollback_last(LayerKind.WARDS)
    assert ward_at(pt).number == 1
    assert LayerVersion.objects.get(pk=old.version_id).active
    assert not LayerVersion.objects.get(pk=new.version_id).active
    assert list(LayerChange.objects.values_list("action", flat=True)[:2]) == ["rollback", "activate"]


def test_retiring_is_reversible_too(two_square_wards):
    version = LayerVersion.objects.get(pk=two_square_wards.version_id)
    retire(version)
    assert not LayerVersion.objects.filter(active=True).exists()
    rollback_last(LayerKind.WARDS)
    assert LayerVersion.objects.get(pk=version.pk).active


def test_maps_with_separate_date_ranges_stay_active_together(load_wards):
    a = load_wards(
        collection(feature("1", WEST_SQUARE)), effective_from=dt.date(2015, 1, 1), effective_to=dt.date(2023, 1, 1)
    )
    b = load_wards(collection(feature("2", WEST_SQUARE)), effective_from=dt.date(2023, 1, 1))
    assert LayerVersion.objects.filter(pk__in=[a.version_id, b.version_id], active=True).count() == 2


def test_activation_can_refuse_instead_of_replacing(load_wards):
    load_wards(collection(feature("1", WEST_SQUARE)), name="old")
    new = load_wards(collection(feature("2", WEST_SQUARE)), name="new", activate=False)
    with pytest.raises(LayerActivationError, match="overlaps active version"):
        activate(LayerVersion.objects.get(pk=new.version_id), replace_overlapping=False)


def test_rollback_with_nothing_to_undo_says_so(db):
    with pytest.raises(LayerActivationError, match=r"no activation or retirement"):
        rollback_last(LayerKind.WARDS)


def test_an_end_date_before_the_start_is_refused(load_wards):
    with pytest.raises(LayerImportError, match="must be after"):
        load_wards(
            collection(feature("1", WEST_SQUARE)), effective_from=dt.date(2023, 1, 1), effective_to=dt.date(2020, 1, 1)
        )


def test_the_chicago_manifest_names_real_files_with_dates():
    specs = read_manifest(settings.CITY_LAYER_MANIFEST)
    wards = [s for s in specs if s.kind == LayerKind.WARDS]
    assert [s.effective_from for s in wards] == [dt.date(2003, 5, 5), dt.date(2015, 5, 18), dt.date(2023, 5, 15)]
    assert all(s.path.exists() for s in specs)


def test_the_import_command_prints_the_report_and_fails_cleanly(write_geojson, capsys):
    path = write_geojson(collection(feature("1", WEST_SQUARE)))
    call_command("import_boundaries", str(path), "--kind", "wards", "--number-field", "ward", "--activate")
    assert "wrote 1 wards" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_boundaries", str(path) + ".missing", "--kind", "wards", "--number-field", "ward")


@pytest.mark.parametrize(
    ("codes", "numbers"),
    [
        (["District 3B", "District 3A", "District 10"], {"District 3A": 1, "District 3B": 2, "District 10": 3}),
        (["Ward 8", "Ward 12"], {"Ward 8": 8, "Ward 12": 12}),
        (["09410", "94110"], {"09410": 9410, "94110": 94110}),
    ],
    ids=["codes-in-natural-order", "one-number-each", "zip-codes"],
)
def test_district_identifiers_are_kept_as_written_and_sorted_naturally(load_wards, client, codes, numbers):
    from layers.models import Ward

    squares = [WEST_SQUARE, EAST_SQUARE, [[0.0, 1.0], [1.0, 1.0], [1.0, 2.0], [0.0, 2.0], [0.0, 1.0]]]
    load_wards(collection(*(feature(code, ring) for code, ring in zip(codes, squares, strict=False))))
    kept = {w.code: w.number for w in Ward.objects.all()}
    assert kept == numbers
    assert [w.label for w in Ward.objects.order_by("number")] == sorted(numbers, key=numbers.__getitem__)
    outlines = client.get("/layers/basemap/wards.geojson").json()
    assert sorted(f["properties"]["code"] for f in outlines["features"]) == sorted(codes)
