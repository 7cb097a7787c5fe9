"""Track-end snapshots, redacted and written off the cameras' analysis threads.

Why: every track that ends has its best crop stored, and the media store blurs every face in
it first (``MediaStore.save_jpeg`` -> :class:`vigil.governance.redactor.Redactor`: YuNet and
the Haar cascade at several scales, plates by policy): ~0.7 s of CPU for a 120x300 person. On
the camera's analysis thread that is a stall, and frames sampled meanwhile overflow the
camera's queue and are dropped (traced in docs/detectors.md: on an idle box cameras fell
behind with the CPUs a sixth used). Here one writer thread per box does it instead, and the
analysis thread only hands the crop over (never waits).

What an event says about its snapshot (the consistency rule):

- A ``track.ended`` whose snapshot is being written waits with it and is published by the
  writer once the file is written (redacted by the media store, renamed into place): an event
  never names a file that does not exist, and no image reaches the disk unredacted (the writer
  calls the same ``save_jpeg`` the analysis thread called).
- The writer holds at most ``max_pending`` snapshots, ``max_bytes`` of crops, and
  ``per_camera`` of one camera's (a camera whose every track ends at once cannot take the
  others' room). When there is no room the event is published at once with no snapshot
  (``snapshot`` None, as for a failed write before), and the skip is counted by camera and
  reason (:attr:`SnapshotWriter.skipped`, the run summary) and logged. A per-event reason
  would change ``track.ended``'s shape (a new schema version); not done here.
- A write that fails (full disk, a redactor error) publishes the event without a snapshot.
- :meth:`SnapshotWriter.close` (after the cameras stopped, before the bus closes) writes every
  queued snapshot and publishes its event; what is still queued when its timeout passes is
  published without a snapshot. A process killed with snapshots queued leaves those tracks
  open in the store, and the next run ends them as orphans (``workers/recovery.py``).

Publishing from this thread is safe: every bus's ``publish`` is called from several cameras'
threads already.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from vigil.core.errors import VigilError
from vigil.core.frame import BGRImage
from vigil.events import AnyEvent, TrackEnded
from vigil.governance.redaction import RegionBox, blur_boxes
from vigil.governance.redactor import FACE_CELLS
from vigil.store.media import MediaStore

log = logging.getLogger(__name__)

Publish = Callable[[AnyEvent], None]

MAX_PENDING = 64
"""Snapshots waiting at most, all cameras: ~45 s of redaction at 0.7 s each."""
MAX_BYTES = 64 * 1024 * 1024
"""Crops held at most (a 1080p frame-sized vehicle crop is 6 MiB; a 120x300 person 0.1 MiB)."""
PER_CAMERA = 16
"""One camera's share of the queue at most."""


@dataclass(frozen=True, slots=True)
class PendingSnapshot:
    """One ended track's snapshot, not yet redacted or written, and the event that names it.

    Attributes:
        event: the ``track.ended`` event, ``snapshot`` None until the file is written.
        crop: the track's best crop, as captured (held in memory only).
        rel_path: where it is to be written, relative to the media root.
        keep_faces: why the crop keeps its faces (a face candidate's track), else None.
        head: a bystander's head region in the crop, blurred whether or not a face is found
            there (None for a candidate or a vehicle).
    """

    event: TrackEnded
    crop: BGRImage
    rel_path: str
    keep_faces: str | None
    head: RegionBox | None

    @property
    def camera_id(self) -> str:
        return self.event.camera_id


def write_snapshot(media: MediaStore, job: PendingSnapshot) -> TrackEnded:
    """Redact and write ``job``'s crop; the event naming the written file.

    Raises:
        VigilError: the media store could not write it (the event then goes without).
    """
    crop = job.crop
    if job.head is not None:
        # A bystander's head is blurred whether or not a face detector finds a face in it:
        # a face cut by the crop's edge, turned away or a few pixels tall can escape the
        # write-time search and still be recognisable (the clip and live view's rule).
        crop = blur_boxes(crop, [job.head], max_cells=FACE_CELLS)
    # Every face is blurred at write time (by the media store's redactor), unless this person
    # raised a face candidate: then the reviewer needs to see who it was.
    rel = media.save_jpeg(job.rel_path, crop, keep_faces=job.keep_faces, camera_id=job.camera_id)
    return job.event.model_copy(update={"snapshot": rel})


class SnapshotWriter:
    """The box's snapshot writer: one thread, a bounded queue, never blocks the caller.

    Call :meth:`close` after the cameras stopped and before the bus closes.
    """

    def __init__(
        self,
        media: MediaStore,
        *,
        max_pending: int = MAX_PENDING,
        max_bytes: int = MAX_BYTES,
        per_camera: int = PER_CAMERA,
    ) -> None:
        if max_pending < 1 or max_bytes < 1 or per_camera < 1:
            raise ValueError(
                f"max_pending, max_bytes and per_camera must be >= 1, got {max_pending}, {max_bytes}, {per_camera}"
            )
        self._media = media
        self.max_pending, self.max_bytes, self.per_camera = max_pending, max_bytes, per_camera
        self._queue: deque[tuple[PendingSnapshot, Publish]] = deque()
        self._bytes = 0
        self._by_camera: Counter[str] = Counter()
        self._cond = threading.Condition()
        self._closed = False
        self.written = 0
        self.write_s = 0.0
        """Seconds spent redacting and writing (the thread's wall time on it)."""
        self.failed: Counter[str] = Counter()
        """Writes that failed, by camera (the event went without a snapshot)."""
        self.skipped: Counter[tuple[str, str]] = Counter()
        """Snapshots never written, by ``(camera, reason)`` (the event went without one)."""
        self._thread = threading.Thread(target=self._run, name="snapshot-writer", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def submit(self, job: PendingSnapshot, publish: Publish) -> bool:
        """Queue ``job``, to be written and its event published by ``publish``. Never waits:
        without room, the event is published now without a snapshot. Returns whether queued."""
        size = job.crop.nbytes
        with self._cond:
            if self._closed:
                reason = "writer closed"
            elif len(self._queue) >= self.max_pending:
                reason = "writer busy"
            elif self._bytes + size > self.max_bytes:
                reason = "writer busy (bytes)"
            elif self._by_camera[job.camera_id] >= self.per_camera:
                reason = "camera's share full"
            else:
                self._queue.append((job, publish))
                self._bytes += size
                self._by_camera[job.camera_id] += 1
                self._cond.notify()
                return True
        self._skip(job, publish, reason)
        return False

    def flush(self, camera_id: str, timeout_s: float = 30.0) -> bool:
        """Wait until every snapshot ``camera_id`` queued is written and its event published
        (a camera handed to another worker publishes its last events while it holds the
        camera). Returns False if ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._by_camera[camera_id] > 0:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def close(self, timeout_s: float = 120.0) -> None:
        """Write every queued snapshot and publish its event, then stop the thread. What is
        still queued after ``timeout_s`` is published without a snapshot."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        with self._cond:
            left = list(self._queue)
            self._queue.clear()
        if self._thread.is_alive():
            log.warning("snapshots: the writer did not finish within %.0f s; %d left unwritten", timeout_s, len(left))
        for job, publish in left:
            self._skip(job, publish, "not written by shutdown")

    def _skip(self, job: PendingSnapshot, publish: Publish, reason: str) -> None:
        self.skipped[(job.camera_id, reason)] += 1
        n = sum(v for (cam, _), v in self.skipped.items() if cam == job.camera_id)
        if n % 100 == 1:  # the first and every hundredth, not one line per track
            log.warning(
                "camera %s: track %s stored without a snapshot (%s; %d so far)",
                job.camera_id,
                job.event.track_id,
                reason,
                n,
            )
        _publish(publish, job.event)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return  # closed and drained
                job, publish = self._queue.popleft()
            started = time.perf_counter()
            event = job.event
            try:
                event = write_snapshot(self._media, job)
                self.written += 1
            except VigilError as exc:
                self._failed(job, str(exc))
            except Exception:  # the writer serves every camera: one bad crop must not stop it
                log.exception("camera %s: writing the snapshot of track %s failed", job.camera_id, event.track_id)
                self._failed(job, None)
            self.write_s += time.perf_counter() - started
            _publish(publish, event)
            with self._cond:
                self._bytes -= job.crop.nbytes
                self._by_camera[job.camera_id] -= 1
                self._cond.notify_all()  # flush() waits for a camera's count to reach 0

    def _failed(self, job: PendingSnapshot, why: str | None) -> None:
        self.failed[job.camera_id] += 1
        n = self.failed[job.camera_id]
        if why is not None and n % 100 == 1:
            # A full disk must not stop detection; the event is still stored, without media.
            log.warning("camera %s: snapshot not saved (%d so far): %s", job.camera_id, n, why)


def _publish(publish: Publish, event: AnyEvent) -> None:
    try:
        publish(event)
    except Exception:  # one camera's publisher (fenced, closed) must not stop the others' snapshots
        log.exception("camera %s: publishing %s failed", event.camera_id, event.type)
