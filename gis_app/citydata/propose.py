"""A first 311 mapping for a city's export, guessed from its header and a sample of its rows.

`propose(csv_path)` reads the header and up to a few thousand rows and guesses which column is the id, the
type, the department, the dates (and their format), the status (and what each value means), the address,
the coordinates, the source's own district and the duplicate flag or the free text that says "duplicate".
Every guess is written with a `# CHECK` comment saying what it was guessed from, every key it could not
guess with `# NOT FOUND`: the file is a start for a person, who then loads it with `manage.py load_311`.
Nothing here knows a particular city: only the words 311 exports commonly use.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# Column roles and the header words that usually name them, most telling first.
ROLES: dict[str, list[str]] = {
    "id": ["srnumber", "caseid", "servicerequestid", "requestid", "ticket", "casenumber", "id"],
    "type_name": ["srtype", "requesttype", "servicename", "complainttype", "type", "category"],
    "type_code": ["srshortcode", "servicecode", "typecode", "code"],
    "department": ["ownerdepartment", "responsibleagency", "agency", "department", "dept"],
    "created": ["createddate", "opened", "requesteddatetime", "createddatetime", "opendate", "created"],
    "closed": ["closeddate", "closed", "closedate", "closeddatetime"],
    "status": ["status"],
    "channel": ["origin", "source", "channel", "method"],
    "address": ["streetaddress", "incidentaddress", "address"],
    "lon": ["longitude", "long", "lon", "lng"],
    "lat": ["latitude", "lat"],
    "x": ["xcoordinate", "xcoord", "x"],
    "y": ["ycoordinate", "ycoord", "y"],
    "ward": ["ward", "supervisordistrict", "councildistrict", "district"],
    "duplicate": ["duplicate", "isduplicate"],
    "parent_id": ["parentsrnumber", "parentid", "parentcase", "parent"],
}
NOTES = ["statusnotes", "closurereason", "resolution", "resolutiondescription", "notes", "comments"]
DATE_FORMATS = [
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%Y-%m-%d",
]
NULLS = {"NA", "N/A", "NULL", "None", "null", "nan", "NaN", "-"}
STATUS_WORDS = [("cancel", "cancelled"), ("duplicate", "duplicate"), ("clos", "closed"), ("complet", "closed")]
STATUS_WORDS += [("resolv", "closed"), ("open", "open"), ("new", "open"), ("progress", "in_progress")]
STATUS_WORDS += [("assign", "assigned"), ("hold", "on_hold")]


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


@dataclass
class Proposal:
    columns: dict[str, str] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    date_formats: list[str] = field(default_factory=list)
    nulls: list[str] = field(default_factory=list)
    status_map: dict[str, str] = field(default_factory=dict)
    unknown_statuses: list[str] = field(default_factory=list)
    duplicate_text: str = ""
    parent_pattern: str = ""
    rows: int = 0


def _dates(values: list[str]) -> list[str]:
    """The formats every sample value parses with (the first that fits each value, in DATE_FORMATS order)."""
    used: list[str] = []
    for v in values:
        for fmt in DATE_FORMATS:
            try:
                dt.datetime.strptime(v, fmt)
            except ValueError:
                continue
            if fmt not in used:
                used.append(fmt)
            break
        else:
            return []  # one value fits no format: a person has to say
    return used


def propose(path: Path, sample: int = 5000) -> Proposal:
    """Guess a mapping for the export at `path` (a CSV with a header row)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        headers = list(reader.fieldnames or [])
        rows = [row for _, row in zip(range(sample), reader, strict=False)]
    p = Proposal(rows=len(rows))
    keys = {_key(h): h for h in headers}
    taken: set[str] = set()
    for role, words in ROLES.items():
        for w in words:
            if w in keys and keys[w] not in taken:
                p.columns[role], p.why[role] = keys[w], f"header {keys[w]!r}"
                taken.add(keys[w])
                break
    null_count = Counter(v.strip() for row in rows for v in row.values() if v and v.strip() in NULLS)
    p.nulls = sorted(null_count)

    def values(role: str) -> list[str]:
        col = p.columns.get(role)
        return [v.strip() for row in rows if col and (v := row.get(col) or "").strip() and v.strip() not in NULLS]

    p.date_formats = _dates(values("created")[:500] + values("closed")[:500])
    for status, _n in Counter(values("status")).most_common(50):
        ours = next((mine for word, mine in STATUS_WORDS if word in status.lower()), None)
        if ours is None:
            p.unknown_statuses.append(status)
        else:
            p.status_map[status] = ours
    if "duplicate" not in p.columns:
        for w in NOTES:
            col = keys.get(w)
            if col and any("duplicate" in (row.get(col) or "").lower() for row in rows):
                p.duplicate_text = col
                texts = [row.get(col) or "" for row in rows if "duplicate" in (row.get(col) or "").lower()]
                if any(re.search(r"\d{4,}", t) for t in texts):
                    p.parent_pattern = r"(\d{4,})"
                break
    wanted = ["id", "type_name", "created", "department", "closed", "status", "address", "ward"]
    p.missing = [r for r in wanted if r not in p.columns]
    if not ({"lon", "lat"} <= set(p.columns) or {"x", "y"} <= set(p.columns)):
        p.missing.append("lon/lat or x/y")
    return p


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def render(p: Proposal, export: Path) -> str:
    """The proposal as a 311_mapping.toml text, each guess marked for a person to check."""
    out = [
        f"# A first mapping for {export.name}, guessed by `manage.py propose_mapping` from {p.rows} rows.",
        "# Every line marked CHECK is a guess; every NOT FOUND is a key a person has to fill in or drop.",
        "",
        "[source]",
        f"name = {_q(export.stem)}  # CHECK: the export's name as the city publishes it",
        f"file = {_q(export.name)}",
        'time_zone = "UTC"  # NOT FOUND: the city\'s time zone (e.g. "America/Chicago")',
    ]
    if p.date_formats:
        out.append(f"date_formats = {json.dumps(p.date_formats)}  # CHECK: every sampled date parses with these")
    else:
        out.append("date_formats = []  # NOT FOUND: no common format fits every sampled date")
    out += ["", "[columns]"]
    for role in ROLES:
        if role in p.columns:
            out.append(f"{role} = {_q(p.columns[role])}  # CHECK: from the {p.why[role]}")
    out += [f'# {role} = "…"  # NOT FOUND' for role in p.missing]
    if p.duplicate_text:
        out += [
            "",
            "[duplicates]",
            f"column = {_q(p.duplicate_text)}  # CHECK: some of its values say 'duplicate'",
            'pattern = "(?i)duplicate"  # CHECK',
        ]
        if p.parent_pattern:
            out.append(f"parent_pattern = {_q(p.parent_pattern)}  # CHECK: a number in that text names the parent")
    out += ["", "[status_map]"]
    out += [f"{_q(k)} = {_q(v)}  # CHECK" for k, v in p.status_map.items()]
    out += [f'# {_q(k)} = "…"  # NOT FOUND: which of our statuses' for k in p.unknown_statuses]
    out += ["", "[values]", 'true = ["True", "true", "TRUE", "1", "Y", "Yes"]']
    if p.nulls:
        out.append(f"null = {json.dumps(p.nulls)}  # CHECK: written for 'no value' in this file")
    out += [
        "",
        "[types]",
        "information_only = []  # NOT FOUND: types that are calls with no place (never dispatched)",
        "not_dispatchable = []  # NOT FOUND: types logged at a place but not crew work",
        "",
    ]
    return "\n".join(out)
