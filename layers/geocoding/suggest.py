"""Suggestions while a clerk types: ranged completions of a partial street name."""

from __future__ import annotations

import re
from typing import Any

from rapidfuzz import fuzz, process

from layers.geocoding.base import FUZZY_CUTOFF, Index
from layers.geocoding.forward import geocode_many
from layers.geocoding.index import index
from layers.normalize import DIRECTIONS, SEPARATORS, TYPES

_LEADING = re.compile(r"^\s*(\d+)?\s*(?:(N|S|E|W|NORTH|SOUTH|EAST|WEST)\s+)?(.*)$")


def suggest(text: str, limit: int = 6) -> list[dict[str, Any]]:
    """Ranked completions for partial input ("1234 n ashl" → 1234 N ASHLAND AVE, …; "clark & div" → CLARK ST
    & DIVISION ST): streets whose name starts with what was typed (the longest streets first, a typo
    tolerated when nothing starts so), each placed with the number given, or the corners of the first street
    with the streets starting so. Every suggestion is a full forward result: address, kind, lon/lat, ward."""
    idx = index()
    words = " ".join(text.upper().replace(",", " ").replace(".", " ").split())
    if not words:
        return []
    halves = SEPARATORS.split(words, maxsplit=1)
    if len(halves) == 2:
        first = _completions(idx, halves[0], 3)
        second = halves[1].strip()
        texts = []
        for a in first:
            crossing = {
                k
                for k in idx.streets
                if k != a
                and k.startswith(_without_direction(second))
                and idx.nodes_of.get(a, set()) & idx.nodes_of.get(k, set())
            }
            texts += [f"{a} & {b}" for b in sorted(crossing, key=lambda k: (-len(idx.streets[k]), k))]
        texts = texts[:limit]
    else:
        m = _LEADING.match(words)
        assert m is not None  # every string matches (all parts optional)
        number, direction, rest = m.group(1), DIRECTIONS.get(m.group(2) or "", ""), m.group(3)
        streets = _completions(idx, rest, limit)
        if number is None:
            return [
                {
                    "address": k,
                    "kind": "street",
                    "lon": round(idx.middle(k)[0], 6),
                    "lat": round(idx.middle(k)[1], 6),
                    "ward": None,
                }
                for k in streets
            ]
        texts = [f"{number} {direction} {k}".replace("  ", " ") for k in streets]
    out = []
    for r in geocode_many(texts):
        if r.status == "unmatched":
            continue
        places = r.candidates if r.status == "ambiguous" else [{"address": r.address, "lon": r.lon, "lat": r.lat}]
        for c in places:
            out.append(
                {
                    "address": c["address"],
                    "kind": c.get("kind", r.kind),
                    "lon": None if c["lon"] is None else round(c["lon"], 6),
                    "lat": None if c["lat"] is None else round(c["lat"], 6),
                    "ward": r.ward if r.status == "matched" else None,
                }
            )
    return out[:limit]


def _without_direction(words: str) -> str:
    parts = words.split(" ", 1)
    return parts[1] if len(parts) == 2 and parts[0] in DIRECTIONS else words


def _completions(idx: Index, typed: str, limit: int) -> list[str]:
    """Street keys that start with what was typed (a direction word dropped, types spelled out accepted),
    longest streets first; by typo-tolerant similarity when none does."""
    typed = _without_direction(typed.strip())
    if not typed:
        return []
    words = typed.split(" ")
    spelled = " ".join([*words[:-1], TYPES.get(words[-1], words[-1])]) if len(words) > 1 else typed
    starts = [
        k
        for k in idx.vocabulary
        if k.startswith(typed) or k.startswith(spelled) or k.startswith(_ordinal_prefix(typed))
    ]
    if starts:
        return sorted(starts, key=lambda k: (-len(idx.streets[k]), k))[:limit]
    if len(typed) < 4:
        return []
    # A typo: names whose beginning (as long as what was typed, give or take a letter) is closest to it.
    found = process.extract(typed, idx.vocabulary, scorer=_prefix_ratio, limit=limit * 3, score_cutoff=FUZZY_CUTOFF)
    return [k for k, _, _ in sorted(found, key=lambda f: (-f[1], -len(idx.streets[f[0]]), f[0]))][:limit]


def _prefix_ratio(typed: str, key: str, **_: Any) -> float:
    return max(fuzz.ratio(typed, key[: len(typed) + d]) for d in (-1, 0, 1))


def _ordinal_prefix(typed: str) -> str:
    """'63' → '63RD' so a bare number completes to the numbered street."""
    head, _, tail = typed.partition(" ")
    if head.isdigit():
        suffix = "TH" if 10 <= int(head) % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(int(head) % 10, "TH")
        return f"{head}{suffix}{' ' + tail if tail else ''}"
    return typed
