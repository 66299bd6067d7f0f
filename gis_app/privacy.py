"""The one masker for contact data typed into free text (descriptions, notes).

A resident often writes "call me at 312-555-0100" in the description. Whoever may not see reporter contact
data (the public, Open311 readers, council members, planners, crews) reads the text with e-mail addresses and
phone numbers masked; staff with the `view_reporter_contact` permission read it whole, and that read is logged.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# North American numbers with or without the country code, separators or brackets.
PHONE = re.compile(r"(?<!\w)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)")


def mask_personal(text: str) -> str:
    """The text with e-mail addresses and phone numbers replaced by a marker saying what was removed."""
    return PHONE.sub("[phone removed]", EMAIL.sub("[e-mail removed]", text or ""))
