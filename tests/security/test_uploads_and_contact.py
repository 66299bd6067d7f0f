"""Findings 4 and 5 of the security review (issue 21): photo decompression bombs are refused from their headers
with the right message and big photos are decoded small; contact data typed into a description reaches only the
roles that may see it. Actors: Pat the planner, Alderman Ward 2 (a council member), Crew Alpha's member, and
Dana the dispatcher (who may see contact data; her look is logged)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from field_api.crew.photos import EVENT_PIXELS, STORED_SIDE, PhotoError, check_photos
from gis_app.intake import IntakeData, create_request
from gis_app.models import RequestEvent
from layers.coords import point_from_lonlat
from tests.conftest import _user


def png(width: int, height: int, mode: str = "1") -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, "PNG")
    return SimpleUploadedFile(f"{width}x{height}.png", buf.getvalue(), content_type="image/png")


def png_claiming(width: int, height: int) -> SimpleUploadedFile:
    """A tiny file whose header claims width x height (what a bomb looks like before it is decoded)."""
    small = io.BytesIO()
    Image.new("1", (8, 8)).save(small, "PNG")
    data = bytearray(small.getvalue())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return SimpleUploadedFile("bomb.png", bytes(data), content_type="image/png")


def jpeg(width: int, height: int) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(buf, "JPEG", quality=70)
    return SimpleUploadedFile("big.jpg", buf.getvalue(), content_type="image/jpeg")


def test_a_photo_claiming_four_hundred_megapixels_is_refused_for_its_size_not_as_unreadable():
    with pytest.raises(PhotoError, match="one photo may hold at most 50 megapixels") as refused:
        check_photos([png_claiming(20_000, 20_000)])
    assert "not a readable image" not in str(refused.value)


def test_five_one_bit_photos_of_49_megapixels_are_refused_together_before_decoding():
    bombs = [png(7000, 7000) for _ in range(5)]
    with pytest.raises(PhotoError, match=f"at most {EVENT_PIXELS // 1_000_000:.0f}"):
        check_photos(bombs)


def test_a_big_photo_is_decoded_and_kept_at_the_stored_size():
    (photo,) = check_photos([jpeg(6000, 4000)])
    stored = Image.open(io.BytesIO(photo.jpeg))
    assert photo.original_type == "JPEG" and max(stored.size) == STORED_SIDE == photo.width
    (bit,) = check_photos([png(7000, 7000)])  # one alone fits the budgets: kept small, as an RGB JPEG
    kept = Image.open(io.BytesIO(bit.jpeg))
    assert max(kept.size) <= STORED_SIDE and kept.mode == "RGB" and kept.format == "JPEG"


@pytest.fixture
def rosas_report(two_square_wards, pothole):  # type: ignore[no-untyped-def]
    return create_request(
        IntakeData(
            service_code="pothole",
            location=point_from_lonlat(0.5, 0.5),
            attributes={"where": "curb"},
            description="Deep hole. Call me at 312-555-0100 or rosa@example.org",
            reporter_email="rosa@example.org",
            notify_via="email",
        )
    )


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["planner", "council member", "crew member"])
def test_roles_without_contact_permission_read_descriptions_masked(rosas_report, dispatcher, role):
    dana = APIClient()
    dana.force_authenticate(dispatcher)
    whole = dana.get(f"/api/requests/{rosas_report.ticket}/").json()
    assert "312-555-0100" in whole["description"] and whole["reporter_email"] == "rosa@example.org"
    assert RequestEvent.objects.filter(request=rosas_report, verb="contact_viewed").count() == 1
    reader = APIClient()
    reader.force_authenticate(_user(f"reader_{role.replace(' ', '_')}", role))
    seen = reader.get(f"/api/requests/{rosas_report.ticket}/").json()
    text = str(seen)
    assert "312-555-0100" not in text and "rosa@example.org" not in text
    assert "[phone removed]" in seen["description"] and "[e-mail removed]" in seen["description"]
    assert all(e["verb"] != "contact_viewed" for e in seen["history"])
