"""Event clips: a few seconds before and after each candidate and crowd alert, nothing else.

Each camera keeps its most recent analysed frames in memory (:class:`ClipRecorder`, a ring of
``clips.pre_s`` seconds, at most ``clips.buffer_mib`` per camera), with the tracked people's
boxes of each frame. Nothing is written while nothing happens: no continuous recording. When
a frame's events include a ``candidate.raised`` or a raised ``crowd.alert``, the ring's frames
and the next ``clips.post_s`` seconds of frames become a clip, which a background thread
redacts frame by frame and encodes (``MediaStore.save_clip``: every face blurred by region, and
the head of every tracked person; a face candidate's own track kept clear in a second,
supervisor-only copy) and announces as a ``clip.recorded`` event on the camera's bus.

Memory: a 768x432 frame is ~1 MiB, so 5 s at 5 analysed frames/s is ~25 MiB per camera; frames
are held by reference (the capture decodes each frame into a new array), never copied.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vigil.config.clips import ClipsConfig
from vigil.core.classes import COCO_NAMES
from vigil.core.errors import VigilError
from vigil.core.frame import BGRImage, Frame
from vigil.core.ids import new_id
from vigil.events import AnyEvent, CandidateRaised, ClipRecorded
from vigil.events.crowd import CrowdAlert
from vigil.store.media import Box, ClipFrame, MediaStore, clip_path
from vigil.workers.pipeline import FrameResult

log = logging.getLogger(__name__)

PERSON = COCO_NAMES.index("person")
HEAD_SHARE = 0.25
"""The top quarter of a tracked person's box is blurred as their head (the live view's rule)."""
HEAD_ABOVE = 0.05
STALL_S = 10.0
"""A clip still waiting for frames this long after its post window (the camera stalled) is
stored with what it has."""

Publish = Callable[[AnyEvent], None]


@dataclass(frozen=True, slots=True)
class _Buffered:
    image: BGRImage
    pts_s: float
    at: datetime
    heads: tuple[Box, ...]
    people: dict[str, Box]
    """Tracked people's boxes by track id (a face candidate's track keeps its face)."""


@dataclass(slots=True)
class _Pending:
    clip_id: str
    camera_id: str
    subject_type: str
    subject_id: str
    subject_at: datetime
    track_id: str | None
    keep_face: bool
    until_pts: float
    deadline: float
    frames: list[_Buffered] = field(default_factory=list)


def _trigger(event: AnyEvent) -> tuple[str, str | None, bool] | None:
    """``(subject_type, track_id, keeps a face)`` if ``event`` gets a clip."""
    if isinstance(event, CandidateRaised):
        return "candidate", event.track_id, event.kind == "face" and event.track_id is not None
    if isinstance(event, CrowdAlert) and event.state == "raised":
        return "crowd_alert", None, False
    return None


class ClipRecorder:
    """The per-camera rings and the clip writer (one thread for every camera).

    ``on_frame`` is a :data:`~vigil.workers.camera_worker.FrameHook`; ``on_still`` takes the
    frames the motion gate skipped (shown with the last analysed boxes, as the live view does).
    Call :meth:`close` after the cameras stopped and before the bus closes.
    """

    def __init__(self, cfg: ClipsConfig, media: MediaStore, publish: Publish) -> None:
        self.cfg = cfg
        self._media = media
        self._publish = publish
        self._rings: dict[str, deque[_Buffered]] = {}
        self._ring_bytes: dict[str, int] = {}
        self._pending: dict[str, list[_Pending]] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Pending | None] = queue.Queue(maxsize=cfg.queue)
        self._closing = threading.Event()
        self.stored = 0
        self.dropped = 0
        self.failed = 0
        self.encode_s = 0.0
        self._thread = threading.Thread(target=self._write_loop, name="clip-writer", daemon=True)
        self._thread.start()

    # -- frames in ------------------------------------------------------------------------

    def on_frame(self, frame: Frame, result: FrameResult) -> None:
        people: dict[str, Box] = {}
        heads: list[Box] = []
        ids = result.track_ids
        for i, (box, cls) in enumerate(
            zip(result.tracked.xyxy.tolist(), result.tracked.class_id.tolist(), strict=True)
        ):
            if int(cls) != PERSON:
                continue
            tid = ids[i] if i < len(ids) else f"#{i}"  # every tracked head is blurred, named or not
            x1, y1, x2, y2 = (float(v) for v in box)
            people[tid] = (x1, y1, x2, y2)
            h = y2 - y1
            heads.append((x1, y1 - HEAD_ABOVE * h, x2, y1 + HEAD_SHARE * h))
        item = _Buffered(frame.image, frame.pts_s, frame.captured_at, tuple(heads), people)
        triggers = [(e, t) for e in result.events if (t := _trigger(e)) is not None]
        with self._lock:
            self._add(frame.camera_id, item)
            for event, (subject_type, track_id, keep_face) in triggers:
                self._start(frame.camera_id, event, subject_type, track_id, keep_face, frame.pts_s)
            self._advance(frame.camera_id, frame.pts_s)

    def on_still(self, frame: Frame) -> None:
        with self._lock:
            ring = self._rings.get(frame.camera_id)
            if not ring:
                return  # before the first analysed frame: no boxes to blur heads by
            last = ring[-1]
            self._add(frame.camera_id, _Buffered(frame.image, frame.pts_s, frame.captured_at, last.heads, last.people))
            self._advance(frame.camera_id, frame.pts_s)

    def end_camera(self, camera_id: str) -> None:
        """The camera's stream ended: its clips are stored with the frames they have."""
        with self._lock:
            pending = self._pending.pop(camera_id, [])
            self._rings.pop(camera_id, None)
            self._ring_bytes.pop(camera_id, None)
        for p in pending:
            self._submit(p, wait_s=60.0)

    def close(self, timeout_s: float = 120.0) -> None:
        """Store every clip still collecting frames, wait for the writer, stop it."""
        with self._lock:
            pending = [p for ps in self._pending.values() for p in ps]
            self._pending.clear()
            self._rings.clear()
            self._ring_bytes.clear()
        for p in pending:
            self._submit(p, wait_s=timeout_s)
        self._closing.set()
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            log.warning("clips: the writer is still busy; %d clips not stored", self._queue.qsize())
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("clips: the writer did not finish within %.0f s", timeout_s)

    # -- under the lock -------------------------------------------------------------------

    def _add(self, camera_id: str, item: _Buffered) -> None:
        ring = self._rings.setdefault(camera_id, deque())
        ring.append(item)
        size = self._ring_bytes.get(camera_id, 0) + item.image.nbytes
        limit = self.cfg.buffer_mib * 1024 * 1024
        while len(ring) > 1 and (item.pts_s - ring[0].pts_s > self.cfg.pre_s or size > limit):
            size -= ring.popleft().image.nbytes
        self._ring_bytes[camera_id] = size
        for p in self._pending.get(camera_id, ()):
            if item.pts_s <= p.until_pts and (not p.frames or item.pts_s > p.frames[-1].pts_s):
                p.frames.append(item)

    def _start(
        self, camera_id: str, event: AnyEvent, subject_type: str, track_id: str | None, keep_face: bool, pts: float
    ) -> None:
        pending = self._pending.setdefault(camera_id, [])
        if len(pending) >= self.cfg.queue:
            self.dropped += 1
            log.warning("clips: camera %s has %d clips collecting; no clip for %s", camera_id, len(pending), event.type)
            return
        pending.append(
            _Pending(
                clip_id=new_id(),
                camera_id=camera_id,
                subject_type=subject_type,
                subject_id=event.event_id,
                subject_at=event.occurred_at,
                track_id=track_id,
                keep_face=keep_face,
                until_pts=pts + self.cfg.post_s,
                deadline=time.monotonic() + self.cfg.post_s + STALL_S,
                frames=list(self._rings.get(camera_id, ())),
            )
        )

    def _advance(self, camera_id: str, pts: float) -> None:
        pending = self._pending.get(camera_id)
        if not pending:
            return
        done = [p for p in pending if pts >= p.until_pts]
        if done:
            self._pending[camera_id] = [p for p in pending if p not in done]
            for p in done:
                self._submit(p)

    def _stalled(self) -> list[_Pending]:
        now = time.monotonic()
        out: list[_Pending] = []
        with self._lock:
            for camera_id, pending in list(self._pending.items()):
                late = [p for p in pending if now > p.deadline]
                if late:
                    self._pending[camera_id] = [p for p in pending if p not in late]
                    out += late
        return out

    def _submit(self, p: _Pending, wait_s: float = 0.0) -> None:
        try:
            self._queue.put(p, timeout=wait_s) if wait_s > 0 else self._queue.put_nowait(p)
        except queue.Full:
            self.dropped += 1
            log.warning(
                "clips: %d clips waiting to be encoded; the clip of %s is dropped", self.cfg.queue, p.subject_id
            )

    # -- the writer thread ----------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            for p in self._stalled():
                self._store(p)
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if item is None:
                while True:  # what was queued before close
                    try:
                        rest = self._queue.get_nowait()
                    except queue.Empty:
                        return
                    if rest is not None:
                        self._store(rest)
            else:
                self._store(item)

    def _store(self, p: _Pending) -> None:
        if not p.frames:
            return
        started = time.perf_counter()
        when = p.subject_at
        keep = p.keep_face and any(p.track_id in f.people for f in p.frames)
        frames = [
            ClipFrame(
                image=f.image,
                pts_s=f.pts_s,
                heads=f.heads,
                keep=(f.people[p.track_id],) if keep and p.track_id in f.people else (),
            )
            for f in p.frames
        ]
        try:
            stored = self._media.save_clip(
                clip_path(p.camera_id, p.clip_id, when),
                frames,
                kept_path=clip_path(p.camera_id, p.clip_id, when, kept=True) if keep else None,
                keep_faces=f"face candidate {p.subject_id}" if keep else None,
                max_side=self.cfg.max_side_px,
                crf=self.cfg.crf,
                camera_id=p.camera_id,
            )
        except (VigilError, ValueError) as exc:
            self.failed += 1
            if self.failed % 100 == 1:
                log.warning(
                    "camera %s: clip of %s not stored (%d so far): %s", p.camera_id, p.subject_id, self.failed, exc
                )
            return
        finally:
            self.encode_s += time.perf_counter() - started
        step = (p.frames[-1].pts_s - p.frames[0].pts_s) / max(1, len(p.frames) - 1)
        event = ClipRecorded(
            camera_id=p.camera_id,
            occurred_at=p.frames[0].at,
            subject_type="candidate" if p.subject_type == "candidate" else "crowd_alert",
            subject_id=p.subject_id,
            subject_at=p.subject_at,
            track_id=p.track_id,
            media=stored.path,
            media_kept=stored.kept_path,
            started_at=p.frames[0].at,
            ended_at=p.frames[-1].at + timedelta(seconds=step if len(p.frames) > 1 else 0.2),
            frames=stored.frames,
            width=stored.width,
            height=stored.height,
        )
        try:
            self._publish(event)
        except VigilError as exc:
            self.failed += 1
            log.warning("camera %s: clip %s stored but not announced: %s", p.camera_id, stored.path, exc)
            return
        self.stored += 1
