"""Address parsing and normalising: usaddress for the parse, then one spelling per direction, street type
and ordinal, so "1234 north Ashland Avenue, Chicago IL 60622" and "1234 N ASHLAND AVE" are the same key.

Intersections ("Clark & Division", "63rd St and Halsted", "A / B", "A at B") are split here too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import usaddress

DIRECTIONS = {"N": "N", "NORTH": "N", "S": "S", "SOUTH": "S", "E": "E", "EAST": "E", "W": "W", "WEST": "W"}
# The short directions; the halves of a street split at an east-west base line (N, S) or a north-south one
# (E, W); the two in which a grid's numbers count up (its signed axis is positive north and east). Every test
# of a direction reads these.
SHORT_DIRECTIONS = tuple(dict.fromkeys(DIRECTIONS.values()))
NORTH_SOUTH = ("N", "S")
EAST_WEST = ("E", "W")
COUNTING_UP = ("N", "E")
TYPES = {
    "AVE": "AVE",
    "AVENUE": "AVE",
    "AV": "AVE",
    "ST": "ST",
    "STREET": "ST",
    "RD": "RD",
    "ROAD": "RD",
    "BLVD": "BLVD",
    "BOULEVARD": "BLVD",
    "DR": "DR",
    "DRIVE": "DR",
    "PL": "PL",
    "PLACE": "PL",
    "CT": "CT",
    "COURT": "CT",
    "PKWY": "PKWY",
    "PARKWAY": "PKWY",
    "HWY": "HWY",
    "HIGHWAY": "HWY",
    "LN": "LN",
    "LANE": "LN",
    "TER": "TER",
    "TERRACE": "TER",
    "WAY": "WAY",
    "SQ": "SQ",
    "SQUARE": "SQ",
    "CIR": "CIR",
    "CIRCLE": "CIR",
    "EXPY": "EXPY",
    "EXPRESSWAY": "EXPY",
    "PLZ": "PLZ",
    "PLAZA": "PLZ",
    "ROW": "ROW",
}
ORDINAL = re.compile(r"^(\d+)(ST|ND|RD|TH)?$")
# What 311 exports put before a corner: "Intersection of GRANT AVE and LOMBARD ST", "Corner of A & B".
CORNER_PREFIX = re.compile(r"^\s*(?:the\s+)?(?:intersection|corner)(?:\s+of\s+|\s*:\s*)", re.IGNORECASE)
# "131-137 Main St", "131 - 137 Main St": a frontage's range is filed at its first number.
NUMBER_RANGE = re.compile(r"^\s*(\d+)\s*-\s*\d+(?=\s+\D)")
SEPARATORS = re.compile(r"\s+(?:&|AND|AT|/|@)\s+|\s*[&/@]\s*", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedStreet:
    direction: str  # N / S / E / W or ""
    name: str  # "ASHLAND", "63RD"
    type: str  # "AVE" or ""

    @property
    def key(self) -> str:
        return f"{self.name} {self.type}".strip()


@dataclass(frozen=True)
class ParsedAddress:
    number: int | None
    street: ParsedStreet | None
    cross: ParsedStreet | None = None  # an intersection's second street
    postcode: str = ""
    unused: str = ""  # text the parse did not use (not the address, not this city's place/state/ZIP tail)
    other_place: str = ""  # a town named in the tail that is not this city ("…, Evanston")

    @property
    def is_intersection(self) -> bool:
        return self.cross is not None

    def text(self) -> str:
        if self.street is None:
            return ""
        s = self.street
        main = " ".join(p for p in (s.direction, s.name, s.type) if p)
        if self.cross is not None:
            c = self.cross
            return f"{main} & {' '.join(p for p in (c.direction, c.name, c.type) if p)}"
        return f"{self.number} {main}" if self.number is not None else main


def base_name(name: str, prefixes: Iterable[str] = SHORT_DIRECTIONS) -> str:
    """'N ASHLAND AVE' → 'ASHLAND AVE': both halves of a street split at a base line are one street (the
    street network and the geocoder key streets the same way; a city may name other prefixes). The rest is
    written as `normalise_street` writes a caller's street, so a layer's "Valencia Street" and an address
    point's or a caller's "Valencia St" are one key: VALENCIA ST."""
    words = re.sub(r"[^\w\s]", " ", name.upper()).split()
    # "North Ave", "South St": a direction followed only by a street type is the street's name.
    if len(words) > 1 and words[0] in set(prefixes) and not (len(words) == 2 and words[1] in TYPES):
        words = words[1:]
    if len(words) > 1 and words[0] == "SAINT":
        words[0] = "ST"
    if len(words) > 1 and words[-1] in TYPES:
        words[-1] = TYPES[words[-1]]
    return " ".join(_ordinal(w) if i == 0 else w for i, w in enumerate(words))


def _ordinal(word: str) -> str:
    m = ORDINAL.match(word)
    if not m:
        return word
    n = int(m.group(1))
    suffix = "TH" if 10 <= n % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")
    return f"{n}{suffix}"


def normalise_street(text: str, direction: str = "", street_type: str = "") -> ParsedStreet:
    words = re.sub(r"[^\w\s]", " ", text.upper()).split()
    d = DIRECTIONS.get(direction.upper().strip(". "), "") if direction else ""
    raw_type = street_type.upper().strip(". ") if street_type else ""
    t = TYPES.get(raw_type, "")
    if raw_type and not t:  # a "type" we do not know is part of the name ("Lake Shore": usaddress reads SHORE)
        words.append(raw_type)
    if len(words) > 1 and words[0] == "SAINT":  # "Saint Louis Ave" is ST LOUIS AVE, as street files write it
        words[0] = "ST"
    # A leading direction word is the direction unless only a street type would be left: "South St" and
    # "North Ave" are named South and North.
    if words and not d and words[0] in DIRECTIONS and len(words) > 1 and not (len(words) == 2 and words[1] in TYPES):
        d = DIRECTIONS[words.pop(0)]
    if words and not t and words[-1] in TYPES and len(words) > 1:
        t = TYPES[words.pop()]
    # "63 St" is 63rd St; a number later in a name ("Route 1", "Row 1") stays as it is.
    return ParsedStreet(direction=d, name=" ".join(_ordinal(w) if i == 0 else w for i, w in enumerate(words)), type=t)


def parse(text: str, city: str = "") -> ParsedAddress:
    """Parse one line; ValueError says what could not be understood. `city` (the city's own name) lets a
    "…, Chicago, IL 60622" tail count as used; any other place name, or words the parser could not place,
    come back in `unused`."""
    raw = " ".join(text.split())
    if not raw:
        raise ValueError("empty address")
    if len(raw) > 300:
        raise ValueError(f"an address is at most 300 characters; got {len(raw)}")
    raw = NUMBER_RANGE.sub(r"\1", CORNER_PREFIX.sub("", raw))
    if not raw:
        raise ValueError("an intersection needs its two streets")
    parts = [p for p in SEPARATORS.split(raw) if p.strip()]
    if len(parts) == 2 and not re.match(r"^\s*\d+\s", parts[0]):  # "63rd St & Halsted", not "1234 N …"
        return ParsedAddress(
            number=None, street=normalise_street(_strip_place(parts[0])), cross=normalise_street(_strip_place(parts[1]))
        )
    try:
        tags, _kind = usaddress.tag(raw)
    except usaddress.RepeatedLabelError:
        tags = {}
    number_text = re.sub(r"\D", "", str(tags.get("AddressNumber", "")))
    name = str(tags.get("StreetName", ""))
    if not name:
        m = re.match(r"^\s*(\d+)\s+(.+)$", raw)
        if not m:
            raise ValueError(f"could not find a house number and a street in {raw[:80]!r}")
        number_text, rest = m.group(1), _strip_place(m.group(2))
        street = normalise_street(rest)
    else:
        street = normalise_street(
            name, str(tags.get("StreetNamePreDirectional", "")), str(tags.get("StreetNamePostType", ""))
        )
    return ParsedAddress(
        number=int(number_text) if number_text else None,
        street=street,
        postcode=str(tags.get("ZipCode", "")),
        unused=_unused(tags, city),
        other_place=_other_place(tags, city, raw),
    )


def _strip_place(text: str) -> str:
    """Drop ", Chicago, IL 60622"-style tails."""
    text = re.sub(r"\b\d{5}(?:-\d{4})?\b\s*$", "", text.strip())
    return re.split(r",", text)[0].strip()


_PUNCTUATION = re.compile(r"[^\w\s]")


@functools.lru_cache(maxsize=8192)
def address_key(text: str) -> str:
    """One spelling of an address for comparing two of them ("1234 North Ashland Avenue, Chicago" and
    "1234 N ASHLAND AVE" give the same key): the place tail dropped, punctuation folded, each direction, street
    type and ordinal in its one spelling. Cheap (no parser), and remembered: dedup compares dozens of addresses
    per report, mostly the same busy ones again."""
    words = _PUNCTUATION.sub(" ", _strip_place(text).upper()).split()
    return " ".join(DIRECTIONS.get(w) or TYPES.get(w) or _ordinal(w) for w in words)


# The parts of a US address the geocoder reads (usaddress's labels); a place name counts only when it is the
# city's own, a state only when it is a state.
ADDRESS_LABELS = {
    "AddressNumber",
    "AddressNumberPrefix",
    "AddressNumberSuffix",
    "StreetNamePreDirectional",
    "StreetNamePreModifier",
    "StreetNamePreType",
    "StreetName",
    "StreetNamePostType",
    "StreetNamePostDirectional",
    "StreetNamePostModifier",
    "OccupancyType",
    "OccupancyIdentifier",
    "SubaddressType",
    "SubaddressIdentifier",
    "ZipCode",
    "ZipPlus4",
    "CountryName",
}
STATES = set(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
    ]
) | {
    "ALABAMA",
    "ALASKA",
    "ARIZONA",
    "ARKANSAS",
    "CALIFORNIA",
    "COLORADO",
    "CONNECTICUT",
    "DELAWARE",
    "FLORIDA",
    "GEORGIA",
    "HAWAII",
    "IDAHO",
    "ILLINOIS",
    "INDIANA",
    "IOWA",
    "KANSAS",
    "KENTUCKY",
    "LOUISIANA",
    "MAINE",
    "MARYLAND",
    "MASSACHUSETTS",
    "MICHIGAN",
    "MINNESOTA",
    "MISSISSIPPI",
    "MISSOURI",
    "MONTANA",
    "NEBRASKA",
    "NEVADA",
    "OHIO",
    "OKLAHOMA",
    "OREGON",
    "PENNSYLVANIA",
    "TENNESSEE",
    "TEXAS",
    "UTAH",
    "VERMONT",
    "VIRGINIA",
    "WASHINGTON",
    "WISCONSIN",
    "WYOMING",
}


def _other_place(tags: dict[str, str], city: str, raw: str) -> str:
    """The place name of the tail when it names a town other than this city (it is outside the city). A town
    is written as one ("…, Evanston", or with a state or ZIP after it); stray words the parser happened to
    call a place ("1 N State St; DROP TABLE …") stay unused text instead."""
    value = str(tags.get("PlaceName", ""))
    place = " ".join(re.sub(r"[^\w\s]", " ", value).split())
    if not place or not city or place.upper() == " ".join(city.upper().split()):
        return ""
    written_as_town = re.search(r",\s*" + re.escape(value.strip()), raw) is not None
    state = " ".join(re.sub(r"[^\w\s]", " ", str(tags.get("StateName", ""))).upper().split())
    zipcode = re.fullmatch(r"\d{5}(-\d{4})?", str(tags.get("ZipCode", "")).strip()) is not None
    if not written_as_town and state not in STATES and not zipcode:
        return ""
    return place.title()


def _unused(tags: dict[str, str], city: str) -> str:
    left = []
    for label, value in tags.items():
        if label in ADDRESS_LABELS:
            continue
        clean = " ".join(re.sub(r"[^\w\s]", " ", str(value)).upper().split())
        if label == "PlaceName" and city and clean == " ".join(city.upper().split()):
            continue
        if label == "StateName" and clean in STATES:
            continue
        left.append(str(value).strip())
    return " ".join(v for v in left if v)
