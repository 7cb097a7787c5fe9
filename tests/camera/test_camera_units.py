"""Unit tests of the pure parts: backoff, sampler, motion gate, health, URL helpers."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vigil.camera import Backoff, CameraHealth, FrameSampler, MotionGate, is_live_url, mask_url, open_source


# -- backoff ---------------------------------------------------------------------------
def test_backoff_grows_exponentially_to_the_cap_without_jitter() -> None:
    backoff = Backoff(0.5, 4.0, 2.0, jitter=0.0)
    assert [backoff.next_delay(float(t)) for t in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_jitter_stays_within_spread_and_cap() -> None:
    backoff = Backoff(1.0, 10.0, 2.0, jitter=0.25, rng=random.Random(7))
    delays = [backoff.next_delay(0.0) for _ in range(8)]
    bases = [1, 2, 4, 8, 10, 10, 10, 10]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.75 <= delay <= min(10.0, base * 1.25)
    assert len(set(delays)) > 1


def test_backoff_resets_only_after_a_stable_connection() -> None:
    backoff = Backoff(1.0, 60.0, 2.0, jitter=0.0, stable_after_s=30.0)
    backoff.next_delay(0.0)
    backoff.next_delay(1.0)
    backoff.connected(2.0)
    assert backoff.next_delay(10.0) == 4.0  # up for 8 s: not stable, keep growing
    backoff.connected(20.0)
    assert backoff.next_delay(50.0) == 1.0  # up for 30 s: stable, start over
    assert backoff.attempt == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial_s": 0.0}, "initial_s"),
        ({"initial_s": 2.0, "max_s": 1.0}, "max_s"),
        ({"factor": 0.5}, "factor"),
        ({"jitter": 1.0}, "jitter"),
    ],
)
def test_backoff_rejects_bad_parameters(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)


# -- sampler ---------------------------------------------------------------------------
def _accepted(sampler: FrameSampler, fps: float, seconds: float) -> list[float]:
    pts = [i / fps for i in range(round(seconds * fps))]
    return [p for p in pts if sampler.accept(p)]


@pytest.mark.parametrize(
    ("source_fps", "analysis_fps", "expected_per_10_s"),
    [
        (25.0, 10.0, 100),
        (30.0, 5.0, 50),
        (10.0, 2.0, 20),
        (10.0, 25.0, 100),
        (25.0, None, 250),
        (25.0, 0, 250),
    ],
)
def test_sampler_keeps_the_configured_rate(
    source_fps: float, analysis_fps: float | None, expected_per_10_s: int
) -> None:
    accepted = _accepted(FrameSampler(analysis_fps), source_fps, 10.0)
    assert abs(len(accepted) - expected_per_10_s) <= 1


def test_sampler_does_not_burst_after_a_gap_and_restarts_on_backward_pts() -> None:
    sampler = FrameSampler(2.0)
    assert sampler.accept(0.0)
    assert not sampler.accept(0.2)
    assert sampler.accept(5.0)  # gap of 5 s: one frame, not ten to catch up
    assert not sampler.accept(5.1)
    assert sampler.accept(0.0)  # reconnect: pts restarted
    assert not sampler.accept(0.1)


def test_sampler_rejects_negative_rate() -> None:
    with pytest.raises(ValueError, match="analysis_fps"):
        FrameSampler(-1.0)


# -- motion gate -----------------------------------------------------------------------
def _scene(square_at: int | None) -> np.ndarray:
    image = np.full((432, 768, 3), 90, dtype=np.uint8)
    image[300:, :] = 140  # a floor
    if square_at is not None:
        image[150:250, square_at : square_at + 80] = (20, 200, 240)
    return image


def test_motion_gate_passes_motion_and_keepalive_only() -> None:
    gate = MotionGate(keepalive_s=5.0)
    still = _scene(None)
    assert gate.should_analyse(still, 0.0)  # first frame always passes
    passed = [gate.should_analyse(still, t / 10) for t in range(1, 49)]
    assert not any(passed)
    assert gate.should_analyse(still, 5.0)  # keepalive after 5 s of stillness
    assert gate.should_analyse(_scene(100), 5.1)
    assert gate.should_analyse(_scene(140), 5.2)
    assert gate.last_changed_fraction > gate.min_changed_fraction


def test_motion_gate_ignores_sensor_noise() -> None:
    rng = np.random.default_rng(0)
    gate = MotionGate(keepalive_s=None)
    base = _scene(None).astype(np.int16)
    gate.should_analyse(base.astype(np.uint8), 0.0)
    noisy = [np.clip(base + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8) for _ in range(20)]
    assert not any(gate.should_analyse(img, 0.1 * (i + 1)) for i, img in enumerate(noisy))


def test_motion_gate_costs_under_a_millisecond_per_frame(camera_clip: Path) -> None:
    with open_source(str(camera_clip), "gate") as source:
        images = [frame.image for _, frame in zip(range(200), source, strict=False)]
    gate = MotionGate()
    gate.should_analyse(images[0], 0.0)
    start = time.perf_counter()
    moving = sum(gate.should_analyse(img, i / 10) for i, img in enumerate(images))
    per_frame_ms = (time.perf_counter() - start) * 1000 / len(images)
    print(f"motion gate: {per_frame_ms:.3f} ms/frame at {images[0].shape[1]}x{images[0].shape[0]}")
    assert per_frame_ms < 1.0
    assert 0 < moving <= len(images)


# -- health ----------------------------------------------------------------------------
def test_health_counts_from_many_threads_and_reports_analysed_fps() -> None:
    health = CameraHealth("cam", window_s=2.0)

    def work() -> None:
        for _ in range(1000):
            health.frame_decoded()
            health.frame_dropped()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(30):
        health.frame_analysed(now_s=100.0 + i * 0.1)  # 10 fps for 3 s
    health.reconnecting()
    health.record_error("camera cam (rtsp://x): boom")
    snap = health.snapshot(now_s=103.0)
    assert (snap.frames_in, snap.frames_dropped, snap.frames_analysed) == (4000, 4000, 30)
    assert snap.analysed_fps == pytest.approx(10.0, abs=0.5)
    assert snap.state == "reconnecting"
    assert snap.reconnects == 1
    assert snap.last_error == "camera cam (rtsp://x): boom"
    assert snap.last_error_at is not None
    assert health.snapshot(now_s=200.0).analysed_fps == 0.0
    with pytest.raises(AttributeError):
        snap.frames_in = 1  # type: ignore[misc]


# -- URL helpers -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"),
        ("rtsp://admin:p%40ss@cam.local/s?x=1", "rtsp://admin:***@cam.local/s?x=1"),
        ("rtsp://user@cam.local/s", "rtsp://user@cam.local/s"),
        ("/videos/a.mp4", "/videos/a.mp4"),
        ("http://u:p@[::1]:8080/v.mjpg", "http://u:***@[::1]:8080/v.mjpg"),
    ],
)
def test_mask_url_hides_passwords(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("url", "live"),
    [
        ("rtsp://cam/s", True),
        ("RTSP://cam/s", True),
        ("http://cam/v.mjpg", True),
        ("rtmp://srv/app", True),
        ("/data/a.mp4", False),
        ("file:///data/a.mp4", False),
        ("clips/b.mkv", False),
    ],
)
def test_is_live_url(url: str, live: bool) -> None:
    assert is_live_url(url) is live
