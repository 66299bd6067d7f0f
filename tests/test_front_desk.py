"""The front desk (issue 20), in part: signing in lands on the role's own page, every page can reach the others
and sign out, and the API's documentation is a readable page served from our own host.
Actors: Ines the intake clerk, Dana the dispatcher, a resident reading the API docs."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone
from PIL import Image

from gis_app.intake import IntakeData, create_request
from gis_app.transitions import apply, complete_with_duplicates
from layers.coords import point_from_lonlat
from tests.test_pages import CHROMIUM, browser, page  # noqa: F401  (the browser fixtures)

PASSWORD = "pw-for-tests-only"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "lands"),
    [("intake_clerk", "/intake/"), ("dispatcher", "/dispatch/"), ("alderman_ward_2", "/council/")],
)
def test_signing_in_lands_on_the_roles_own_page(who, lands, request):  # type: ignore[no-untyped-def]
    request.getfixturevalue(who)
    signed_in = Client().post("/accounts/login/", {"username": who, "password": PASSWORD}, follow=True)
    assert signed_in.redirect_chain[-1][0] == lands and signed_in.status_code == 200
    assert all("/accounts/profile/" not in url for url, _ in signed_in.redirect_chain)


@pytest.mark.django_db
def test_every_staff_page_links_the_others_and_signs_out(intake_clerk, dispatcher, two_square_wards):
    clerk = Client()
    clerk.force_login(intake_clerk)
    html = clerk.get("/intake/").content.decode()
    assert 'href="/track/"' in html and 'href="/"' in html and 'id="sign-out"' in html
    assert 'href="/dispatch/"' not in html  # a clerk is not shown what she may not open
    office = Client()
    office.force_login(dispatcher)
    html = office.get("/dispatch/").content.decode()
    assert 'href="/intake/"' not in html and 'href="/field/links/"' in html and 'id="sign-out"' in html
    out = office.post("/accounts/logout/")
    assert out.status_code == 302 and out["Location"] == "/"
    assert office.get("/dispatch/").status_code == 302  # signed out: back to the sign-in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is missing")
def test_the_api_documentation_is_a_page_served_from_our_host(page, live_server):  # noqa: F811
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(live_server.url + "/")
    page.click("text=API")
    page.wait_for_selector(".opblock-summary-path")  # Swagger UI drew the operations
    assert page.url.endswith("/api/docs/") and "gis311 API" in page.inner_text("body")
    assert page.locator(".opblock-summary-path", has_text="/api/crew/route/").count() >= 1
    page.screenshot(path="/tmp/gis311-api-docs.png")
    assert violations == [] and page.foreign_requests == []


# ---- the public track page ----------------------------------------------------------------------------------


@pytest.fixture
def rosas_pothole_done_and_sams_duplicate(two_square_wards, pothole, settings, tmp_path):  # type: ignore[no-untyped-def]
    """Rosa's pothole, completed by a crew with a note and an after photo; Sam's later call joined to it."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    pothole.sla_text, pothole.sla_basis = "Usually done within 2 days.", "Assumption: 80% closed within 2 days"
    pothole.save()
    rosa = create_request(
        IntakeData(
            service_code="pothole",
            location=point_from_lonlat(0.5, 0.5),
            attributes={"where": "curb"},
            address="10 Main St",
        )
    )
    sam = create_request(
        IntakeData(service_code="pothole", location=point_from_lonlat(0.5, 0.5), attributes={"where": "curb"})
    )
    apply(sam, "mark_duplicate", parent=rosa, actor_label="test")
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), "green").save(buf, "JPEG")
    name = default_storage.save("stop-photos/test/after.jpg", ContentFile(buf.getvalue()))
    complete_with_duplicates(rosa, note="Filled with hot asphalt", photos=1, proof_photo=name, actor_label="crew")
    return rosa, sam


@pytest.mark.django_db
def test_the_track_page_shows_no_staff_notes_and_the_completion_proof(rosas_pothole_done_and_sams_duplicate):
    rosa, _ = rosas_pothole_done_and_sams_duplicate
    html = Client().get(f"/track/{rosa.ticket}/").content.decode()
    assert "Assumption" not in html
    assert "Filled with hot asphalt" in html and f'src="/track/{rosa.ticket}/proof.jpg"' in html
    assert 'id="where-map"' in html and "10 Main St" in html
    assert 'id="expected"' not in html  # completed: no date in the future
    photo = Client().get(f"/track/{rosa.ticket}/proof.jpg")
    assert photo.status_code == 200 and b"".join(photo.streaming_content)[:2] == b"\xff\xd8"


@pytest.mark.django_db
def test_a_duplicates_ticket_leads_to_the_issue_it_joined(rosas_pothole_done_and_sams_duplicate):
    rosa, sam = rosas_pothole_done_and_sams_duplicate
    html = Client().get(f"/track/{sam.ticket}/").content.decode()
    assert f'href="/track/{rosa.ticket}/"' in html and "was joined to issue" in html
    assert "Filled with hot asphalt" in html and f"/track/{rosa.ticket}/proof.jpg" in html
    assert 'id="expected"' not in html


@pytest.mark.django_db
def test_a_request_with_no_completion_has_no_proof_photo(two_square_wards, pothole):
    open_one = create_request(
        IntakeData(service_code="pothole", location=point_from_lonlat(0.5, 0.5), attributes={"where": "curb"})
    )
    assert Client().get(f"/track/{open_one.ticket}/proof.jpg").status_code == 404
    assert 'id="expected"' in Client().get(f"/track/{open_one.ticket}/").content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is missing")
def test_a_resident_follows_a_duplicate_to_its_issue_and_sees_the_photo(
    rosas_pothole_done_and_sams_duplicate,
    page,  # noqa: F811
    live_server,
):
    rosa, sam = rosas_pothole_done_and_sams_duplicate
    page.goto(f"{live_server.url}/track/")
    page.fill("#ticket", sam.ticket)
    page.click("form[action='/track/'] button")
    page.click("#issue-link")
    page.wait_for_function("() => { const i = document.getElementById('proof'); return i && i.naturalWidth > 0; }")
    page.wait_for_selector("body[data-map-ready='1']")
    assert page.url.endswith(f"/track/{rosa.ticket}/") and "Filled with hot asphalt" in page.inner_text("body")
    page.screenshot(path="/tmp/gis311-track-duplicate.png")
    assert page.foreign_requests == []


# ---- sensitive types ----------------------------------------------------------------------------------------


@pytest.fixture
def report_about_a_neighbour(two_square_wards, streets_dept):  # type: ignore[no-untyped-def]
    from gis_app.models import ServiceType

    ServiceType.objects.create(
        code="neighbour",
        name="Concern about a neighbour",
        department=streets_dept,
        sensitive=True,
        force_anonymous=True,
    )
    return create_request(
        IntakeData(
            service_code="neighbour",
            location=point_from_lonlat(0.5, 0.5),
            description="The man at number 12 leaves his children alone at night",
            reporter_name="Nosy Parker",
            reporter_phone="+13125550199",
            notify_via="sms",
        )
    )


@pytest.mark.django_db
def test_a_type_that_keeps_no_identity_files_every_report_anonymously(report_about_a_neighbour):
    report = report_about_a_neighbour
    assert report.anonymous and report.reporter_name == "" and report.reporter_phone == ""
    assert report.notify_via == "none" and not report.subscriptions.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["crew_alpha", "alderman_ward_2", "planner"])
def test_roles_without_contact_rights_cannot_read_a_sensitive_description(report_about_a_neighbour, role, request):  # type: ignore[no-untyped-def]
    from tests.conftest import _user

    user = request.getfixturevalue(role) if role != "planner" else _user("planner", "planner")
    reader = Client()
    reader.force_login(user)
    body = reader.get(f"/api/requests/{report_about_a_neighbour.ticket}/").json()
    assert "children" not in body["description"] and body["description"].startswith("[withheld")


@pytest.mark.django_db
def test_the_clerk_handling_it_reads_the_sensitive_description(report_about_a_neighbour, intake_clerk):
    clerk = Client()
    clerk.force_login(intake_clerk)
    body = clerk.get(f"/api/requests/{report_about_a_neighbour.ticket}/").json()
    assert "children alone" in body["description"]


# ---- addresses outside the city ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_address_in_another_town_is_said_to_be_outside_the_city(street_grid, settings):
    from layers.geocoding import geocode

    settings.CITY_NAME = "Gridville"
    outside = geocode("1 Row 1, Evanston").as_dict()
    assert outside["status"] == "outside_city" and outside["lon"] is None
    assert outside["message"].startswith("Evanston is outside Gridville")
    assert all(c["suggestion"] for c in outside["candidates"])  # a nearest city street only as a suggestion
    at_home = geocode("Row 1 & Col 2, Gridville").as_dict()
    assert at_home["status"] == "matched"


# ---- the intake page on a live call (Playwright) ---------------------------------------------------------------


@pytest.fixture
def rosas_pothole_open(two_square_wards, pothole):  # type: ignore[no-untyped-def]
    """An open pothole at (0.5, 0.5); the type links repeats from a low score (a strong match is likely)."""
    pothole.dedup_radius_m, pothole.dedup_threshold = 250_000, 0.1
    pothole.save()
    return create_request(
        IntakeData(
            service_code="pothole",
            location=point_from_lonlat(0.5, 0.5),
            attributes={"where": "curb"},
            description="Deep hole",
        )
    )


def clerk_page(page, live_server):  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(live_server.url + "/intake/")
    page.fill("#id_username", "intake_clerk")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("body[data-map-ready='1']")


def click_at(page, fx: float, fy: float) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)


def requests_filed() -> int:
    from gis_app.models import ServiceRequest

    return ServiceRequest.objects.count()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is missing")
def test_a_failed_address_look_up_never_files_at_the_old_pin(intake_clerk, rosas_pothole_open, page, live_server):  # noqa: F811
    clerk_page(page, live_server)
    assert page.input_value("#service_code") == ""  # the page asks for the type; it does not pick the first
    page.select_option("#service_code", "pothole")
    assert page.get_attribute("#attr-where", "required") is not None  # the type's own question, required
    click_at(page, 0.25, 0.5)
    page.wait_for_function("() => document.getElementById('lat').value !== ''")
    page.wait_for_selector("#goes-to:not([hidden])")
    assert "Goes to Streets and Sanitation" in page.inner_text("#goes-to") and "due" in page.inner_text("#goes-to")
    page.fill("#address", "99999 Nowhere Blvd")
    page.click("#find")
    page.wait_for_function("() => document.getElementById('lat').value === ''")  # the old pin is gone
    page.fill("#description", "Hole by the bus stop")
    page.click("#file")
    page.wait_for_selector("#problem")
    assert "Drop the pin" in page.inner_text("#problem")
    click_at(page, 0.3, 0.5)  # the clerk drops the pin again, then the caller corrects the address
    page.wait_for_function("() => document.getElementById('lat').value !== ''")
    page.fill("#address", "12 Other St")
    page.click("#file")
    page.wait_for_selector("text=The address was changed after the pin was placed")
    page.screenshot(path="/tmp/gis311-intake-stale-pin.png")
    assert page.foreign_requests == []
    from tests.test_field_page import in_thread

    assert in_thread(requests_filed) == 1  # only Rosa's


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is missing")
def test_a_strong_repeat_is_warned_about_and_the_form_clears_after_filing(
    intake_clerk,
    rosas_pothole_open,
    page,  # noqa: F811
    live_server,
):
    clerk_page(page, live_server)
    page.select_option("#service_code", "pothole")
    click_at(page, 0.25, 0.5)
    page.wait_for_selector(".cand.strong")
    page.click("#file")
    page.wait_for_selector("#problem")  # the description is asked for before anything is filed
    page.fill("#description", "Same hole, getting bigger")
    page.select_option("#attr-where", "lane")
    page.click("#file")
    page.wait_for_selector(f"text=This looks like {rosas_pothole_open.ticket}")
    page.click("#file")  # the clerk files it anyway
    page.wait_for_selector("#ticket")
    ticket = page.inner_text("#ticket")
    assert ticket != rosas_pothole_open.ticket and "Streets and Sanitation" in page.inner_text("#result")
    spelled = page.inner_text("#spelled").split()  # read back letter by letter: "J" is "Juliett", digits stay
    dash = "\u2013"
    assert len(spelled) == len(ticket)
    assert all(w[0] == ch or (ch == "-" and w == dash) for w, ch in zip(spelled, ticket, strict=True))
    assert page.input_value("#service_code") == "" and page.input_value("#description") == ""
    assert page.input_value("#lat") == "" and ticket not in page.inner_text("#candidates")
    page.screenshot(path="/tmp/gis311-intake-filed.png")
    assert page.foreign_requests == []


# ---- corrections go through the domain verbs ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_clerk_moves_a_filed_request_and_it_is_re_routed_and_audited(intake_clerk, rosas_pothole_open, streets_dept):
    from gis_app.models import Department, DepartmentRule

    water = Department.objects.create(code="water", name="Water")
    DepartmentRule.objects.create(service_type=rosas_pothole_open.service_type, ward_number=2, department=water)
    clerk = Client()
    clerk.force_login(intake_clerk)
    moved = clerk.post(
        f"/api/requests/{rosas_pothole_open.ticket}/edit/",
        {"version": rosas_pothole_open.version, "lon": "1.5", "lat": "0.5"},
        content_type="application/json",
    )
    assert moved.status_code == 200, moved.content
    body = moved.json()
    assert body["ward_number"] == 2 and body["department"] == "water"
    assert [e["verb"] for e in body["history"]][-1] == "relocated"
    stale = clerk.post(
        f"/api/requests/{rosas_pothole_open.ticket}/edit/",
        {"version": rosas_pothole_open.version, "lon": "0.5", "lat": "0.5"},
        content_type="application/json",
    )
    assert stale.status_code == 409  # someone changed it since: reload first


@pytest.mark.django_db
def test_admin_edits_of_place_and_department_go_through_the_verbs(rosas_pothole_open, streets_dept):
    from django.contrib.auth import get_user_model

    from gis_app.models import Department

    admin_user = get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    water = Department.objects.create(code="water", name="Water")
    office = Client()
    office.force_login(admin_user)
    url = f"/admin/gis_app/servicerequest/{rosas_pothole_open.pk}/change/"
    form = office.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list | dict)}
    data.update(
        {
            "service_type": rosas_pothole_open.service_type.pk,
            "department": water.pk,
            "location": '{"type": "Point", "coordinates": [0.6, 0.5]}',
            "attributes": '{"where": "curb"}',
            "description": "Deep hole, now by the school",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        }
    )
    data = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
    office.post(url, data)
    rosas_pothole_open.refresh_from_db()
    verbs = list(rosas_pothole_open.events.values_list("verb", flat=True))
    assert {"relocated", "department_changed", "edited"} <= set(verbs), verbs
    assert rosas_pothole_open.department == water and rosas_pothole_open.location.x == pytest.approx(0.6)
    assert office.get("/admin/gis_app/servicerequest/add/").status_code == 403  # filed at intake, never here


@pytest.mark.django_db
def test_a_storm_declared_in_the_admin_re_dates_open_work_in_its_wards(rosas_pothole_open, pothole):
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    office = Client()
    office.force_login(admin_user)
    before = rosas_pothole_open.due_at
    start = rosas_pothole_open.requested_at - dt.timedelta(hours=1)
    end = rosas_pothole_open.requested_at + dt.timedelta(hours=1)
    local = timezone.localtime
    for wards, extended in (("[2]", False), ("[1]", True)):
        office.post(
            "/admin/gis_app/stormmode/add/",
            {
                "name": f"Snow in {wards}",
                "service_types": [pothole.pk],
                "wards": wards,
                "starts_at_0": local(start).strftime("%Y-%m-%d"),
                "starts_at_1": local(start).strftime("%H:%M:%S"),
                "ends_at_0": local(end).strftime("%Y-%m-%d"),
                "ends_at_1": local(end).strftime("%H:%M:%S"),
                "extension_hours": "24",
            },
        )
        rosas_pothole_open.refresh_from_db()
        assert (rosas_pothole_open.due_at > before) is extended, wards
    assert rosas_pothole_open.due_at - before == dt.timedelta(hours=24)
    assert rosas_pothole_open.events.filter(verb="due_date_extended").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is missing")
def test_a_clerk_corrects_the_pin_of_a_request_just_filed(intake_clerk, two_square_wards, pothole, page, live_server):  # noqa: F811
    clerk_page(page, live_server)
    page.select_option("#service_code", "pothole")
    page.select_option("#attr-where", "curb")
    click_at(page, 0.25, 0.5)  # ward 1
    page.wait_for_function("() => document.getElementById('lat').value !== ''")
    page.fill("#description", "Hole at the corner")
    page.click("#file")
    page.wait_for_selector("#ticket")
    assert "ward 1" in page.inner_text("#result")
    page.click("#edit-filed")
    page.wait_for_selector("#editing:not([hidden])")
    click_at(page, 0.75, 0.5)  # the caller meant the other side of the line: ward 2
    page.click("#save-edit")
    page.wait_for_selector("#edited")
    assert "ward 2" in page.inner_text("#edited")
    page.screenshot(path="/tmp/gis311-intake-corrected.png")
    assert page.foreign_requests == []


# ---- the last fallback: a place in the caller's words ----------------------------------------------------------


@pytest.mark.django_db
def test_a_request_with_only_a_described_place_waits_to_be_placed(intake_clerk, two_square_wards, pothole):
    from gis_app.models import ServiceRequest
    from routing.planning import dispatch_pool

    clerk = Client()
    clerk.force_login(intake_clerk)
    refused = clerk.post(
        "/api/requests/",
        {"service_code": "pothole", "attributes": {"where": "curb"}, "description": "Big hole"},
        content_type="application/json",
    )
    assert refused.status_code == 400 and "location_note" in refused.json()["detail"]
    filed = clerk.post(
        "/api/requests/",
        {
            "service_code": "pothole",
            "attributes": {"where": "curb"},
            "description": "Big hole",
            "address": "somewhere on Nowhere Blvd",
            "location_note": "behind the library on Main",
        },
        content_type="application/json",
    )
    assert filed.status_code == 201, filed.content
    body = filed.json()
    assert body["lon"] is None and body["location_note"] == "behind the library on Main"
    req = ServiceRequest.objects.get(ticket=body["ticket"])
    assert list(ServiceRequest.objects.to_confirm()) == [req]
    assert req not in dispatch_pool(pothole.department)  # no crew is sent to a place nobody knows
    assert body["ticket"] in clerk.get("/intake/to-confirm/").content.decode()
    placed = clerk.post(
        f"/api/requests/{req.ticket}/edit/",
        {"version": body["version"], "lon": "0.5", "lat": "0.5"},
        content_type="application/json",
    )
    assert placed.status_code == 200 and placed.json()["ward_number"] == 1
    assert not ServiceRequest.objects.to_confirm().exists()
    assert req.events.filter(verb="relocated").exists()


@pytest.fixture
def described_only(two_square_wards, pothole):  # type: ignore[no-untyped-def]
    return create_request(
        IntakeData(
            service_code="pothole",
            attributes={"where": "curb"},
            description="Hole",
            location_note="behind the library on Main",
        )
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is missing")
def test_staff_place_a_request_from_the_locations_to_confirm_queue(intake_clerk, described_only, page, live_server):  # noqa: F811
    clerk_page(page, live_server)
    assert "Locations to confirm (1)" in page.inner_text("#to-confirm-link")
    page.click("#to-confirm-link")
    page.click(".place-it")
    page.wait_for_selector("#editing:not([hidden])")
    assert "behind the library on Main" in page.inner_text("#found")
    page.wait_for_selector("body[data-map-ready='1']")
    click_at(page, 0.25, 0.5)
    page.wait_for_function("() => document.getElementById('lat').value !== ''")
    page.click("#save-edit")
    page.wait_for_selector("#edited")
    assert "ward 1" in page.inner_text("#edited")
    page.goto(live_server.url + "/intake/to-confirm/")
    assert "Nothing waits for a location" in page.inner_text("#to-confirm")
    page.screenshot(path="/tmp/gis311-intake-to-confirm.png")
    assert page.foreign_requests == []


# ---- answers for information calls ---------------------------------------------------------------------------


@pytest.fixture
def knowledge(pothole):  # type: ignore[no-untyped-def]
    from gis_app.knowledge.models import Article

    garbage = Article.objects.create(
        title="Garbage collection days",
        answer="Collection is weekly; the day is on the city's site.",
        keywords=["trash", "pickup", "bins"],
    )
    holes = Article.objects.create(
        title="Potholes: what happens after a report",
        answer="A crew is routed to it; follow the ticket.",
        keywords=["pothole", "road damage"],
    )
    holes.service_types.set([pothole])
    return garbage, holes


@pytest.mark.django_db
def test_articles_are_found_by_words_and_despite_misspellings(knowledge):
    from gis_app.knowledge.search import search

    garbage, _ = knowledge
    assert [a["title"] for a in search("when is garbage collected")][:1] == [garbage.title]  # stemmed words
    misspelt = search("garbige")
    assert misspelt and misspelt[0]["id"] == garbage.pk and misspelt[0]["matched_by"] == "spelling"
    assert search("pothole")[0]["service_types"] == ["pothole"]
    assert search("zzqx") == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is missing")
def test_a_clerk_answers_an_information_call_and_it_is_counted(
    intake_clerk,
    two_square_wards,
    knowledge,
    page,  # noqa: F811
    live_server,
):
    garbage, _ = knowledge
    clerk_page(page, live_server)
    page.fill("#kb-q", "garbige pickup day")
    page.wait_for_selector(".kb-use")
    assert garbage.title in page.inner_text("#kb-results")
    page.click(".kb-use")
    page.wait_for_selector("#kb-logged")
    page.fill("#kb-q", "dog licence")
    page.wait_for_selector("#kb-none")
    page.click("#kb-none")
    page.wait_for_selector("#kb-logged")
    page.screenshot(path="/tmp/gis311-intake-knowledge.png")
    assert page.foreign_requests == []

    def report() -> list[dict]:  # type: ignore[type-arg]
        from gis_app.knowledge.search import contacts_by_topic

        return contacts_by_topic()

    from tests.test_field_page import in_thread

    topics = {t["topic"]: t for t in in_thread(report)}
    assert topics[garbage.title]["contacts"] == 1 and topics["(no article fit)"]["unanswered"] == 1


@pytest.mark.django_db
def test_the_contacts_report_counts_by_topic_over_the_api(intake_clerk, knowledge):
    garbage, _ = knowledge
    clerk = Client()
    clerk.force_login(intake_clerk)
    for article in (garbage.pk, garbage.pk, None):
        logged = clerk.post(
            "/api/knowledge/contacts/", {"question": "bins?", "article": article}, content_type="application/json"
        )
        assert logged.status_code == 201
    assert (
        clerk.post(
            "/api/knowledge/contacts/", {"question": "x", "article": 99999}, content_type="application/json"
        ).status_code
        == 400
    )
    topics = clerk.get("/api/knowledge/contacts/?days=7").json()["topics"]
    assert topics[0] == {"topic": garbage.title, "contacts": 2, "unanswered": 0}
    assert Client().get("/api/knowledge/?q=bins").status_code in (401, 403)  # staff only


# ---- the resident's language ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_spanish_speaking_reporter_gets_every_message_in_spanish(
    two_square_wards, pothole, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "gis_app.notifications.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with django_capture_on_commit_callbacks(execute=True):
        maria = create_request(
            IntakeData(
                service_code="pothole",
                location=point_from_lonlat(0.5, 0.5),
                attributes={"where": "curb"},
                description="Bache profundo",
                reporter_phone="+13125550123",
                notify_via="sms",
                language="es",
            )
        )
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buf, "JPEG")
    name = default_storage.save("stop-photos/t/after.jpg", ContentFile(buf.getvalue()))
    with django_capture_on_commit_callbacks(execute=True):
        complete_with_duplicates(maria, note="Bache rellenado", photos=1, proof_photo=name, actor_label="crew")
    texts = sorted(f.read_text() for f in (tmp_path / "sms").glob("*.txt"))
    assert len(texts) == 2
    received, completed = sorted(texts, key=lambda t: "atendido" in t)
    assert "Recibimos su reporte" in received and "Número de ticket" in received
    assert "fue atendido" in completed and "¿Quedó resuelto?" in completed
    assert f"/track/{maria.ticket}/proof.jpg" in completed  # the photo link answers (media is not served)
    with django_capture_on_commit_callbacks(execute=True):
        english = create_request(
            IntakeData(
                service_code="pothole",
                location=point_from_lonlat(0.5, 0.5),
                attributes={"where": "curb"},
                reporter_phone="+13125550124",
                notify_via="sms",
            )
        )
    assert any(
        "We received your report" in f.read_text() and english.ticket in f.read_text()
        for f in (tmp_path / "sms").glob("*.txt")
    )


@pytest.mark.django_db
def test_the_public_pages_speak_the_visitors_language(rosas_pothole_done_and_sams_duplicate):
    rosa, _ = rosas_pothole_done_and_sams_duplicate
    spanish = Client(HTTP_ACCEPT_LANGUAGE="es").get(f"/track/{rosa.ticket}/").content.decode()
    assert "Historial" in spanish and "Terminada" in spanish and 'lang="es"' in spanish
    english = Client().get(f"/track/{rosa.ticket}/").content.decode()
    assert "History" in english and 'lang="en"' in english
    chosen = Client()
    chosen.post("/i18n/setlang/", {"language": "es", "next": "/track/"})
    assert "Siga su reporte" in chosen.get("/track/").content.decode()
    assert Client().post(
        "/api/requests/", {"service_code": "pothole", "language": "xx"}, content_type="application/json"
    ).status_code in (400, 401, 403)


# ---- keyboard first -----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is missing")
def test_a_clerk_files_by_keyboard_only(intake_clerk, street_grid, rosas_pothole_open, page, live_server):  # noqa: F811
    keys = page.keyboard
    page.goto(live_server.url + "/intake/")
    page.wait_for_selector("#id_username:focus")
    keys.type("intake_clerk")  # the sign-in form's user name has the focus
    keys.press("Tab")
    keys.type(PASSWORD)
    keys.press("Enter")
    page.wait_for_selector("body[data-map-ready='1']")
    page.wait_for_selector("#service_code:focus")
    keys.type("Pothole")  # the type list has the focus: typing picks the type
    page.wait_for_selector("#attr-where")
    keys.press("Tab")
    keys.type("Curb")
    page.focus("#address")  # (moving the caret; every value is typed)
    keys.type("Row 1 & Col 2")
    keys.press("Enter")  # finds it on the map, then the caret is in the description
    page.wait_for_function("() => document.getElementById('lat').value !== ''")
    keys.type("Hole in the crossing")
    page.wait_for_selector(".cand")
    # The repeat is on the map as well as in the list (the pin and the candidate's ring).
    page.wait_for_function("() => document.querySelectorAll('.leaflet-interactive').length >= 2")
    page.focus(".attach")
    page.wait_for_selector(".cand.chosen")  # the candidate the clerk is on is highlighted
    page.focus("#description")
    keys.press("Control+Enter")
    page.wait_for_selector(f"text=This looks like {rosas_pothole_open.ticket}")
    keys.press("Control+Enter")  # a new issue after all
    page.wait_for_selector("#ticket")
    assert page.input_value("#description") == ""
    page.screenshot(path="/tmp/gis311-intake-keyboard.png")
    assert page.foreign_requests == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is missing")
def test_an_address_in_another_town_is_not_placed_on_the_intake_page(
    intake_clerk,
    street_grid,
    pothole,
    settings,
    page,  # noqa: F811
    live_server,
):
    settings.CITY_NAME = "Gridville"
    clerk_page(page, live_server)
    page.select_option("#service_code", "pothole")
    assert page.is_enabled("#anonymous")  # the caller may stay anonymous for this type
    page.fill("#address", "1 Main St, Evanston")
    page.click("#find")
    page.wait_for_function("() => document.getElementById('found').textContent.includes('outside')")
    assert page.inner_text("#found").startswith("Evanston is outside Gridville")
    assert page.input_value("#lat") == ""  # nothing placed: the clerk asks again or drops the pin
    page.screenshot(path="/tmp/gis311-intake-outside.png")
    assert page.foreign_requests == []
