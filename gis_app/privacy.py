"""The one masker for contact data typed into free text (descriptions, notes).

A resident often writes "call me at 312-555-0100" in the description. Whoever may not see reporter contact
data (the public, Open311 readers, council members, planners, crews) reads the text with e-mail addresses and
phone numbers masked; staff with the `view_reporter_contact` permission read it whole, and that read is logged.
"""

from __future__ import annotations

import re
from typing import Any

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# North American numbers with or without the country code, separators or brackets.
PHONE = re.compile(r"(?<!\w)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)")


def mask_personal(text: str) -> str:
    """The text with e-mail addresses and phone numbers replaced by a marker saying what was removed."""
    return PHONE.sub("[phone removed]", EMAIL.sub("[e-mail removed]", text or ""))


BLOCK_DECIMALS = 3  # 0.001 degree: about 110 m north-south (and 80 m east-west at Chicago's latitude)
HOUSE = re.compile(r"^\s*(\d+)[A-Z]?\s+(.+)$", re.IGNORECASE)


def block_of(address: str) -> str:
    """'1234 N STATE ST' as '1200 block of N STATE ST'; an address without a house number stays as it is (a
    corner or a street names no household)."""
    m = HOUSE.match(address or "")
    return f"{int(m.group(1)) // 100 * 100} block of {m.group(2).strip()}" if m else (address or "")


def public_place(private: bool, lon: float | None, lat: float | None, address: str) -> tuple[Any, Any, str, str]:
    """Where the public may see a request: exactly, or for a type whose places are private (`location_private`:
    the exact spot could point at one household) only its block. Returns (lon, lat, address, precision); every
    public page, feed and export places requests through this one function."""
    if lon is None or lat is None:
        return None, None, (block_of(address) if private else address), "block" if private else "exact"
    if private:
        return round(lon, BLOCK_DECIMALS), round(lat, BLOCK_DECIMALS), block_of(address), "block"
    return round(lon, 6), round(lat, 6), address, "exact"
