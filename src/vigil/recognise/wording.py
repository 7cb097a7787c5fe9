"""False-match rates in words a reviewer can picture ("about 1 in 2,000 strangers")."""

from __future__ import annotations

import math


def one_in(rate: float) -> str:
    """1/rate as a round number people can picture: 0.00097 → "1,000"."""
    n = 1 / rate
    exp = math.floor(math.log10(n))
    lead = n / 10**exp
    nice = min((1, 2, 5, 10), key=lambda x: abs(math.log(lead / x)))
    value = nice * 10**exp
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def fmr_in_words(rate: float | None) -> str:
    """The calibrated false-match rate at a candidate's threshold, in one short phrase."""
    if rate is None:
        return "no calibrated false-match rate"
    if rate <= 0:
        return "no stranger in the calibration set scored this high"
    return f"about 1 in {one_in(rate)} strangers would score this high"
