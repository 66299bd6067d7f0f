"""Signed, expiring links to crew photos.

Photos are not public files (they can show people, plates, the inside of a yard): media is never served as a
directory. The crew API hands out links signed with the install's secret that work for
settings.PHOTO_LINK_MAX_AGE_HOURS; a tablet can put them straight into <img src> (no header needed) and cache
the images offline with the route. Staff pages can use the same links.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "gis311.photo-link"
KINDS = ("image", "thumbnail")


def photo_url(photo_id: int, kind: str) -> str:
    token = signing.TimestampSigner(salt=SALT).sign(f"{photo_id}.{kind}")
    return reverse("field_api:photo", args=[token])


def read_photo_token(token: str) -> tuple[int, str] | None:
    """(photo id, image or thumbnail) for a good, unexpired link; None otherwise."""
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(token, max_age=int(settings.PHOTO_LINK_MAX_AGE_HOURS * 3600))
    except signing.BadSignature:
        return None
    raw_id, _, kind = value.partition(".")
    if not raw_id.isdigit() or kind not in KINDS:
        return None
    return int(raw_id), kind
