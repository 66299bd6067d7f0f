"""Every endpoint that returns a request, read as each role and as the public (issue 20): no contact datum and no
sensitive description reaches a reader who may not see it. Actors: Rosa, who left her name, e-mail and phone
(and typed her phone into the description too); a neighbour's report of a sensitive type; and the readers:
the public, a crew tablet, a council member, a planner, the intake clerk and the dispatcher."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from field_api.models import DeviceToken
from gis_app.intake import IntakeData, create_request
from gis_app.models import ServiceType
from routing.planning import plan_day
from tests.conftest import _user, on_grid

pytestmark = pytest.mark.django_db

ROSA = {"name": "Rosa Parks-Example", "email": "rosa.private@example.org", "phone": "+13125550142"}
TYPED_PHONE = "312-555-0177"
SECRET = "the man at number 12 leaves his children alone"


@pytest.fixture
def a_day_with_personal_data(open_work, streets_dept, settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path)
    rosa = create_request(
        IntakeData(
            service_code="pothole",
            location=on_grid(2, 1.5),
            attributes={"where": "curb"},
            description=f"Deep hole, call me on {TYPED_PHONE}",
            reporter_name=ROSA["name"],
            reporter_email=ROSA["email"],
            reporter_phone=ROSA["phone"],
            notify_via="email",
        )
    )
    ServiceType.objects.create(
        code="neighbour", name="Concern about a neighbour", department=streets_dept, sensitive=True
    )
    neighbour = create_request(
        IntakeData(
            service_code="neighbour", location=on_grid(1, 1.5), description=SECRET, reporter_phone="+13125550100"
        )
    )
    plan_day(timezone.localdate(), streets_dept, time_limit=0.25, publish=True)
    return rosa, neighbour


def readers(crews) -> dict[str, Client]:  # type: ignore[no-untyped-def]
    out: dict[str, Client] = {"public": Client()}
    for role, group in (
        ("council", "council member"),
        ("planner", "planner"),
        ("clerk", "intake clerk"),
        ("dispatcher", "dispatcher"),
    ):
        c = Client()
        c.force_login(_user(f"walk_{role}", group))
        out[role] = c
    _, raw = DeviceToken.issue(crews["alpha"], "walk tablet")
    tablet = APIClient()
    tablet.credentials(HTTP_AUTHORIZATION=f"Device {raw}")
    out["crew"] = tablet  # type: ignore[assignment]
    return out


def pages(rosa, neighbour) -> list[str]:  # type: ignore[no-untyped-def]
    box = "bbox=-1,-1,3,3"
    return [
        f"/api/requests/{rosa.ticket}/",
        f"/api/requests/{neighbour.ticket}/",
        f"/api/requests/candidates/?service_code=pothole&lon={rosa.location.x}&lat={rosa.location.y}",
        "/open311/v2/requests.json",
        f"/open311/v2/requests/{rosa.ticket}.json",
        f"/open311/v2/requests/{neighbour.ticket}.json",
        "/open311/v2/requests.xml",
        f"/requests/open.geojson?{box}",
        f"/track/{rosa.ticket}/",
        f"/track/{neighbour.ticket}/",
        "/api/crew/route/",
    ]


# Who may read what: contact data and sensitive text only with view_reporter_contact (clerk, dispatcher).
MAY_SEE_CONTACT = {"clerk", "dispatcher"}


def test_no_reader_sees_what_their_role_may_not(a_day_with_personal_data, crews):
    rosa, neighbour = a_day_with_personal_data
    leaks = []
    answered = 0
    for who, client in readers(crews).items():
        for url in pages(rosa, neighbour):
            response = client.get(url)
            if response.status_code != 200:
                continue
            answered += 1
            text = response.content.decode()
            forbidden = [] if who in MAY_SEE_CONTACT else [*ROSA.values(), TYPED_PHONE, SECRET]
            leaks += [f"{who} {url}: {f}" for f in forbidden if f in text]
    assert leaks == []
    assert answered >= 30  # the walk read real pages, not a wall of 403s


def test_staff_who_may_see_contact_data_do(a_day_with_personal_data, crews):
    rosa, neighbour = a_day_with_personal_data
    clerk = readers(crews)["clerk"]
    assert ROSA["email"] in clerk.get(f"/api/requests/{rosa.ticket}/").content.decode()
    assert SECRET in clerk.get(f"/api/requests/{neighbour.ticket}/").content.decode()
