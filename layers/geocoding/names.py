"""Which streets a parsed name can mean: exact keys, then without the type, then typo-tolerant (rapidfuzz)."""

from __future__ import annotations

from rapidfuzz import fuzz, process

from layers.geocoding.base import FUZZY_CUTOFF, FUZZY_TIE, Index, _metres
from layers.normalize import ParsedStreet

SPELLED = {"N": "NORTH", "S": "SOUTH", "E": "EAST", "W": "WEST"}


def _street_keys(idx: Index, street: ParsedStreet) -> tuple[list[str], float]:
    """Layer street keys for a parsed street, with a match score (1 exact … lower for fuzzy)."""
    keys, score = _street_keys_as_parsed(idx, street)
    if street.direction:
        # "East End Ave", "South Van Ness Ave": the direction word may be part of the name. Where the layer
        # has the whole name as it stands, it is a reading too (with the other half of a plain street, when
        # that is also an exact name: the house number or the cross street then says which).
        whole = ParsedStreet("", f"{SPELLED[street.direction]} {street.name}", street.type)
        # Typo-tolerant only when the plain reading found nothing: a fuzzy score (≤ 0.85) never wins over one,
        # and the search over the vocabulary was most of a geocode's time in a city of directional names.
        whole_keys, whole_score = _street_keys_as_parsed(idx, whole, fuzzy=not keys)
        if whole_keys and (not keys or whole_score >= 0.95):
            exact = keys if score >= 0.95 else []
            return sorted(set(whole_keys) | set(exact)), whole_score
    return keys, score


def _street_keys_as_parsed(idx: Index, street: ParsedStreet, *, fuzzy: bool = True) -> tuple[list[str], float]:
    if street.type and street.key in idx.streets:
        return [street.key], 1.0
    if street.name in idx.by_name:
        keys = sorted(set(idx.by_name[street.name]))
        if street.type:
            typed = [k for k in keys if k.endswith(" " + street.type)]
            return (typed, 1.0) if typed else (keys, 0.9)
        # Without its type the name may fit several streets ("79th": 79th St and 79th Pl): every one is a
        # reading, and the caller answers ambiguous when they lead to different places.
        return keys, 0.95
    if len(street.name) == 1 and f"AVENUE {street.name}" in idx.by_name:  # "Avenue J" parsed as type + "J"
        return sorted(set(idx.by_name[f"AVENUE {street.name}"])), 0.95
    if not fuzzy:
        return [], 0.0
    # A typo: the closest names in the layer's vocabulary, with the type when one was given and without it
    # (the City writes "N Broadway St"; Broadway has no type). Near-ties all stay: "cliton" is as close to
    # Clinton as to Clifton, and the house number then says which street has it (else: ambiguous). A reading
    # must begin as the name does (`_same_start`): a slip rarely hits the first letter, and a name that fits
    # another street only by a new first letter is more likely a street the layer lacks (Milton St is not
    # Hilton St, nor Hamilton Ave) than a typo of it.
    scored: list[tuple[float, list[str]]] = []
    if street.type:
        scored += [
            (0.85 * score / 100, [key])
            for key, score, _ in process.extract(
                street.key, idx.vocabulary, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=5
            )
            if _same_start(street.key, key)
        ]
    if len(street.name) >= 4:  # shorter is too short to guess from
        for name, score, _ in process.extract(
            street.name, list(idx.by_name), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=5
        ):
            if not _same_start(street.name, name):
                continue
            keys = sorted(set(idx.by_name[name]))
            typed = [k for k in keys if street.type and k.endswith(" " + street.type)]
            scored.append((0.8 * score / 100, typed or keys))
    if not scored:
        return [], 0.0
    best = max(score for score, _ in scored)
    return sorted({k for score, keys in scored if score >= best - FUZZY_TIE for k in keys}), best


def _same_start(typed: str, reading: str) -> bool:
    """Whether a typo reading begins as the typed name does, at its first word or at its second (a layer's
    name may carry a word the caller leaves out: "Matin Luther King Jr" for Dr Martin Luther King Jr)."""
    words = reading.split(" ", 1)
    return reading[:1] == typed[:1] or (len(words) == 2 and words[1][:1] == typed[:1])


def _zip_near(idx: Index, key: str, spot: tuple[float, float]) -> str:
    """The postcode of the street's corner nearest `spot` ("" where the layer has none)."""
    ids = list(idx.nodes_of.get(key, ()))
    if not ids or not idx.zip_of:
        return ""
    nearest = min(ids, key=lambda i: _metres(idx.node_xy[i], spot))
    return idx.zip_of.get(nearest, "")


def _wider_keys(idx: Index, street: ParsedStreet) -> tuple[list[str], float]:
    """Every street the words could name: all types of the name, and the name with its direction word."""
    keys = set(idx.by_name.get(street.name, []))
    if street.direction:
        keys |= set(idx.by_name.get(f"{SPELLED[street.direction]} {street.name}", []))
    return sorted(keys), 0.8
