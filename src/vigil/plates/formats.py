"""Regional plate formats: a grammar of letter (L), digit (D) and either (A) positions.

A read that fits no enabled format as it stands is fixed by position: where the format wants
a digit and OCR gave a confusable letter (O, I, B, S …) the letter becomes that digit, and the
reverse. The fit with the fewest fixes wins; a read nothing fits gets ``region=None``.

US plates mix letters and digits freely per state, so the US grammar lists the common serial
layouts for scoring and falls back to any 2–8 characters; only the glyphs that are the same
shape on US plates are fixed there: O is always written 0 (one glyph; see ``us_zero``), and Q/0,
I/1 only inside a block of digits.

When the recogniser says how likely each character's alternatives were (``alternatives``, see
:mod:`vigil.plates.ctc`), fixes on strict regions are chosen by probability instead of the fixed
maps: each position of a layout takes its most likely character of the wanted class, and the
most likely fit wins (product of ``p(new) / p(read)`` over the changed positions). US reads are
not changed to fit a serial layout even when the recogniser's second choice would fit: measured,
that broke more reads than it fixed (vanity and special plates fit no listed layout).

A deployment adds its own regions (``plates.formats``, see :func:`formats_with`), for plates whose
serial layouts no built-in region lists. They are strict, and a read that fits none of the
enabled layouts as it stands takes the best fit to one of theirs, before any built-in layout
that needs fixes and before a loose region's any-characters rule: the operator has said those
are the local plates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

from vigil.plates.text import DIGIT_AS_LETTER, LETTER_AS_DIGIT, PLATE_CHARS, PLATE_INDEX

_SPEC = re.compile(r"([LDA])(?:\{(\d+)(?:,(\d+))?\})?")

REGION_FORMATS: dict[str, tuple[str, ...]] = {
    "us": (
        "LLLDDDD",
        "DLLLDDD",
        "LLLDDD",
        "DDDLLL",
        "LLDDDDD",
        "DDDDDDD",
        "LLDDDD",
        "DLLDDD",
        "DDDLDDD",
        "DDLLDDD",
        "LDDDLLL",
        "DDDDLL",
        "LLLLDDD",
    ),
    "uk": ("LLDDLLL", "LDDDLLL", "LLLDDDL", "LLLDDD", "DDDDLL"),
    "eu": (
        "L{1,3}D{1,4}L{0,3}",
        "L{1,3}L{1,2}D{1,4}",
        "LLDDDLL",
        "DDDDLLL",
        "LLDDLL",
        "DDLLLD",
        "DLLLDD",
        "LDDLLL",
    ),
    "br": ("LLLDDDD", "LLLDLDD"),
    "hk": ("LLD{1,4}", "LD{1,4}"),
}
"""Formats per region, e.g. ``LLDDLLL`` for a current UK plate (``{m,n}`` repeats)."""

LOOSE_REGIONS = frozenset({"us"})
"""Regions whose plates may be any 2–8 characters beyond the listed layouts (vanity, state series)."""

_US_SAME_GLYPH = {"O": "0", "Q": "0", "I": "1"}

_DIGITS = slice(0, 10)
_LETTERS = slice(10, 36)


@dataclass(frozen=True, slots=True)
class FormatFit:
    """How a read fits the enabled formats.

    Attributes:
        text: the read after positional fixes.
        region: the region whose format it fits, or None.
        layout: the concrete layout (``LLDDLLL``), or ``*`` for a loose fit.
        fixes: characters changed to fit.
    """

    text: str
    region: str | None
    layout: str | None
    fixes: int

    @property
    def strict(self) -> bool:
        """Fits a listed layout (not only a loose region's any-characters rule)."""
        return self.layout is not None and self.layout != "*"


@cache
def expand(spec: str) -> tuple[str, ...]:
    """All concrete layouts of a spec: ``LLD{1,2}`` → ``('LLD', 'LLDD')``."""
    parts: list[tuple[str, int, int]] = []
    pos = 0
    for m in _SPEC.finditer(spec):
        if m.start() != pos:
            raise ValueError(f"bad plate format {spec!r} at position {pos}; use L, D, A and {{m,n}}")
        lo = int(m.group(2) or 1)
        hi = int(m.group(3) or m.group(2) or 1)
        parts.append((m.group(1), lo, hi))
        pos = m.end()
    if pos != len(spec):
        raise ValueError(f"bad plate format {spec!r} at position {pos}; use L, D, A and {{m,n}}")
    out = [""]
    for cls, lo, hi in parts:
        out = [prefix + cls * n for prefix in out for n in range(lo, hi + 1)]
    return tuple(sorted(set(out)))


Formats = Mapping[str, tuple[str, ...]]
"""Plate formats by region name, as :data:`REGION_FORMATS`."""


def formats_with(custom: Formats | None) -> Formats:
    """The built-in formats and a deployment's own regions (``plates.formats``), each layout checked.

    Raises:
        ValueError: a custom region reuses a built-in name, or a layout is not of the grammar.
    """
    if not custom:
        return REGION_FORMATS
    for name, specs in custom.items():
        if name in REGION_FORMATS:
            raise ValueError(f"plate region {name!r} is built in; give your formats another name")
        for spec in specs:
            expand(spec)
    return {**REGION_FORMATS, **custom}


def check_regions(regions: tuple[str, ...], formats: Formats = REGION_FORMATS) -> None:
    """Raise ValueError naming the valid regions when one is unknown."""
    unknown = [r for r in regions if r not in formats]
    if unknown:
        raise ValueError(f"unknown plate region(s) {unknown}; valid: {sorted(formats)}")


def _apply(text: str, layout: str) -> tuple[str, int] | None:
    if len(text) != len(layout):
        return None
    out: list[str] = []
    fixes = 0
    for ch, cls in zip(text, layout, strict=True):
        if cls == "A" or (cls == "L" and ch.isalpha()) or (cls == "D" and ch.isdigit()):
            out.append(ch)
        elif cls == "D" and ch in LETTER_AS_DIGIT:
            out.append(LETTER_AS_DIGIT[ch])
            fixes += 1
        elif cls == "L" and ch in DIGIT_AS_LETTER:
            out.append(DIGIT_AS_LETTER[ch])
            fixes += 1
        else:
            return None
    return "".join(out), fixes


def _apply_probs(text: str, probs: NDArray[np.float32], layout: str) -> tuple[str, int, float] | None:
    """Fit ``text`` to ``layout`` by the most likely character of each wanted class.

    Returns the fitted text, the number of changed characters and the likelihood ratio of the
    changes (product of ``p(new) / p(read)``), or None when the lengths differ.
    """
    if len(text) != len(layout):
        return None
    out: list[str] = []
    fixes = 0
    ratio = 1.0
    for ch, row, cls in zip(text, probs, layout, strict=True):
        if cls == "A" or (cls == "L" and ch.isalpha()) or (cls == "D" and ch.isdigit()):
            out.append(ch)
            continue
        span = _DIGITS if cls == "D" else _LETTERS
        j = span.start + int(row[span].argmax())
        ratio *= float(row[j]) / max(float(row[PLATE_INDEX[ch]]), 1e-6)
        fixes += 1
        out.append(PLATE_CHARS[j])
    return "".join(out), fixes, min(ratio, 1.0)


def us_zero(text: str) -> str:
    """O → 0 on US plates: the canonical form of the one glyph.

    Most US series leave the letter O out, and where it is issued (vanity plates included) its
    glyph is the zero's, so a reader cannot tell them apart; reads and hotlist entries are both
    written with 0 (hotlist matching also treats O/0 as confusable).
    """
    return text.replace("O", "0")


def us_same_glyph_fix(text: str) -> str:
    """US same-glyph fixes: O → 0 on serial plates (any digit); Q → 0 and I → 1 next to a digit."""
    text = us_zero(text)
    chars = list(text)
    for i, ch in enumerate(chars):
        if ch in _US_SAME_GLYPH:
            left = chars[i - 1] if i > 0 else ""
            right = text[i + 1] if i + 1 < len(text) else ""
            if left.isdigit() or right.isdigit():
                chars[i] = _US_SAME_GLYPH[ch]
    return "".join(chars)


def fit_formats(
    text: str,
    regions: tuple[str, ...],
    max_fixes: int = 2,
    alternatives: NDArray[np.float32] | None = None,
    formats: Formats = REGION_FORMATS,
) -> FormatFit:
    """The best fit of ``text`` (already normalised) to the formats of ``regions``.

    ``alternatives`` (``(len(text), 36)`` probabilities per character, from the recogniser)
    choose the fixes by probability; without them, or where they change nothing, the fixed
    confusable maps are used. ``formats`` are the layouts by region (:func:`formats_with` adds
    a deployment's own regions to the built-in ones).
    """
    if alternatives is not None and len(alternatives) == len(text) and text:
        fit = _fit_by_probability(text, regions, max_fixes, alternatives, formats)
        if fit is not None:
            return fit
    best: FormatFit | None = None
    own: FormatFit | None = None  # the best fit to a layout the deployment itself listed
    for region in regions:
        region_text = us_zero(text) if region == "us" else text
        for spec in formats[region]:
            for layout in expand(spec):
                applied = _apply(region_text, layout)
                if applied is None or applied[1] > max_fixes:
                    continue
                fit = FormatFit(applied[0], region, layout, applied[1])
                if best is None or fit.fixes < best.fixes:
                    best = fit
                if region not in REGION_FORMATS and (own is None or fit.fixes < own.fixes):
                    own = fit
    if best is not None and best.fixes == 0:
        return best
    if own is not None:
        return own  # the operator listed it as a local layout: it beats the loose rule and other fixes
    loose = _loose_fit(text, regions)
    if loose is not None:
        # A listed layout reached with fixes is still preferred when every fix is a same-glyph one.
        return best if best is not None and best.text == loose.text else loose
    return best if best is not None else FormatFit(text, None, None, 0)


def _loose_fit(text: str, regions: tuple[str, ...]) -> FormatFit | None:
    for region in regions:
        if region in LOOSE_REGIONS and 2 <= len(text) <= 8:
            fixed = us_same_glyph_fix(text)
            return FormatFit(fixed, region, "*", sum(a != b for a, b in zip(text, fixed, strict=True)))
    return None


def _fit_by_probability(
    text: str, regions: tuple[str, ...], max_fixes: int, alternatives: NDArray[np.float32], formats: Formats
) -> FormatFit | None:
    """The most likely strict-region fit that changes something, or None (then the maps decide).

    A deployment's own regions are tried first; the built-in strict ones only when no loose
    region is enabled (a loose region takes the read as it is; see the module notes).
    """
    own = tuple(r for r in regions if r not in REGION_FORMATS)
    loose = any(r in LOOSE_REGIONS for r in regions)
    if loose and not own:
        return None  # a loose region takes the read as it is (the common US case: nothing to try)
    if own and _fits_as_read(text, regions, formats):
        return None  # the maps keep it as it is (without own regions, a fit as read wins below)
    for group in (own,) if loose else (own, regions):
        best: tuple[float, FormatFit] | None = None
        for region in group:
            for spec in formats[region]:
                for layout in expand(spec):
                    applied = _apply_probs(text, alternatives, layout)
                    if applied is None or applied[1] > max_fixes:
                        continue
                    key = applied[2] - 1e-3 * applied[1]  # most likely; fewer fixes on a tie
                    if best is None or key > best[0]:
                        best = (key, FormatFit(applied[0], region, layout, applied[1]))
        if best is not None:
            return None if best[1].fixes == 0 else best[1]  # a fit as read is the likeliest of all
    return None  # nothing fits: the maps decide as before


def _fits_as_read(text: str, regions: tuple[str, ...], formats: Formats) -> bool:
    """Whether ``text`` fits a listed layout of ``regions`` without a fix (US: with O written 0)."""
    for region in regions:
        region_text = us_zero(text) if region == "us" else text
        for spec in formats[region]:
            for layout in expand(spec):
                applied = _apply(region_text, layout)
                if applied is not None and applied[1] == 0:
                    return True
    return False


MIN_FIX_RATIO = 0.05
"""A grammar fix of a read with per-character probabilities is made only when the new characters
were at least this likely relative to the read ones (product over the changed positions).

A plate-trained recogniser has learnt its countries' layouts already: where it is confident, a
read that fits no listed layout is more likely a layout the grammar does not list (a series,
a vanity plate) than a misread, and forcing it into one would break a right read."""


def fit_region(
    text: str,
    alternatives: NDArray[np.float32] | None,
    region: str,
    formats: Formats = REGION_FORMATS,
    max_fixes: int = 2,
    min_ratio: float = MIN_FIX_RATIO,
) -> FormatFit:
    """Fit a read to one region's grammar (the region its country gives), fixing only likely confusions.

    A loose region (US) takes the read with its same-glyph fixes; a strict one keeps a read that
    fits a layout as it is, else takes the likeliest fit whose changes the recogniser itself found
    at least ``min_ratio`` as likely; a read nothing fits so is kept as read (``strict`` False).
    """
    if region in LOOSE_REGIONS:
        return fit_formats(text, (region,), max_fixes, None, formats)
    best: tuple[float, FormatFit] | None = None
    for spec in formats[region]:
        for layout in expand(spec):
            if alternatives is not None and len(alternatives) == len(text):
                applied = _apply_probs(text, alternatives, layout)
            else:
                exact = _apply(text, layout)
                applied = None if exact is None else (exact[0], exact[1], 1.0 if exact[1] == 0 else min_ratio)
            if applied is None or applied[1] > max_fixes or applied[2] < min_ratio:
                continue
            key = applied[2] - 1e-3 * applied[1]
            if best is None or key > best[0]:
                best = (key, FormatFit(applied[0], region, layout, applied[1]))
    if best is None:
        return FormatFit(text, region, None, 0)
    return best[1]
