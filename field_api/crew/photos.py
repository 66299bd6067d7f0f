"""Crew photos: check type and size, apply EXIF orientation, store as JPEG with a thumbnail.

Why re-encode: tablets send JPEG, PNG or HEIC (iPad) with the camera's rotation in EXIF; residents and
dispatchers need an upright JPEG any browser or mail client shows, and a small thumbnail for lists.
Re-encoding also drops EXIF, including the GPS position of the device.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from field_api.models import StopEvent, StopPhoto

MAX_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 5
MAX_PIXELS = 50_000_000  # a decompression bomb is refused, not decoded
THUMB = (320, 320)
ALLOWED = {"JPEG": "JPEG", "PNG": "PNG", "HEIF": "HEIC", "HEIC": "HEIC"}

try:  # HEIC support comes from pillow-heif
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - the dependency is pinned
    pass


class PhotoError(ValueError):
    """A photo that cannot be taken; the message names the file and what is accepted."""


def check_photos(files: Sequence[Any]) -> list[tuple[Image.Image, str, int]]:
    """Open and validate uploads before anything is stored: (upright image, original type, size)."""
    if len(files) > MAX_PHOTOS:
        raise PhotoError(f"at most {MAX_PHOTOS} photos per event; got {len(files)}")
    out = []
    for f in files:
        name = getattr(f, "name", "photo")
        size = int(getattr(f, "size", 0) or 0)
        if size > MAX_BYTES:
            raise PhotoError(f"{name}: {size / 1e6:.1f} MB is over the {MAX_BYTES // (1024 * 1024)} MB limit per photo")
        if size == 0:
            raise PhotoError(f"{name}: the file is empty")
        try:
            img = Image.open(f)
            kind = ALLOWED.get(img.format or "")
            if kind is None:
                raise PhotoError(f"{name}: {img.format or 'unknown'} images are not accepted; send JPEG, PNG or HEIC")
            if img.width * img.height > MAX_PIXELS:
                raise PhotoError(f"{name}: {img.width}x{img.height} pixels is too large")
            img.load()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise PhotoError(f"{name}: not a readable image; send JPEG, PNG or HEIC") from None
        upright = ImageOps.exif_transpose(img).convert("RGB")
        out.append((upright, kind, size))
    return out


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def store_photos(event: StopEvent, checked: Sequence[tuple[Image.Image, str, int]], stage: str) -> list[StopPhoto]:
    """Store photos already passed by check_photos (so a bad file is refused before anything is written)."""
    stored = []
    for i, (img, kind, size) in enumerate(checked, start=1):
        photo = StopPhoto(
            event=event, index=i, stage=stage, width=img.width, height=img.height, original_type=kind, bytes=size
        )
        photo.image.save(f"{i}.jpg", ContentFile(_jpeg(img, 85)), save=False)
        thumb = img.copy()
        thumb.thumbnail(THUMB)
        photo.thumbnail.save(f"{i}-thumb.jpg", ContentFile(_jpeg(thumb, 75)), save=False)
        photo.save()
        stored.append(photo)
    return stored
