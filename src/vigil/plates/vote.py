"""One best read per vehicle: a confidence-weighted vote over its frames' reads.

Reads of the modal length vote per position (each weighted by its score); the result's
confidence is the mean, over positions, of the winning character's share of the weight,
times the mean OCR confidence of the reads that agree with the result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from vigil.plates.reader import PlateRead


@dataclass(frozen=True, slots=True)
class VotedRead:
    """The vote's outcome.

    Attributes:
        text: the winning string.
        confidence: agreement × OCR confidence, in [0, 1].
        n_reads: reads that voted.
        best: the single read closest to the result (its crop is the evidence).
        country: the plate country the reads' country heads voted for (their probabilities
            summed), or None when no read named one.
        country_confidence: the mean probability given to it over the reads that named a country
            (a read naming another counts 0).
    """

    text: str
    confidence: float
    n_reads: int
    best: PlateRead
    country: str | None = None
    country_confidence: float = 0.0


def vote(reads: Sequence[PlateRead]) -> VotedRead | None:
    """Combine ``reads`` of one plate; None when there are none."""
    reads = [r for r in reads if r.text]
    if not reads:
        return None
    by_len: dict[int, float] = defaultdict(float)
    for r in reads:
        by_len[len(r.text)] += r.score
    length = max(by_len, key=lambda n: (by_len[n], n))
    same = [r for r in reads if len(r.text) == length]
    chars: list[str] = []
    shares: list[float] = []
    for i in range(length):
        weights: dict[str, float] = defaultdict(float)
        for r in same:
            weights[r.text[i]] += max(r.score, 1e-6)
        ch = max(weights, key=lambda c: weights[c])
        chars.append(ch)
        shares.append(weights[ch] / sum(weights.values()))
    text = "".join(chars)
    length_share = by_len[length] / max(sum(by_len.values()), 1e-9)
    agreeing = [r for r in same if r.text == text] or same
    ocr = sum(r.confidence for r in agreeing) / len(agreeing)
    confidence = min(1.0, max(0.0, ocr * length_share * sum(shares) / length))
    best = max(agreeing, key=lambda r: r.score)
    countries: dict[str, float] = defaultdict(float)
    for r in reads:
        if r.country is not None:
            countries[r.country] += r.country_confidence
    if not countries:
        return VotedRead(text, confidence, len(reads), best)
    country = max(countries, key=lambda c: countries[c])
    named = sum(r.country is not None for r in reads)
    return VotedRead(text, confidence, len(reads), best, country, countries[country] / named)
