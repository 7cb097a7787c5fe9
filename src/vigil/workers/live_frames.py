"""The latest analysed frame of each camera, in memory only, for the live view.

Nothing here is stored: each camera keeps one frame (the newest analysed one, with its tracked
boxes), replaced by the next. The live view reads it through :class:`FrameSource`, so where
the frames come from can change without the view changing:

* embedded (``vigil run --serve``): the camera workers run in the API's process and their
  ``on_frame`` hook is :meth:`LiveFrames.publish`;
* scale-out (later): a camera worker on another machine would publish a JPEG of its newest
  analysed frame and its boxes on a core NATS subject (``vigil.live.<camera>``, no JetStream:
  nothing kept) only while an API process asks for that camera, and the API process would
  keep the newest one per camera behind this same interface (see docs/ui.md).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

from vigil.core.detections import Detections
from vigil.core.frame import BGRImage, Frame
from vigil.workers.pipeline import FrameResult


@dataclass(frozen=True, slots=True)
class LiveFrame:
    """One camera's newest analysed frame.

    Attributes:
        camera_id: the camera.
        seq: counts up with each frame published for this camera (a viewer asks for a newer one).
        at: ``time.monotonic()`` when it was published (its age tells a stalled camera).
        image: the pixels as analysed, BGR; never written anywhere.
        tracked: the tracked boxes of that frame (drawn on the view).
    """

    camera_id: str
    seq: int
    at: float
    image: BGRImage
    tracked: Detections


class FrameSource(Protocol):
    """Where the live view gets frames from."""

    def latest(self, camera_id: str) -> LiveFrame | None:
        """The newest frame of ``camera_id``, or None if there is none (yet)."""
        ...


class LiveFrames:
    """The in-process :class:`FrameSource`: camera workers publish, the live view reads.

    Publishing keeps a reference to the frame's pixels (the capture decodes each frame into
    a new array), so it costs the camera thread nothing but a lock.
    """

    def __init__(self) -> None:
        self._frames: dict[str, LiveFrame] = {}
        self._lock = threading.Lock()

    def publish(self, frame: Frame, result: FrameResult) -> None:
        """A :data:`~vigil.workers.camera_worker.FrameHook`."""
        with self._lock:
            previous = self._frames.get(frame.camera_id)
            self._frames[frame.camera_id] = LiveFrame(
                camera_id=frame.camera_id,
                seq=1 if previous is None else previous.seq + 1,
                at=time.monotonic(),
                image=frame.image,
                tracked=result.tracked,
            )

    def publish_still(self, frame: Frame) -> None:
        """A frame the motion gate skipped (nothing moved since the last analysed one): shown
        with the last analysed frame's boxes, which still hold, so the view keeps its rate and
        the tracked people's heads are still blurred. Ignored before the first analysed frame."""
        with self._lock:
            previous = self._frames.get(frame.camera_id)
            if previous is None:
                return
            self._frames[frame.camera_id] = LiveFrame(
                camera_id=frame.camera_id,
                seq=previous.seq + 1,
                at=time.monotonic(),
                image=frame.image,
                tracked=previous.tracked,
            )

    def latest(self, camera_id: str) -> LiveFrame | None:
        with self._lock:
            return self._frames.get(camera_id)
