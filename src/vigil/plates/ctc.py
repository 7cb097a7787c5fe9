"""Greedy CTC decoding that keeps, for every plate character read, how likely each other one was.

rapidocr's own decoder returns the best string and one mean confidence. The format grammars need
more: where the recogniser said ``L`` with 0.6 and ``4`` with 0.3, a layout that wants a digit
there should take the ``4``, and where it said ``L`` with 0.99 it should not. So the recogniser's
per-step probabilities are folded onto the plate alphabet (upper and lower case of a letter are
one plate character) and each emitted character keeps its row of 36 probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from vigil.plates.text import PLATE_CHARS, PLATE_INDEX, normalise

Probs = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class TextLine:
    """One recognised line.

    Attributes:
        text: raw text as read (any characters).
        confidence: mean probability of the emitted characters (rapidocr's definition).
        alternatives: ``(n, 36)`` probabilities over :data:`PLATE_CHARS` for each of the ``n``
            plate characters of ``text`` (those :func:`vigil.plates.text.normalise` keeps), or
            None when the engine cannot tell.
        presence: ``(n,)`` probability that each of those characters is there at all (any plate
            character rather than the CTC blank or a symbol); low for a character that a bolt,
            sticker edge or a split stroke made the recogniser emit.
    """

    text: str
    confidence: float
    alternatives: Probs | None = field(default=None, compare=False, repr=False)
    presence: Probs | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class StepSummary:
    """What decoding needs of a line's ``(T, C)`` recogniser output, ~500x smaller.

    Attributes:
        best: ``(T,)`` most likely class per step (0 is the CTC blank).
        best_p: ``(T,)`` its probability.
        plate: ``(T, 36)`` probabilities folded onto :data:`PLATE_CHARS`.
    """

    best: NDArray[np.int64]
    best_p: Probs
    plate: Probs


@dataclass(frozen=True, slots=True)
class PlateFold:
    """How a recogniser's classes fold onto plate characters (built once per charset).

    Attributes:
        cols: indices of the classes that are plate characters (~62 of ~18,000).
        weights: ``(len(cols), 36)`` 0/1 matrix from those classes to :data:`PLATE_CHARS`.
        is_plate: ``(C,)`` whether each class is a plate character.
    """

    cols: NDArray[np.int64]
    weights: NDArray[np.float32]
    is_plate: NDArray[np.bool_]


def plate_fold(charset: Sequence[str]) -> PlateFold:
    """Fold the recogniser's classes onto plate characters (upper and lower case are one)."""
    targets = [PLATE_INDEX.get(ch.upper()) if len(ch) == 1 else None for ch in charset]
    cols = np.array([i for i, j in enumerate(targets) if j is not None], dtype=np.int64)
    weights = np.zeros((len(cols), len(PLATE_CHARS)), dtype=np.float32)
    for row, i in enumerate(cols):
        weights[row, targets[i]] = 1.0
    is_plate = np.zeros(len(charset), dtype=bool)
    is_plate[cols] = True
    return PlateFold(cols, weights, is_plate)


def summarise(probs: Probs, fold: PlateFold) -> StepSummary:
    """Reduce one line's ``(T, C)`` probabilities to a :class:`StepSummary`."""
    best = probs.argmax(axis=1)
    plate = probs[:, fold.cols] @ fold.weights
    return StepSummary(best, probs[np.arange(len(best)), best].astype(np.float32), plate.astype(np.float32))


def decode_greedy(steps: StepSummary, charset: Sequence[str], fold: PlateFold) -> TextLine:
    """Best-path CTC decoding of one line (class 0 is the blank).

    The text and confidence are exactly those of rapidocr's decoder (repeats merged, blanks
    dropped, confidence = mean probability at the first step of each emitted character).
    """
    best = steps.best
    keep = np.ones(len(best), dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    keep &= best != 0
    starts = np.flatnonzero(keep)
    if len(starts) == 0:
        return TextLine("", 0.0, np.zeros((0, len(PLATE_CHARS)), dtype=np.float32), np.zeros(0, dtype=np.float32))
    text = "".join(charset[best[t]] for t in starts)
    confidence = float(np.mean(steps.best_p[starts]))
    rows: list[Probs] = []
    for t in starts:
        if not fold.is_plate[best[t]]:
            continue  # separator, symbol or a script plates do not use: not a plate character
        end = t + 1
        while end < len(best) and best[end] == best[t]:
            end += 1
        rows.append(steps.plate[t:end].max(axis=0))
    if len(rows) != len(normalise(text)):  # a glyph whose upper case is two letters (ß)
        return TextLine(text, confidence)
    alternatives = np.stack(rows) if rows else np.zeros((0, len(PLATE_CHARS)), dtype=np.float32)
    return TextLine(text, confidence, alternatives, alternatives.sum(axis=1).astype(np.float32))


def drop_absent(line: TextLine, text: str, min_presence: float) -> tuple[str, Probs | None]:
    """``text`` (the normalised read of ``line``) without the characters likely not there at all.

    A character the recogniser emitted with presence below ``min_presence`` is more likely a
    blank (nothing) than any character: bolts, sticker edges and one glyph split in two make
    such emissions. Returns the kept text and its alternatives' rows.
    """
    if line.presence is None or line.alternatives is None or len(line.presence) != len(text):
        return text, line.alternatives
    keep = line.presence >= min_presence
    if keep.all():
        return text, line.alternatives
    return "".join(c for c, k in zip(text, keep, strict=True) if k), line.alternatives[keep]
