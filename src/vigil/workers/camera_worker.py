"""The loop that feeds one camera's frames through its pipeline onto the bus."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from vigil.bus.base import EventBus
from vigil.camera.capture import CameraCapture
from vigil.core.frame import Frame
from vigil.workers.pipeline import CameraPipeline, FrameResult

log = logging.getLogger(__name__)

FrameHook = Callable[[Frame, FrameResult], None]
"""Called on the worker thread after each analysed frame (annotated output, progress)."""

_MAX_ERRORS_LOGGED = 5


class CameraWorker:
    """Consumes a :class:`CameraCapture` on its own thread.

    One camera's failure stays inside its worker: an exception while analysing a frame is
    logged and counted, and the worker goes on with the next frame.
    """

    def __init__(
        self,
        capture: CameraCapture,
        pipeline: CameraPipeline,
        bus: EventBus,
        on_frame: FrameHook | None = None,
    ) -> None:
        self.capture = capture
        self.pipeline = pipeline
        self._bus = bus
        self._on_frame = on_frame
        self.analysis_errors = 0
        self.analysis_s = 0.0
        self._thread = threading.Thread(target=self._run, name=f"analyse-{capture.camera_id}", daemon=True)

    def start(self) -> CameraWorker:
        self.capture.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop capturing; the worker then ends every live track and returns."""
        self.capture.stop()

    def join(self, timeout_s: float | None = None) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            for frame in self.capture.frames():
                self._analyse(frame)
        finally:
            # Whatever ended the stream, the open tracks end too: nothing is left dangling.
            for event in self.pipeline.finish():
                self._bus.publish(event)

    def _analyse(self, frame: Frame) -> None:
        started = time.perf_counter()
        try:
            result = self.pipeline.process(frame)
        except Exception:  # the top of a worker loop: one bad frame must not stop the camera
            self.analysis_errors += 1
            if self.analysis_errors <= _MAX_ERRORS_LOGGED:
                log.exception("camera %s: analysing frame %d failed", frame.camera_id, frame.index)
            return
        finally:
            self.analysis_s += time.perf_counter() - started
        for event in result.events:
            self._bus.publish(event)
        self.capture.frame_analysed()
        if self._on_frame is not None:
            self._on_frame(frame, result)
