"""Dedup learns only from what a city has: a type links on its own once its threshold is learned from enough
labelled pairs, from the whole history; a report after the work is done is a possible recurrence, not a
duplicate."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from gis_app import dedup
from gis_app.choices import Status
from gis_app.citydata.dedup_learning import Looked, choose_threshold
from gis_app.intake import IntakeData, create_request
from gis_app.models import ImportBatch, ServiceRequest, ServiceType
from gis_app.tickets import new_ticket
from gis_app.transitions import apply
from layers.coords import point_from_lonlat

pytestmark = pytest.mark.django_db

M = 1 / 111_320  # a metre of latitude, in degrees


def at(metres_north: float = 0.0):  # type: ignore[no-untyped-def]
    return point_from_lonlat(0.5, 0.5 + metres_north * M)


@pytest.fixture
def bins(two_square_wards, streets_dept):  # type: ignore[no-untyped-def]
    return ServiceType.objects.create(
        code="bins", name="Overflowing bin", department=streets_dept, dedup_threshold=0.6, dedup_learned_pairs=3
    )


@pytest.fixture
def strict(settings):  # type: ignore[no-untyped-def]
    settings.DEDUP_MIN_PAIRS = 20
    return settings


def report(point, **extra):  # type: ignore[no-untyped-def]
    return create_request(IntakeData(service_code="bins", location=point, **extra), link_duplicates=True)


def test_a_type_learned_from_three_pairs_only_suggests(bins, strict):
    first = report(at(0))
    second = report(at(8))
    assert second.status == Status.OPEN and second.parent is None  # not linked on its own
    decision = dedup.decide(second)
    assert decision.suggest_only and decision.link is None
    assert [c.ticket for c in dedup.for_request(second)] == [first.ticket]  # still offered to a person


def test_once_learned_from_enough_pairs_the_type_links_on_its_own(bins, strict):
    ServiceType.objects.filter(pk=bins.pk).update(dedup_learned_pairs=25)
    first = report(at(0))
    second = report(at(8))
    assert second.status == Status.DUPLICATE and second.parent == first


def test_a_report_after_the_pick_up_is_a_possible_recurrence_not_a_duplicate(bins):
    done = report(at(0))
    apply(done, "complete", note="emptied")
    again = report(at(3), description="overflowing again")
    assert again.status == Status.OPEN and again.parent is None
    offer = again.events.get(verb="possible_recurrence")
    assert offer.new == {"of": done.ticket} and not offer.public and "completed" in offer.note
    assert dedup.for_request(again)[0].as_dict()["recurrence"] is True


def test_an_open_issue_is_still_the_parent_when_a_completed_one_is_nearer(bins):
    opened = report(at(10))
    done = create_request(IntakeData(service_code="bins", location=at(0)), link_duplicates=False)
    apply(done, "complete", note="emptied")
    again = report(at(1))
    assert again.parent == opened


def history(type_: ServiceType, days: list[tuple[int, list[tuple[float, float | None]]]]) -> ImportBatch:
    """A loaded history: per day, requests (metres north, metres to the labelled parent's place or None)."""
    batch = ImportBatch.objects.create(kind="history", source="test export", checksum="t1")
    start = timezone.now() - dt.timedelta(days=10)
    for day, rows in days:
        for i, (north, parent_north) in enumerate(rows):
            when = start + dt.timedelta(days=day, minutes=10 * i + 30)
            parent = None
            if parent_north is not None:
                parent = ServiceRequest.objects.create(
                    ticket=new_ticket(),
                    service_type=type_,
                    department=type_.department,
                    location=at(parent_north),
                    requested_at=when - dt.timedelta(minutes=5),
                    import_batch=batch,
                    source_data={"dispatchable": True},
                    status=Status.OPEN,
                )
            ServiceRequest.objects.create(
                ticket=new_ticket(),
                service_type=type_,
                department=type_.department,
                location=at(north),
                requested_at=when,
                import_batch=batch,
                source_data={"dispatchable": True},
                parent=parent,
                status=Status.DUPLICATE if parent else Status.OPEN,
            )
    return batch


def test_learning_from_no_labelled_pair_says_so_and_keeps_the_defaults(bins, capsys):
    history(bins, [(0, [(0, None), (300, None)]), (1, [(600, None)])])
    call_command("learn_dedup", "--min-pairs", "2")
    out = capsys.readouterr().out
    assert "only 0 labelled pairs" in out and "keeps its defaults" in out and "1.01" not in out
    bins.refresh_from_db()
    assert (bins.dedup_threshold, bins.dedup_learned_pairs, bins.dedup_radius_m) == (0.6, 0, 50)


def test_learning_reads_every_day_of_the_history(bins, capsys):
    # One labelled pair on each of two days: a learner of the first day only would see one.
    history(bins, [(0, [(1000, 1003), (2000, None)]), (1, [(3000, 3002), (4000, None)])])
    call_command("learn_dedup", "--min-pairs", "2")
    out = capsys.readouterr().out
    assert "learned from 2 labelled pairs" in out and "(2 days)" in out
    bins.refresh_from_db()
    assert bins.dedup_learned_pairs == 2 and 0 < bins.dedup_threshold <= 1


def test_no_threshold_is_chosen_from_rows_without_a_labelled_pair():
    C = dedup.Candidate
    looked = [Looked(1, 1, None, [C(9, "P", "open", 1, 1, False, False, 0.9)])]
    assert choose_threshold(looked, min_precision=0.95) is None
    assert choose_threshold([], min_precision=0.95) is None
