"""CTC decoding with per-character alternatives, absent characters, and fits chosen by probability."""

from __future__ import annotations

import numpy as np

from vigil.plates.ctc import TextLine, decode_greedy, drop_absent, plate_fold, summarise
from vigil.plates.formats import fit_formats
from vigil.plates.text import PLATE_INDEX

CHARSET = ["blank", "A", "a", "4", "L", "-", "京", "B", "8", " "]
FOLD = plate_fold(CHARSET)


def _steps(*rows: dict[str, float]) -> np.ndarray:
    """A (T, C) probability matrix: each row names its probable classes; the rest is blank."""
    out = np.zeros((len(rows), len(CHARSET)), dtype=np.float32)
    for t, row in enumerate(rows):
        for ch, p in row.items():
            out[t, CHARSET.index(ch)] = p
        out[t, 0] = 1.0 - sum(row.values())
    return out


def test_decoding_merges_repeats_and_folds_case_and_skips_symbols() -> None:
    probs = _steps({"A": 0.6, "a": 0.3}, {"A": 0.7}, {}, {"-": 0.9}, {"L": 0.55, "4": 0.4}, {}, {"京": 0.8})
    line = decode_greedy(summarise(probs, FOLD), CHARSET, FOLD)
    assert line.text == "A-L京"
    # Confidence as rapidocr defines it: the mean at the first step of each emitted character.
    assert abs(line.confidence - np.mean([0.6, 0.9, 0.55, 0.8])) < 1e-6
    assert line.alternatives is not None and line.alternatives.shape == (2, 36)
    # 'A' over its two steps: upper and lower case are one plate character; max over the span.
    assert abs(line.alternatives[0, PLATE_INDEX["A"]] - 0.9) < 1e-6
    assert abs(line.alternatives[1, PLATE_INDEX["4"]] - 0.4) < 1e-6
    assert line.presence is not None and np.allclose(line.presence, [0.9, 0.95])


def test_a_character_more_likely_absent_is_dropped() -> None:
    probs = _steps({"A": 0.99}, {}, {"B": 0.34, "京": 0.33}, {}, {"8": 0.97}, {}, {"4": 0.98})
    line = decode_greedy(summarise(probs, FOLD), CHARSET, FOLD)
    assert line.text == "AB84"
    text, alternatives = drop_absent(line, "AB84", 0.5)
    assert text == "A84"
    assert alternatives is not None and len(alternatives) == 3
    # Without presence (an engine that cannot tell) nothing is dropped.
    assert drop_absent(TextLine("AB84", 0.9), "AB84", 0.5)[0] == "AB84"


def _alternatives(text: str, second: dict[int, tuple[str, float]]) -> np.ndarray:
    rows = np.zeros((len(text), 36), dtype=np.float32)
    for i, ch in enumerate(text):
        alt = second.get(i)
        rows[i, PLATE_INDEX[ch]] = 1.0 - (alt[1] if alt else 0.0)
        if alt:
            rows[i, PLATE_INDEX[alt[0]]] = alt[1]
    return rows


def test_strict_region_fixes_by_probability_not_by_a_fixed_map() -> None:
    # UK LLDDLLL: position 3 wants a digit; the map would turn 'L' into '1', the recogniser's
    # second choice there was '4'.
    read = "AB1LXYZ"
    assert fit_formats(read, ("uk",)).text == "AB11XYZ"
    fit = fit_formats(read, ("uk",), alternatives=_alternatives(read, {3: ("4", 0.3)}))
    assert fit.text == "AB14XYZ" and fit.strict and fit.fixes == 1


def test_us_reads_are_not_changed_to_fit_a_serial_layout() -> None:
    read = "ABC12B4"  # fits no listed layout; LLLDDDD if the B was an 8: maybe a vanity plate
    fit = fit_formats(read, ("us",), alternatives=_alternatives(read, {5: ("8", 0.4)}))
    assert fit.text == "ABC12B4" and not fit.strict
