"""Ticket numbers: format, uniqueness in practice, and the check symbol catching typing mistakes."""

from __future__ import annotations

import itertools

import pytest

from gis_app.tickets import ALPHABET, TicketError, new_ticket, normalize_ticket


def test_a_ticket_is_short_readable_and_checks_out():
    ticket = new_ticket()
    assert len(ticket) == 11 and ticket[4] == ticket[9] == "-"
    assert set(ticket.replace("-", "")) <= set(ALPHABET)
    assert normalize_ticket(ticket) == ticket
    assert normalize_ticket(ticket.lower().replace("-", " ")) == ticket


def test_ten_thousand_tickets_do_not_repeat():
    assert len({new_ticket() for _ in range(10_000)}) == 10_000


def test_every_single_wrong_character_is_caught():
    ticket = new_ticket().replace("-", "")
    for i, wrong in itertools.product(range(9), ALPHABET):
        if wrong != ticket[i]:
            with pytest.raises(TicketError, match="does not check out"):
                normalize_ticket(ticket[:i] + wrong + ticket[i + 1 :])


def test_every_swap_of_neighbouring_characters_is_caught():
    for _ in range(200):
        t = new_ticket().replace("-", "")
        for i in range(8):
            if t[i] != t[i + 1]:
                with pytest.raises(TicketError, match="does not check out"):
                    normalize_ticket(t[:i] + t[i + 1] + t[i] + t[i + 2 :])


@pytest.mark.parametrize(("typed", "message"), [("12345", "has 9 characters"), ("0000-0000-0", "letters except")])
def test_a_malformed_ticket_says_what_a_ticket_looks_like(typed, message):
    with pytest.raises(TicketError, match=message):
        normalize_ticket(typed)


@pytest.mark.django_db
def test_bulk_tickets_are_unique_and_unused(two_square_wards, pothole):
    from gis_app.intake import IntakeData, create_request
    from gis_app.models import ServiceRequest
    from layers.coords import point_from_lonlat

    stored = create_request(
        IntakeData(service_code="pothole", location=point_from_lonlat(0.5, 0.5), attributes={"where": "curb"})
    )
    fresh = ServiceRequest.objects.fresh_tickets(20_000)
    assert len(set(fresh)) == 20_000 and stored.ticket not in fresh
    assert all(normalize_ticket(t) == t for t in fresh[:100])
