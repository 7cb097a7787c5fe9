"""Line crossings: dead band, confirmation on the new side, the segment, forgetting tracks."""

from __future__ import annotations

import numpy as np

from vigil.config.crowd import LineConfig
from vigil.crowd.lines import CONFIRM_OBSERVATIONS, LineCounter

# Horizontal line y = 100 from x = 200 to x = 0: walking up the screen (y falling) is "in".
LINE = LineConfig(id="door", start=(200.0, 100.0), end=(0.0, 100.0), allowed_direction="in", margin_px=10)


def _walk(counter: LineCounter, track: str, ys: list[float], x: float = 100.0) -> list[str]:
    out: list[str] = []
    for y in ys:
        out += [c.direction for c in counter.update([track], np.array([[x, y]], dtype=np.float32))]
    return out


def test_a_walk_through_the_line_counts_once_when_the_new_side_holds() -> None:
    counter = LineCounter([LINE])
    below, above = [150.0, 140.0, 130.0], [80.0, 70.0, 60.0, 50.0]
    assert _walk(counter, "a", [*below, 105.0, 95.0, *above]) == ["in"]
    assert counter.totals["door"] == {"in": 1, "out": 0}
    assert _walk(counter, "a", [150.0] * CONFIRM_OBSERVATIONS) == ["out"]


def test_a_short_excursion_across_the_line_is_not_a_crossing() -> None:
    # Two frames of a box stretched past the line (an occluder, a bend), then back.
    counter = LineCounter([LINE])
    ys = [60.0, 62.0, 128.0, 112.0, 98.0, 65.0, 60.0] + [130.0] * (CONFIRM_OBSERVATIONS - 1) + [60.0]
    assert _walk(counter, "b", ys) == []
    assert counter.totals["door"] == {"in": 0, "out": 0}


def test_jitter_inside_the_dead_band_never_counts() -> None:
    counter = LineCounter([LINE])
    assert _walk(counter, "c", [120.0] + [91.0, 109.0] * 10) == []


def test_changing_side_beyond_the_end_of_the_line_is_not_a_crossing() -> None:
    counter = LineCounter([LINE])
    assert _walk(counter, "d", [150.0] * 3 + [50.0] * 4, x=300.0) == []


def test_a_forgotten_track_starts_afresh() -> None:
    counter = LineCounter([LINE])
    _walk(counter, "e", [150.0] * 3)
    counter.forget(["e"])
    # Seen again only above: no side was known, so no crossing can be claimed.
    assert _walk(counter, "e", [50.0] * 4) == []
