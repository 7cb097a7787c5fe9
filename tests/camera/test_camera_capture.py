"""CameraCapture on real files: no drops for recordings, failures contained per camera."""

from __future__ import annotations

import time
from pathlib import Path

from vigil.camera import CameraCapture, MotionGate, open_source


def _frame_count(clip: Path) -> int:
    with open_source(str(clip), "count") as source:
        return sum(1 for _ in source)


def test_broken_camera_does_not_affect_a_good_one(camera_clip: Path) -> None:
    expected = _frame_count(camera_clip)
    broken = CameraCapture("broken", "rtsp://127.0.0.1:1/none", open_timeout_s=1, backoff_initial_s=0.05)
    good = CameraCapture("good", str(camera_clip), queue_size=2)
    with broken, good:
        received = 0
        for frame in good.frames():
            assert frame.camera_id == "good"
            received += 1
            good.frame_analysed()
        snap = good.health.snapshot()
        bad = broken.health.snapshot()
    assert received == expected
    assert snap.state == "finished"
    assert (snap.frames_in, snap.frames_analysed, snap.frames_dropped) == (expected, expected, 0)
    assert bad.state in ("reconnecting", "starting")
    assert bad.reconnects >= 1
    assert bad.last_error is not None
    assert "camera broken" in bad.last_error
    assert broken.health.state == "stopped"


def test_recording_with_slow_consumer_drops_nothing(camera_clip: Path) -> None:
    capture = CameraCapture("rec", str(camera_clip), analysis_fps=2.0, queue_size=1)
    with capture:
        frames = []
        for frame in capture.frames():
            time.sleep(0.002)
            frames.append(frame)
    snap = capture.health.snapshot()
    assert snap.frames_dropped == 0
    assert len(frames) == snap.frames_sampled
    duration_s = frames[-1].pts_s
    assert abs(len(frames) - duration_s * 2.0) <= 2  # 2 fps of pts whatever the source rate
    assert [f.index for f in frames] == sorted(f.index for f in frames)


def test_motion_gate_in_capture_counts_gated_frames(camera_clip: Path) -> None:
    capture = CameraCapture("gated", str(camera_clip), motion_gate=MotionGate(keepalive_s=2.0))
    with capture:
        passed = sum(1 for _ in capture.frames())
    snap = capture.health.snapshot()
    assert snap.frames_sampled == snap.frames_in
    assert passed + snap.frames_gated == snap.frames_sampled
    assert passed > 0


def test_broken_file_fails_with_last_error(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_text("not a video")
    capture = CameraCapture("file", str(path))
    with capture:
        assert list(capture.frames()) == []
    snap = capture.health.snapshot()
    assert snap.state == "failed"
    assert snap.reconnects == 0
    assert snap.last_error is not None
    assert "x.mp4" in snap.last_error


def test_stop_is_prompt_during_backoff_and_while_blocked_on_a_full_queue(camera_clip: Path) -> None:
    waiting = CameraCapture("wait", "rtsp://127.0.0.1:1/none", open_timeout_s=1, backoff_initial_s=30)
    blocked = CameraCapture("full", str(camera_clip), queue_size=1, block_when_full=True)
    waiting.start()
    blocked.start()
    deadline = time.monotonic() + 5
    while waiting.health.snapshot().reconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the file capture is now blocked on its full queue
    for capture in (waiting, blocked):
        start = time.monotonic()
        capture.stop()
        assert time.monotonic() - start < 1.0
        assert not capture.running
        assert capture.health.state == "stopped"


def test_gated_frames_go_to_the_on_gated_hook(camera_clip: Path) -> None:
    gated: list[int] = []
    capture = CameraCapture("gated", str(camera_clip), motion_gate=MotionGate(keepalive_s=2.0),
                            on_gated=lambda frame: gated.append(frame.index))  # fmt: skip
    with capture:
        passed = [f.index for f in capture.frames()]
    assert len(gated) == capture.health.snapshot().frames_gated > 0
    assert not set(gated) & set(passed)  # each sampled frame is either analysed or handed to the hook
