"""A live camera's queue holds ``cameras[].queue_s`` of analysed frames (at least 2): a stall
in its analysis (a track's snapshot redacted when it ends) is ridden out, not dropped."""

from __future__ import annotations

from vigil.config import CameraConfig
from vigil.workers.wiring import build_capture


def test_the_queue_holds_queue_s_of_analysed_frames() -> None:
    def size(**kw: float) -> int:
        capture = build_capture(CameraConfig(id="cam", url="rtsp://127.0.0.1:1/cam", **kw))  # type: ignore[arg-type]
        return int(capture._queue.maxsize)

    assert size() == 10  # 2 s at 5 analysed frames a second
    assert size(queue_s=0.4) == 2
    assert size(queue_s=0.1) == 2  # never fewer than 2
    assert size(queue_s=1.0, analysis_fps=2.5) == 3
