"""Server-drawn charts: y-axis ticks that never repeat a label, and the site plan's scale bar."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from vigil.web.charts import Series, nice_ticks, scale_bar, time_series
from vigil.web.core import TEMPLATES


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        (0.0, [0, 1]),
        (1.1, [0, 1, 2]),
        (2.2, [0, 1, 2, 3]),
        (4.4, [0, 1, 2, 3, 4, 5]),
        (44.0, [0, 10, 20, 30, 40, 50]),
        (123.0, [0, 50, 100, 150]),
    ],
)
def test_ticks_are_whole_distinct_and_cover_the_top(top: float, expected: list[float]) -> None:
    assert nice_ticks(top) == expected


@pytest.mark.parametrize("peak", [1, 2, 3, 7, 41, 230])
def test_time_series_labels_each_tick_once(peak: int) -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    points = [(now + timedelta(minutes=i), float(min(i, peak))) for i in range(peak + 1)]
    svg = str(time_series([Series("north", points)]))
    labels = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    ticks = [t for t in labels if re.fullmatch(r"[0-9.]+", t)]
    assert len(ticks) == len(set(ticks)) >= 2, ticks
    assert float(ticks[-1]) >= peak


def test_one_person_many_people() -> None:
    people = TEMPLATES.env.filters["people"]
    assert [people(n) for n in (0, 1, 1.0, 2, 41)] == ["0 people", "1 person", "1 person", "2 people", "41 people"]


def test_scale_bar_is_a_round_distance_that_fits() -> None:
    metres, px = scale_bar(metres_per_px=5.0, max_px=160)
    assert (metres, px) == (500.0, 100.0)


def test_a_label_near_the_right_edge_is_drawn_left_of_its_camera() -> None:
    from vigil.web.charts import PlanPoint, site_plan

    svg = str(site_plan([PlanPoint("w", "West gate", 51.5, -0.2), PlanPoint("e", "Main entrance", 51.5, -0.1)]))
    assert re.search(r'text-anchor="end">Main entrance<', svg) and not re.search(r'text-anchor="end">West gate<', svg)
