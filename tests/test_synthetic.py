"""The synthetic generator: distributions that follow the sample, a consistent ground truth, idempotence."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from pathlib import Path

import pytest
from django.utils import timezone

from gis_app.citydata.loading import load_311
from gis_app.citydata.synthetic import GeneratorError, generate
from gis_app.models import ImportBatch, ServiceRequest
from routing.network import NetworkConfig, StreetNetworkSpec
from routing.streets import import_street_network

pytestmark = pytest.mark.django_db

HEADER = (
    "sr_number,sr_type,owner_department,status,created_date,closed_date,ward,duplicate,parent_sr_number,"
    "longitude,latitude\n"
)


def history_csv() -> str:
    """60 requests: 40 potholes (30 in ward 1), 20 dead lights (all in ward 2); 6 labelled duplicates."""
    lines = []
    for i in range(60):
        pothole = i < 40
        west = (i < 30) if pothole else False
        lon = 0.2 + (i % 6) * 0.1 if west else 1.2 + (i % 6) * 0.1
        lat = 0.2 + (i % 5) * 0.1
        dup = i in (1, 3, 5, 41, 43, 45)
        parent = f"R{i - 1}" if dup else ""
        if dup:
            lon, lat = lon - 0.1 + 0.0005, lat - 0.1 if i % 5 else lat + 0.4
        lines.append(
            f"R{i},{'Pothole' if pothole else 'Light Out'},{'Streets' if pothole else 'Lights'},Completed,"
            f"2021-01-01T{8 + i % 10:02d}:00:00,2021-01-0{2 + i % 3}T08:00:00,{1 if west else 2},"
            f"{'True' if dup else 'False'},{parent},{lon:.4f},{lat:.4f}"
        )
    return HEADER + "\n".join(lines) + "\n"


MAPPING = """
[source]
name = "literal history"
file = "history.csv"
time_zone = "UTC"
date_formats = ["%Y-%m-%dT%H:%M:%S"]
[columns]
id = "sr_number"
type_name = "sr_type"
department = "owner_department"
created = "created_date"
closed = "closed_date"
status = "status"
ward = "ward"
duplicate = "duplicate"
parent_id = "parent_sr_number"
lon = "longitude"
lat = "latitude"
[status_map]
Completed = "closed"
"""

ASSUMPTIONS = """
[synthetic]
weekday_weights = [1, 1, 1, 1, 1, 1, 1]
hard_negative_rate = 0.05
hot_spots = 2
hot_spot_requests = 5
min_rows_for_type_rate = 10
"""


def history_streets_and_assumptions(tmp_path: Path, avenues: int, network: str) -> Path:
    """The 60-row history loaded, a grid of streets AVE 0..avenues-1 by ST 0..10 (0.1° apart from 0, 0), and
    the assumptions file's path."""
    (tmp_path / "history.csv").write_text(history_csv())
    (tmp_path / "m.toml").write_text(MAPPING)
    assert load_311(tmp_path / "m.toml").loaded == 60
    corners = tmp_path / "corners.csv"
    rows = ["street_1,street_2,longitude,latitude"]
    rows += [f"AVE {i},ST {j},{i * 0.1:.1f},{j * 0.1:.1f}" for i in range(avenues) for j in range(11)]
    corners.write_text("\n".join(rows) + "\n")
    import_street_network(
        StreetNetworkSpec(kind="derived", name=network, path=corners), NetworkConfig(max_gap_metres=20_000)
    )
    path = tmp_path / "assumptions.toml"
    path.write_text(ASSUMPTIONS)
    return path


@pytest.fixture
def city(two_square_wards, tmp_path: Path) -> Path:
    return history_streets_and_assumptions(tmp_path, 21, "grid")  # streets over both squares


def tv_distance(a: Counter, b: Counter) -> float:
    ta, tb = sum(a.values()), sum(b.values())
    return 0.5 * sum(abs(a[k] / ta - b[k] / tb) for k in set(a) | set(b))


def test_generated_mix_follows_the_sample_within_tolerance(city):
    report = generate(days=30, per_day=100, seed=7, assumptions=city)
    gen = ServiceRequest.objects.filter(import_batch_id=report.batch_id)
    plain = [
        r
        for r in gen.values("service_type__name", "ward_number", "source_data")
        if set(r["source_data"]) == {"synthetic"}
    ]
    sample = ServiceRequest.objects.filter(import_batch__kind="history")
    type_gen = Counter(r["service_type__name"] for r in plain)
    type_sample = Counter(sample.values_list("service_type__name", flat=True))
    assert tv_distance(type_gen, type_sample) < 0.03  # stated tolerance: 3 points of total variation
    potholes = Counter(r["ward_number"] for r in plain if r["service_type__name"] == "Pothole")
    sample_potholes = Counter(sample.filter(service_type__name="Pothole").values_list("ward_number", flat=True))
    assert tv_distance(potholes, sample_potholes) < 0.05
    assert all(r["ward_number"] == 2 for r in plain if r["service_type__name"] == "Light Out")


@pytest.fixture
def half_covered_city(two_square_wards, tmp_path: Path) -> Path:
    """The same history, but the street network covers the west square (ward 1) only, as one OSM extract of
    a neighbourhood covers part of a city."""
    return history_streets_and_assumptions(tmp_path, 11, "west grid")


def test_requests_spread_over_the_whole_city_where_the_network_covers_part(half_covered_city):
    """Ward 2 has no streets loaded: its requests are drawn at its own history's places, not moved into ward 1."""
    report = generate(days=10, per_day=60, seed=5, assumptions=half_covered_city)
    gen = ServiceRequest.objects.filter(import_batch_id=report.batch_id, source_data__has_key="synthetic")
    drawn = gen.filter(service_type__name="Light Out").values_list("location", "source_data")
    lights = [p for p, data in drawn if set(data) == {"synthetic"}]  # not the planted duplicates or near-misses
    history = [p for p in ServiceRequest.objects.filter(import_batch__kind="history", ward_number=2).values_list(
        "location", flat=True)]  # fmt: skip
    assert lights and all(p.x > 1.0 for p in lights)  # in ward 2, east of the west square's streets
    for p in lights:  # each within the jitter (25 m, about 0.00023°) of a place the history knows
        assert min(math.hypot(p.x - h.x, p.y - h.y) for h in history) < 0.0003


def test_the_ground_truth_is_consistent(city):
    report = generate(days=20, per_day=80, seed=3, assumptions=city)
    rows = {r.pk: r for r in ServiceRequest.objects.filter(import_batch_id=report.batch_id)}
    dups = [r for r in rows.values() if "true_parent" in r.source_data]
    negs = [r for r in rows.values() if "hard_negative_of" in r.source_data]
    assert dups and negs and report.hot_spot_rows == 10
    # The duplicates' gaps are the history's geocoded pairs': the rows claim the history's placing, not a pin's
    # (a pin's point may lie metres from its problem: gis_app.dedup.pin_slack_m).
    assert {r.located_by for r in rows.values()} == {"address"}
    for d in dups:
        parent = rows[d.source_data["true_parent"]]
        assert d.parent_id == parent.pk and d.status == "duplicate" and parent.parent_id is None
        assert d.service_type_id == parent.service_type_id and d.requested_at > parent.requested_at
    for n in negs:
        other = rows[n.source_data["hard_negative_of"]]
        metres = n.location.transform(3857, clone=True).distance(other.location.transform(3857, clone=True))
        metres *= math.cos(math.radians(n.location.y))  # web-mercator scale at this latitude
        assert 25 <= metres <= 160 and n.parent_id is None and n.service_type_id == other.service_type_id


def test_re_running_the_same_generation_is_a_no_op(city):
    first = generate(days=5, per_day=20, seed=1, assumptions=city)
    again = generate(days=5, per_day=20, seed=1, assumptions=city)
    assert again.unchanged and again.batch_id == first.batch_id
    assert ImportBatch.objects.filter(kind="synthetic").count() == 1


def test_without_history_the_generator_says_what_to_load(two_square_wards, tmp_path):
    (tmp_path / "a.toml").write_text(ASSUMPTIONS)
    with pytest.raises(GeneratorError, match="load_311"):
        generate(days=1, per_day=1, seed=1, assumptions=tmp_path / "a.toml")


def test_a_generated_history_holds_nothing_filed_after_now(city):
    """Days up to tomorrow: what falls after the moment of generation is left out and counted, not written."""
    started = timezone.now()
    report = generate(days=4, per_day=40, seed=5, assumptions=city, end=timezone.localdate() + dt.timedelta(days=2))
    written = ServiceRequest.objects.filter(import_batch_id=report.batch_id)
    assert report.not_yet > 0 and written.count() == report.rows > 0
    assert not written.filter(requested_at__gt=timezone.now()).exists()
    assert written.filter(requested_at__gte=started - dt.timedelta(hours=36)).exists()  # the recent days stay
    assert "drawn after now left out" in report.lines()[0]
