"""Plate strings: normalisation to A–Z0–9, confusable characters, and edit distances.

OCR confuses a few letter/digit pairs on plates (O/0, I/1, B/8, S/5, Z/2, G/6 …). The maps
below say which digit a letter may really be and the reverse; the format grammars
(:mod:`vigil.plates.formats`) use them to fix a character by its position, and fuzzy hotlist
matching counts such a swap as half an edit.
"""

from __future__ import annotations

import re

from vigil.core.errors import InputError

PLATE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""The plate alphabet, in the column order of a read's per-character alternatives."""
PLATE_INDEX = {c: i for i, c in enumerate(PLATE_CHARS)}
PLATE_ALPHABET = frozenset(PLATE_CHARS)
MIN_PLATE_CHARS = 2
MAX_PLATE_CHARS = 10

LETTER_AS_DIGIT: dict[str, str] = {
    "O": "0",
    "Q": "0",
    "D": "0",
    "U": "0",
    "I": "1",
    "L": "1",
    "J": "1",
    "T": "1",
    "Z": "2",
    "A": "4",
    "S": "5",
    "G": "6",
    "B": "8",
}
"""A letter read where the format wants a digit: the digit it most likely is."""

DIGIT_AS_LETTER: dict[str, str] = {
    "0": "O",
    "1": "I",
    "2": "Z",
    "4": "A",
    "5": "S",
    "6": "G",
    "7": "T",
    "8": "B",
}
"""A digit read where the format wants a letter: the letter it most likely is."""

CONFUSABLE_PAIRS: frozenset[frozenset[str]] = frozenset(
    {frozenset((a, b)) for a, b in LETTER_AS_DIGIT.items()}
    | {frozenset((a, b)) for a, b in DIGIT_AS_LETTER.items()}
    | {frozenset(p) for p in ("MN", "MW", "VY", "EF", "PR", "CG", "KX", "HN", "3B", "3E")}
)
"""Unordered pairs OCR swaps on plates (used by fuzzy matching)."""

_NON_PLATE = re.compile(r"[^A-Z0-9]")
# Characters a plate may be written with that carry no identity: separators and spaces.
_SEPARATORS = re.compile(r"[\s\-·.•_/]")


def normalise(text: str) -> str:
    """Upper case, keep A–Z and 0–9 only (OCR output: drop anything else)."""
    return _NON_PLATE.sub("", text.upper())


def parse_plate(text: str) -> str:
    """A plate typed by a person (hotlist, search): separators allowed, anything else refused.

    Raises:
        InputError: illegal characters, or too short / too long.
    """
    cleaned = _SEPARATORS.sub("", text.strip().upper())
    bad = sorted({c for c in cleaned if c not in PLATE_ALPHABET})
    if bad:
        raise InputError(f"plate {text!r} has illegal characters {''.join(bad)!r}; expected A–Z and 0–9 only")
    if not MIN_PLATE_CHARS <= len(cleaned) <= MAX_PLATE_CHARS:
        raise InputError(
            f"plate {text!r} has {len(cleaned)} characters; expected {MIN_PLATE_CHARS} to {MAX_PLATE_CHARS}"
        )
    return cleaned


def is_confusable(a: str, b: str) -> bool:
    return frozenset((a, b)) in CONFUSABLE_PAIRS


def levenshtein(a: str, b: str) -> int:
    """Plain edit distance (insert, delete, substitute all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def plate_distance(a: str, b: str, confusable_cost: float = 0.5) -> float:
    """Edit distance in which swapping confusable characters (O/0, B/8 …) costs ``confusable_cost``."""
    prev = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, 1):
        cur = [float(i)]
        for j, cb in enumerate(b, 1):
            sub = 0.0 if ca == cb else (confusable_cost if is_confusable(ca, cb) else 1.0)
            cur.append(min(prev[j] + 1.0, cur[j - 1] + 1.0, prev[j - 1] + sub))
        prev = cur
    return prev[-1]


def char_error_rate(predicted: str, truth: str) -> float:
    """Edit distance over the length of the truth (0 for an exact read)."""
    if not truth:
        return 0.0 if not predicted else 1.0
    return levenshtein(predicted, truth) / len(truth)
