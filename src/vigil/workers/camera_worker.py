"""The loop that feeds one camera's frames through its pipeline onto the bus."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from vigil.bus.base import EventBus
from vigil.camera.capture import CameraCapture
from vigil.core.clock import utcnow
from vigil.core.errors import VigilError
from vigil.core.frame import Frame
from vigil.core.ids import new_id
from vigil.events import RecordingProgress
from vigil.workers.pipeline import CameraPipeline, FrameResult
from vigil.workers.recovery import RecordingPlan
from vigil.workers.snapshots import SnapshotWriter, write_snapshot

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
        recording: RecordingPlan | None = None,
        progress_interval_s: float = 2.0,
        paused: threading.Event | None = None,
        snapshots: SnapshotWriter | None = None,
    ) -> None:
        self.capture = capture
        self.pipeline = pipeline
        self._bus = bus
        self._on_frame = on_frame
        self._recording = recording
        self._progress_interval_s = progress_interval_s
        self._next_progress_at = 0.0
        self._last_pts_s = recording.resume_after_s or 0.0 if recording else 0.0
        self._last_index = recording.resume_after_frame if recording else -1
        self._run_id = new_id()
        self.frames_skipped = 0
        self.progress_published = 0
        self._paused = paused
        self._snapshots = snapshots
        self._stopping = threading.Event()
        self.analysis_errors = 0
        self.analysis_s = 0.0
        self._thread = threading.Thread(target=self._run, name=f"analyse-{capture.camera_id}", daemon=True)

    def start(self) -> CameraWorker:
        self.capture.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop capturing; the worker then ends every live track and returns."""
        self._stopping.set()
        self.capture.stop()

    def join(self, timeout_s: float | None = None) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        resume_after = self._recording.resume_after_frame if self._recording else -1
        try:
            for frame in self.capture.frames():
                if frame.index <= resume_after:
                    self.frames_skipped += 1  # analysed by the run that was killed; its events are stored
                    continue
                self._wait_while_paused()
                self._analyse(frame)
                self._maybe_progress(frame)
        finally:
            # Whatever ended the stream, the open tracks end too: nothing is left dangling.
            for event in self.pipeline.finish():
                self._bus.publish(event)
            self._hand_over_snapshots()
            if self._recording is not None:
                finished = self.capture.health.snapshot().state == "finished"
                self._publish_progress(finished=finished)

    def _wait_while_paused(self) -> None:
        """While the store's disk is full, take no new work: a recording waits here, a live
        camera's capture drops (and counts) the frames that arrive meanwhile."""
        while self._paused is not None and self._paused.is_set() and not self._stopping.is_set():
            self._stopping.wait(0.2)

    def _maybe_progress(self, frame: Frame) -> None:
        self._last_pts_s, self._last_index = frame.pts_s, frame.index
        if self._recording is None or time.monotonic() < self._next_progress_at:
            return
        self._next_progress_at = time.monotonic() + self._progress_interval_s
        self._publish_progress(finished=False)

    def _publish_progress(self, *, finished: bool) -> None:
        """After this frame's events (same thread, same bus order): once stored, all of them are."""
        assert self._recording is not None
        self.progress_published += 1
        self._bus.publish(
            RecordingProgress(
                camera_id=self.capture.camera_id,
                occurred_at=utcnow(),
                recording=self._recording.recording,
                fingerprint=self._recording.fingerprint,
                run_id=self._run_id,
                analysed_until_s=max(0.0, self._last_pts_s),
                last_frame_index=self._last_index,
                finished=finished,
            )
        )

    def _hand_over_snapshots(self) -> None:
        """Deferred snapshots go to the box's writer, which publishes their ``track.ended``
        once written (never waiting here); without a writer they are written here."""
        for job in self.pipeline.take_snapshots():
            if self._snapshots is not None:
                self._snapshots.submit(job, self._bus.publish)
                continue
            media = self.pipeline.media
            try:
                event = write_snapshot(media, job) if media is not None else job.event
            except VigilError as exc:
                log.warning("camera %s: snapshot not saved: %s", self.capture.camera_id, exc)
                event = job.event
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
        self._hand_over_snapshots()
        self.capture.frame_analysed()
        if self._on_frame is not None:
            self._on_frame(frame, result)
