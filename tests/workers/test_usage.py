"""What each camera uses of the box: the meter's arithmetic on controlled clocks, and the line
`vigil run` and `vigil status` print from it (the real run is in test_run_cameras.py)."""

from __future__ import annotations

import math

import pytest

from vigil.cli.render import box_usage_line
from vigil.config import parse_config
from vigil.workers.usage import UsageMeter, box_cpus, more_cameras
from vigil.workers.wiring import detector_threads


class Clocks:
    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 5.0

    def advance(self, wall_s: float, cpu_s: float) -> None:
        self.wall += wall_s
        self.cpu += cpu_s


def meter(clocks: Clocks, window_s: float = 10.0, cpus: int = 2) -> UsageMeter:
    return UsageMeter(window_s, cpus=cpus, cpu_clock=lambda: clocks.cpu, wall_clock=lambda: clocks.wall)


def test_the_process_cpu_time_is_shared_out_by_analysis_time() -> None:
    clocks = Clocks()
    m = meter(clocks)
    first = m.sample({"a": 0.0, "b": 0.0})
    assert first.window_s == 0 and first.more_cameras() is None  # nothing measured yet
    clocks.advance(wall_s=4.0, cpu_s=4.0)  # 4 CPU-seconds in 4 s on 2 CPUs: half the box
    usage = m.sample({"a": 1.5, "b": 0.5})
    assert usage.box_share == pytest.approx(0.5)
    assert usage.per_camera == pytest.approx({"a": 0.375, "b": 0.125})
    assert sum(usage.per_camera.values()) == pytest.approx(usage.box_share)
    assert usage.more_cameras() == 2  # two cameras use half: two more fill it


def test_the_reading_covers_the_last_window_not_the_whole_run() -> None:
    clocks = Clocks()
    m = meter(clocks, window_s=10.0)
    m.sample({"a": 0.0})
    clocks.advance(10.0, 20.0)  # a busy start: the whole box
    assert m.sample({"a": 10.0}).box_share == pytest.approx(1.0)
    for _ in range(3):
        clocks.advance(5.0, 1.0)  # then 10% of it
        usage = m.sample({"a": 10.0})
    assert usage.box_share == pytest.approx(0.1)
    assert 10.0 <= usage.window_s < 15.0
    whole = meter(clocks, window_s=math.inf)
    whole.sample({"a": 0.0})
    clocks.advance(10.0, 20.0)
    whole.sample({"a": 1.0})
    clocks.advance(10.0, 0.0)
    assert whole.sample({"a": 1.0}).box_share == pytest.approx(0.5)  # everything since the start


def test_with_nothing_analysed_the_cost_is_shared_evenly_and_never_over_the_box() -> None:
    clocks = Clocks()
    m = meter(clocks, cpus=1)
    m.sample({"a": 0.0, "b": 0.0})
    clocks.advance(1.0, 3.0)  # more CPU time than one CPU has (clock skew): capped at the box
    usage = m.sample({"a": 0.0, "b": 0.0})
    assert usage.box_share == 1.0 and usage.per_camera == {"a": 0.5, "b": 0.5}
    assert usage.more_cameras() == 0


def test_more_cameras_is_a_straight_line_and_unknown_without_data() -> None:
    assert more_cameras(3, 0.25) == 9
    assert more_cameras(1, 0.3) == 2
    assert more_cameras(0, 0.5) is None and more_cameras(2, 0.0) is None
    assert box_cpus() >= 1
    with pytest.raises(ValueError, match="window_s"):
        UsageMeter(0)


def test_the_line_says_the_share_per_camera_and_the_estimate_only_for_live_cameras() -> None:
    line = box_usage_line(2, {"gate": 0.2, "lobby": 0.05})
    assert line == "25% of 2 CPUs (gate 20%, lobby 5%); about 6 more such cameras fit (straight-line estimate)"
    assert box_usage_line(2, {"clip": 0.97}, live=False) == "97% of 2 CPUs"


def test_several_cameras_detect_on_one_thread_each_unless_threads_are_set() -> None:
    cpus = box_cpus()
    default = parse_config({})
    assert detector_threads(default, cpus) == 1  # as many cameras as CPUs: side by side
    assert detector_threads(default, max(0, cpus - 1)) == default.detector.threads  # fewer: the default
    chosen = parse_config({"detector": {"threads": 2}})
    assert detector_threads(chosen, cpus + 4) == 2  # set by the operator: kept
