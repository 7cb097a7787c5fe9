"""Which regional grammar a plate country takes (the recogniser's region head names countries).

Only countries whose plates one of Vigil's built-in grammars describes are listed; a plate of any
other country is read as the recogniser read it (no positional fixes), with its country kept.
The EU grammar covers the common European serial layouts (a letter group, digits, an optional
letter group); countries with other layouts are left out rather than forced into it.
"""

from __future__ import annotations

COUNTRY_GRAMMAR: dict[str, str] = {
    "United States": "us",
    "Canada": "us",  # North American serials: the same loose grammar (any 2–8 characters, O as 0)
    "United Kingdom": "uk",
    "Brazil": "br",
    **dict.fromkeys(
        (
            "Austria",
            "Belgium",
            "Croatia",
            "Czech Republic",
            "Denmark",
            "Estonia",
            "Finland",
            "France",
            "Germany",
            "Italy",
            "Latvia",
            "Lithuania",
            "Luxembourg",
            "Netherlands",
            "Portugal",
            "Slovakia",
            "Slovenia",
            "Spain",
            "Sweden",
        ),
        "eu",
    ),
}
"""Plate country (as the region head names it) → the grammar in :mod:`vigil.plates.formats`."""

UNKNOWN_COUNTRY = "Unknown"

COUNTRY_TRUST = 0.5
"""The region head's country picks the grammar only when it is at least this sure; below it the
deployment's own ``regions`` are used. The same bar says where a read is from when a hotlist
entry names its region (:func:`vigil.plates.hotlist.other_region`)."""


def grammar_for(country: str | None) -> str | None:
    """The grammar region of a plate country, or None when no built-in grammar describes it."""
    return COUNTRY_GRAMMAR.get(country) if country else None
