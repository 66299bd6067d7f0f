"""Crew photos: check type and size, apply EXIF orientation, store as JPEG with a thumbnail.

Why re-encode: tablets send JPEG, PNG or HEIC (iPad) with the camera's rotation in EXIF; residents and
dispatchers need an upright JPEG any browser or mail client shows, and a small thumbnail for lists.
Re-encoding also drops EXIF, including the GPS position of the device.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from field_api.models import StopEvent, StopPhoto

MAX_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 5
# Pixel budgets, read from each file's header before anything is decoded: a few kilobytes of PNG can claim
# tens of megapixels (a decompression bomb), and memory follows pixels, not bytes.
MAX_PIXELS = 50_000_000  # one photo (a 48 MP phone camera fits)
EVENT_PIXELS = 120_000_000  # all photos of one event together
STORED_SIDE = 2560  # photos are decoded reduced to this long side and stored so: enough to see the work done
THUMB = (320, 320)
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb guard at the same budget (open refuses past twice it)
ALLOWED = {"JPEG": "JPEG", "PNG": "PNG", "HEIF": "HEIC", "HEIC": "HEIC"}

try:  # HEIC support comes from pillow-heif
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - the dependency is pinned
    pass


class PhotoError(ValueError):
    """A photo that cannot be taken; the message names the file and what is accepted."""


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo ready to store: already re-encoded, so an event holds kilobytes per photo, not decoded pixels."""

    jpeg: bytes  # upright, at most STORED_SIDE on the long side
    thumbnail: bytes
    width: int
    height: int
    original_type: str
    size: int  # bytes as uploaded


def check_photos(files: Sequence[Any]) -> list[CheckedPhoto]:
    """Open and validate uploads before anything is stored. Sizes and pixel budgets are checked from the headers
    first; each photo is then decoded reduced to the stored size, re-encoded and let go before the next one, so
    an event's peak memory is about one photo's."""
    if len(files) > MAX_PHOTOS:
        raise PhotoError(f"at most {MAX_PHOTOS} photos per event; got {len(files)}")
    opened = [_open(f) for f in files]
    total = sum(img.width * img.height for img, _, _, _ in opened)
    if total > EVENT_PIXELS:
        raise PhotoError(
            f"these {len(files)} photos hold {total / 1e6:.0f} megapixels together; one event takes at most "
            f"{EVENT_PIXELS / 1e6:.0f} (send fewer or smaller photos)"
        )
    return [_encode(_decode(img, name), kind, size) for img, name, kind, size in opened]


def _encode(img: Image.Image, kind: str, size: int) -> CheckedPhoto:
    thumb = img.copy()
    thumb.thumbnail(THUMB)
    return CheckedPhoto(_jpeg(img, 85), _jpeg(thumb, 75), img.width, img.height, kind, size)


def _open(f: Any) -> tuple[Image.Image, str, str, int]:
    """Read one upload's header only: its type and its pixel count against the per-photo budget."""
    name = getattr(f, "name", "photo")
    size = int(getattr(f, "size", 0) or 0)
    if size > MAX_BYTES:
        raise PhotoError(f"{name}: {size / 1e6:.1f} MB is over the {MAX_BYTES // (1024 * 1024)} MB limit per photo")
    if size == 0:
        raise PhotoError(f"{name}: the file is empty")
    budget = f"one photo may hold at most {MAX_PIXELS / 1e6:.0f} megapixels"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(f)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError(f"{name}: its header claims far more pixels than that; {budget}") from None
    except (UnidentifiedImageError, OSError):
        raise PhotoError(f"{name}: not a readable image; send JPEG, PNG or HEIC") from None
    kind = ALLOWED.get(img.format or "")
    if kind is None:
        raise PhotoError(f"{name}: {img.format or 'unknown'} images are not accepted; send JPEG, PNG or HEIC")
    if img.width * img.height > MAX_PIXELS:
        raise PhotoError(f"{name}: {img.width}x{img.height} pixels is too many; {budget}")
    return img, name, kind, size


def _decode(img: Image.Image, name: str) -> Image.Image:
    """Decode at (about) the stored size: JPEG's draft mode decodes at 1/2 to 1/8 scale, other formats are
    shrunk in their own mode before the RGB conversion (a 1-bit PNG must not become 3 bytes a pixel first)."""
    try:
        if img.format == "JPEG":
            # draft keeps both sides at least as large as asked: ask for the stored size in the photo's shape.
            shrink = STORED_SIDE / max(img.size)
            img.draft("RGB", (max(1, int(img.width * shrink)), max(1, int(img.height * shrink))))
        img.load()
        upright = ImageOps.exif_transpose(img)
        upright.thumbnail((STORED_SIDE, STORED_SIDE))
        return upright.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        raise PhotoError(f"{name}: not a readable image; send JPEG, PNG or HEIC") from None


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def store_photos(event: StopEvent, checked: Sequence[CheckedPhoto], stage: str) -> list[StopPhoto]:
    """Store photos already passed by check_photos (so a bad file is refused before anything is written)."""
    stored = []
    for i, c in enumerate(checked, start=1):
        photo = StopPhoto(
            event=event,
            index=i,
            stage=stage,
            width=c.width,
            height=c.height,
            original_type=c.original_type,
            bytes=c.size,
        )
        photo.image.save(f"{i}.jpg", ContentFile(c.jpeg), save=False)
        photo.thumbnail.save(f"{i}-thumb.jpg", ContentFile(c.thumbnail), save=False)
        photo.save()
        stored.append(photo)
    return stored
