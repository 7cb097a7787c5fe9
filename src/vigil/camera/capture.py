"""One thread per camera: open, decode, sample, gate and queue frames; reconnect live sources.

A broken camera never affects another: each runs its own thread, every error is caught
at the top of that thread's loop, logged, and recorded in its :class:`CameraHealth`.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Final, Literal

from vigil.camera.backoff import Backoff
from vigil.camera.health import CameraHealth
from vigil.camera.motion import MotionGate
from vigil.camera.sampler import FrameSampler
from vigil.camera.source import VideoSource, is_live_url, mask_url, open_source
from vigil.core.errors import SourceError, SourceStalledError
from vigil.core.frame import Frame

logger = logging.getLogger(__name__)

_POLL_S: Final = 0.1
"""How often blocked waits re-check the stop flag: bounds how late stop() is noticed."""


class CameraCapture:
    """Capture frames from one camera on a background thread into a bounded queue.

    Live sources (rtsp/http/...) reconnect with backoff after any error, forever, until
    :meth:`stop`; an end of stream counts as an error. Files end at EOF (state
    ``finished``) or at their first error (state ``failed``, ``last_error`` set).

    Args:
        camera_id: id of the camera.
        url: file path or stream URL.
        rtsp_transport: ``"tcp"`` or ``"udp"`` for rtsp URLs.
        open_timeout_s: seconds allowed to open the source.
        read_timeout_s: seconds without a frame before the source counts as stalled.
        analysis_fps: frames per second of pts to queue (``None``/0: every frame).
        motion_gate: skip frames without motion (``None``: queue every sampled frame).
        on_gated: called (on the capture thread) with each sampled frame the gate skipped: the
            live view still shows a scene where nothing moves. Must be quick.
        queue_size: frames the queue holds (>= 1).
        block_when_full: True waits for the consumer when the queue is full (recordings:
            never drop); False drops the new frame and counts it (live cameras: never
            stall the capture loop, or the camera's buffers overflow and smear frames).
            Defaults to ``not live``.
        live: override the scheme-based live detection.
        backoff_initial_s, backoff_max_s, backoff_factor: reconnect delays in seconds
            (see :class:`Backoff`).
        backoff_stable_after_s: seconds a connection must last to reset the backoff.
        av_options: extra FFmpeg options passed to :func:`open_source`.
    """

    def __init__(
        self,
        camera_id: str,
        url: str,
        *,
        rtsp_transport: Literal["tcp", "udp"] = "tcp",
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        analysis_fps: float | None = None,
        motion_gate: MotionGate | None = None,
        on_gated: Callable[[Frame], None] | None = None,
        queue_size: int = 2,
        block_when_full: bool | None = None,
        live: bool | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        backoff_factor: float = 2.0,
        backoff_stable_after_s: float = 30.0,
        av_options: Mapping[str, str] | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1 frames, got {queue_size}")
        self.camera_id = camera_id
        self.url = url
        self.display_url = mask_url(url)
        self.is_live = is_live_url(url) if live is None else live
        self.block_when_full = (not self.is_live) if block_when_full is None else block_when_full
        self.rtsp_transport: Literal["tcp", "udp"] = rtsp_transport
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.av_options = dict(av_options) if av_options else None
        self.health = CameraHealth(camera_id)
        self._sampler = FrameSampler(analysis_fps)
        self._gate = motion_gate
        self._on_gated = on_gated
        self._backoff = Backoff(backoff_initial_s, backoff_max_s, backoff_factor, stable_after_s=backoff_stable_after_s)
        self._queue: queue.Queue[Frame] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._done = threading.Event()
        self._source_lock = threading.Lock()
        self._source: VideoSource | None = None
        self._next_index = 0
        self._thread = threading.Thread(target=self._run, name=f"capture-{camera_id}", daemon=True)

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> CameraCapture:
        """Start the capture thread; returns ``self``."""
        self._thread.start()
        return self

    def __enter__(self) -> CameraCapture:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop capturing and join the thread (waits at most ``timeout_s`` seconds).

        Interrupts a blocked read and a backoff wait at once. Only an open in progress can
        outlast ``timeout_s`` (FFmpeg offers no way to cancel it); the daemon thread then
        exits on its own within ``open_timeout_s``.
        """
        self._stop.set()
        with self._source_lock:
            if self._source is not None:
                self._source.interrupt()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.warning(
                    "camera %s: capture thread still busy %.1f s after stop (opening %s)",
                    self.camera_id,
                    timeout_s,
                    self.display_url,
                )

    @property
    def running(self) -> bool:
        """True while the capture thread is alive."""
        return self._thread.is_alive()

    @property
    def done(self) -> bool:
        """True once the capture thread has finished (EOF, failure or stop)."""
        return self._done.is_set()

    # -- consumer side ----------------------------------------------------------------
    def get(self, timeout_s: float | None = None) -> Frame | None:
        """Return the next frame, or ``None`` when capture is over or ``timeout_s`` passed."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                return self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if self._done.is_set() and self._queue.empty():
                    return None
                if deadline is not None and time.monotonic() >= deadline:
                    return None

    def frames(self) -> Iterator[Frame]:
        """Yield frames until the capture is over (file ended, failed or stopped)."""
        while True:
            frame = self.get()
            if frame is None:
                return
            yield frame

    def frame_analysed(self) -> None:
        """Tell the health counters that the consumer finished one frame."""
        self.health.frame_analysed()

    # -- capture thread ---------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # top of a worker loop: contain and record, never propagate
            logger.exception("camera %s: capture thread crashed", self.camera_id)
            self.health.record_error(f"camera {self.camera_id}: internal error in capture thread")
            self.health.set_state("failed")
        finally:
            self._done.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ended = self._capture_once()
            except SourceError as exc:
                message = str(exc)
            except Exception as exc:  # an unexpected bug must not kill other cameras
                logger.exception("camera %s: unexpected error reading %s", self.camera_id, self.display_url)
                message = f"camera {self.camera_id} ({self.display_url}): {type(exc).__name__}: {exc}"
            else:
                if self._stop.is_set():
                    break
                if ended and not self.is_live:
                    self.health.set_state("finished")
                    logger.info("camera %s: %s finished", self.camera_id, self.display_url)
                    return
                message = str(SourceStalledError(f"camera {self.camera_id} ({self.display_url}): stream ended"))
            if self._stop.is_set():
                break
            self.health.record_error(message)
            if not self.is_live:
                logger.error("%s", message)
                self.health.set_state("failed")
                return
            delay_s = self._backoff.next_delay(time.monotonic())
            logger.warning("%s; reconnecting in %.1f s", message, delay_s)
            self.health.reconnecting()
            if self._stop.wait(delay_s):
                break
        self.health.set_state("stopped")

    def _capture_once(self) -> bool:
        """Open the source and pump frames until EOF (True) or stop (False)."""
        source = open_source(
            self.url,
            self.camera_id,
            rtsp_transport=self.rtsp_transport,
            open_timeout_s=self.open_timeout_s,
            read_timeout_s=self.read_timeout_s,
            live=self.is_live,
            first_index=self._next_index,
            av_options=self.av_options,
        )
        with self._source_lock:
            self._source = source
        try:
            if self._stop.is_set():  # stop() ran while we were opening
                return False
            self._backoff.connected(time.monotonic())
            self._sampler.reset()
            if self._gate is not None:
                self._gate.reset()
            self.health.set_state("running")
            for frame in source:
                self._next_index = frame.index + 1
                self.health.frame_decoded()
                if not self._sampler.accept(frame.pts_s):
                    continue
                self.health.frame_sampled()
                if self._gate is not None and not self._gate.should_analyse(frame.image, frame.pts_s):
                    self.health.frame_gated()
                    if self._on_gated is not None:
                        self._on_gated(frame)
                    continue
                if not self._put(self._with_motion(frame)):
                    return False
            return not self._stop.is_set()
        finally:
            with self._source_lock:
                self._source = None
            source.close()

    def _with_motion(self, frame: Frame) -> Frame:
        """``frame`` with where the gate saw it change (the motion-region crops follow it)."""
        gate = self._gate
        if gate is None or gate.last_motion_box is None:
            return frame
        return dataclasses.replace(frame, motion_box=gate.last_motion_box, motion_parts=gate.last_motion_parts)

    def _put(self, frame: Frame) -> bool:
        """Queue ``frame``; False if stop was requested while waiting for room."""
        if not self.block_when_full:
            try:
                self._queue.put_nowait(frame)
            except queue.Full:
                self.health.frame_dropped()
            return True
        while not self._stop.is_set():
            try:
                self._queue.put(frame, timeout=_POLL_S)
            except queue.Full:
                continue
            return True
        return False
