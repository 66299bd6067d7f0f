"""Universal ticket numbers: random, short, readable over the phone, with a check character.

Format: XXXX-XXXX-C over a 31-symbol alphabet (digits 1-9 and letters without I, L, O, U: nothing
that reads like another symbol). 8 random symbols give 31^8 ≈ 8.5e11 numbers, so they cannot be
guessed or enumerated. The check symbol makes the weighted sum of all nine symbols (weights 1..9)
zero modulo 31; since 31 is prime and the weights are distinct, every single wrong symbol and every
swap of two neighbouring symbols changes the sum, so the mistake is caught before any lookup.
"""

from __future__ import annotations

import secrets

ALPHABET = "123456789ABCDEFGHJKMNPQRSTVWXYZ"
BASE = len(ALPHABET)  # 31, prime
VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
BODY = 8
# Symbols people confuse, read the way they were most likely meant.
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


class TicketError(ValueError):
    """Not a valid ticket number; the message says what is wrong and what a ticket looks like."""


def _check_symbol(body: str) -> str:
    total = sum((i + 1) * VALUE[ch] for i, ch in enumerate(body))
    inverse = pow(BODY + 1, -1, BASE)
    return ALPHABET[(-total * inverse) % BASE]


def new_ticket() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY))
    return format_ticket(body + _check_symbol(body))


def format_ticket(symbols: str) -> str:
    return f"{symbols[:4]}-{symbols[4:8]}-{symbols[8]}"


def normalize_ticket(raw: str) -> str:
    """Canonical form of a typed ticket, or TicketError saying what is wrong."""
    cleaned = "".join(ch for ch in str(raw).upper().translate(_CONFUSABLE) if not ch.isspace() and ch != "-")
    example = "e.g. 7KQ2-M9XD-4"
    if len(cleaned) != BODY + 1:
        raise TicketError(f"a ticket number has {BODY + 1} characters ({example}); got {len(cleaned)}")
    bad = sorted({ch for ch in cleaned if ch not in VALUE})
    if bad:
        raise TicketError(
            f"a ticket number uses digits 1-9 and letters except I, L, O, U ({example}); found {''.join(bad)!r}"
        )
    if _check_symbol(cleaned[:BODY]) != cleaned[BODY]:
        raise TicketError(
            "that ticket number does not check out: one character is probably mistyped or two "
            "are swapped; please read it again"
        )
    return format_ticket(cleaned)
