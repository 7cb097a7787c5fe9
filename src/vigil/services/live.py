"""The live view: each camera's newest analysed frame as a JPEG, faces blurred unless the
viewer's role may see them, and every watch recorded (who, which camera, from when to when).

Frames come from a :class:`~vigil.workers.live_frames.FrameSource` and are never written:
the JPEG of a camera's newest frame is kept in memory (one redacted and one clear copy per
served width at most) so that many viewers of one camera cost one encoding.

A page asks for the width it shows a frame at (``width``, rounded up to one of
:data:`SERVED_WIDTHS`): the frame is shrunk to that width *before* redaction, so a grid tile
costs a quarter of a full frame's pixels, and what is searched for faces is exactly what is
served (a face is judged at the size the viewer gets it). A frame is never enlarged.

Redaction uses the one :class:`~vigil.governance.redactor.Redactor` with a profile a live
frame rate allows (:func:`live_redactor`): YuNet at the served size, plus the head of
every person the pipeline is tracking in that frame, so a face too small for YuNet at that
size is still covered. The full write-time profile
(five scales and a Haar cascade, a second or more per frame here) is for what is kept.

Watching is audited as two records, not one per frame: ``live.watch`` when a person's first
frame of a camera is served, ``live.watch_end`` (with ``since``, ``until``, ``frames``) once
no frame of it has been asked for in :data:`WATCH_IDLE_S` (the page closed) or the server
stops. A refused camera is recorded as ``access.denied`` (attempted ``live.watch``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.config import VigilConfig
from vigil.core.classes import COCO_NAMES
from vigil.core.clock import utcnow
from vigil.core.detections import Detections
from vigil.core.errors import ModelError
from vigil.governance.plate_regions import PlateRegions, plates_blurred, plates_wanted
from vigil.governance.redaction import RegionBox, blur_all
from vigil.governance.redactor import FaceRegions, Redactor
from vigil.models.install import require as require_model
from vigil.services.actor import Actor
from vigil.services.recorder import Recorder
from vigil.store.facade import Store
from vigil.workers.annotate import draw_tracks
from vigil.workers.live_frames import FrameSource, LiveFrame

log = logging.getLogger(__name__)

WATCH = "live.watch"
WATCH_END = "live.watch_end"
WATCH_IDLE_S = 8.0
"""A watch ends this long after its last frame was asked for (the page polls every ~0.3 s)."""
LIVE_SCALES = (1.0,)
"""YuNet's search scales on a live frame: the frame as it is (~0.09 s for 768x432 on a busy
2-core machine; x2 costs five times that, too slow for two frames a second). Faces too small
for YuNet at that size are covered by the heads of tracked people (:func:`person_heads`)."""
LIVE_PLATE_ONE_SCALE_PX = 640
"""Live frames served this wide or narrower are searched for plate rows at one scale (a grid
tile: 18 ms instead of 45 ms at 384 px here, load ~20; docs/redaction.md)."""
HEAD_SHARE = 0.25
"""The top quarter of a tracked person's box is blurred as their head, whatever YuNet finds."""
HEAD_ABOVE = 0.05
PERSON = COCO_NAMES.index("person")
JPEG_QUALITY = 80
SERVED_WIDTHS = (320, 384, 480, 640, 960, 1280, 1920)
"""The widths a frame is served at: the width a page asks for is rounded up to the next of
these (a 16-camera grid on a 1920 px screen: 384), so one camera has a few cached copies at
most, whatever its viewers' windows; wider than the largest (or no width) is the frame as it is."""


def served_width(asked: int | None, frame_width: int) -> int:
    """The width a frame ``frame_width`` wide is served at when a page asks for ``asked``
    pixels: the next of :data:`SERVED_WIDTHS` up, never wider than the frame itself."""
    if asked is None or asked <= 0:
        return frame_width
    for width in SERVED_WIDTHS:
        if width >= asked:
            return min(width, frame_width)
    return frame_width


def shrink(image: NDArray[np.uint8], tracked: Detections, width: int) -> tuple[NDArray[np.uint8], Detections]:
    """``image`` and its tracked boxes scaled to ``width`` (the image as it is when not wider)."""
    h, w = image.shape[:2]
    if width >= w:
        return image, tracked
    scale = width / w
    small = np.asarray(cv2.resize(image, (width, max(1, round(h * scale))), interpolation=cv2.INTER_AREA), np.uint8)
    return small, replace(tracked, xyxy=tracked.xyxy * np.float32(scale))


def person_heads(tracked: Detections) -> list[RegionBox]:
    """The head region of every tracked person: the top :data:`HEAD_SHARE` of the box across
    its width, from a little above it (a box cut at the crown)."""
    heads: list[RegionBox] = []
    for (x1, y1, x2, y2), cls in zip(tracked.xyxy.tolist(), tracked.class_id.tolist(), strict=True):
        if cls != PERSON:
            continue
        h = y2 - y1
        heads.append((x1, y1 - HEAD_ABOVE * h, x2, y1 + HEAD_SHARE * h))
    return heads


LiveRedact = Callable[[NDArray[np.uint8], Detections, str], NDArray[np.uint8]]
"""Given a live frame, its tracked boxes and its camera, the frame with every face blurred
(and every plate, where the camera's policy says)."""


def live_redactor(cfg: VigilConfig) -> LiveRedact:
    """The live profile of the deployment's redactor; where YuNet is missing, every frame is
    blurred whole (fail closed). Plates, where policy says, are found by the character-row
    search at the served size (the plate detector, where chosen, costs ~0.5 s a frame here:
    too slow for a live rate; docs/redaction.md)."""
    red = cfg.governance.redaction
    try:
        faces = FaceRegions(require_model(cfg.resolved_models_dir, "yunet"), red, scales=LIVE_SCALES)
    except ModelError as exc:
        log.warning("live view: faces cannot be found, so frames are blurred whole for viewers: %s", exc)
        return lambda image, _tracked, _camera: blur_all(image)
    plates = None
    if plates_wanted(cfg):
        plates = PlateRegions(None, red.plate_margin, one_scale_up_to_px=LIVE_PLATE_ONE_SCALE_PX)

    def redact(image: NDArray[np.uint8], tracked: Detections, camera_id: str) -> NDArray[np.uint8]:
        heads = person_heads(tracked)
        return Redactor(
            [faces, lambda _img: heads], passes=1, plates=plates, plate_policy=lambda cam: plates_blurred(cfg, cam)
        )(image, camera_id=camera_id)

    return redact


@dataclass
class _Watch:
    actor: Actor
    camera_id: str
    since: datetime
    clear: bool
    last: float
    last_at: datetime
    frames: int = 0


@dataclass(frozen=True, slots=True)
class Encoded:
    """One camera frame as served."""

    seq: int
    jpeg: bytes
    age_s: float


@dataclass
class LiveView:
    """Frames for the live pages, their redaction and the watch records."""

    store: Store
    source: FrameSource | None
    redact: LiveRedact
    idle_s: float = WATCH_IDLE_S
    _encoded: dict[tuple[str, bool, int], Encoded] = field(default_factory=dict)
    _locks: dict[tuple[str, bool, int], threading.Lock] = field(default_factory=dict)
    _watches: dict[tuple[str, str], _Watch] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _reaper: threading.Thread | None = None
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        """True when this process has a frame source (the pipeline runs beside the server)."""
        return self.source is not None

    def frame(self, actor: Actor, camera_id: str, width: int | None = None) -> Encoded | None:
        """The newest frame of ``camera_id`` for ``actor``, ``width`` pixels wide at most
        (rounded up by :func:`served_width`): faces blurred unless the role may see footage
        unredacted. None while the camera has produced no frame.

        Raises:
            AccessDeniedError: the role may not see footage, or the camera is out of scope
                (recorded as ``access.denied`` first).
        """
        Recorder(self.store, actor).allow("media.read", camera_id=camera_id, object_type="camera",
                                          object_id=camera_id, asked=WATCH)  # fmt: skip
        clear = actor.can("media.unredacted")
        latest = None if self.source is None else self.source.latest(camera_id)
        if latest is None:
            return None  # nothing shown, so nothing watched
        encoded = self._encode(latest, clear, served_width(width, latest.image.shape[1]))
        self._touch(actor, camera_id, clear)
        return encoded

    def _encode(self, latest: LiveFrame, clear: bool, width: int) -> Encoded:
        key = (latest.camera_id, clear, width)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # many viewers of one camera: the first encodes, the rest reuse it
            done = self._encoded.get(key)
            if done is None or done.seq != latest.seq:
                # Shrunk first: redaction costs by the pixel, and finds faces at the size served.
                image, tracked = shrink(latest.image, latest.tracked, width)
                if not clear:
                    image = self.redact(image, tracked, latest.camera_id)
                drawn = draw_tracks(image, tracked, COCO_NAMES)
                ok, data = cv2.imencode(".jpg", drawn, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                if not ok:  # pragma: no cover - encoding a valid array does not fail
                    raise ValueError("a live frame could not be encoded")
                done = Encoded(latest.seq, bytes(data.tobytes()), 0.0)
                self._encoded[key] = done
        return Encoded(done.seq, done.jpeg, max(0.0, time.monotonic() - latest.at))

    # -- watch records -------------------------------------------------------------------------

    def _touch(self, actor: Actor, camera_id: str, clear: bool) -> None:
        key = (actor.username, camera_id)
        now = time.monotonic()
        with self._guard:
            watch = self._watches.get(key)
            if watch is not None:
                watch.last, watch.last_at, watch.frames = now, utcnow(), watch.frames + 1
                return
            started = utcnow()
            watch = _Watch(actor, camera_id, started, clear, now, started, 1)
            self._watches[key] = watch
            self._start_reaper()
        Recorder(self.store, actor).read(WATCH, object_type="camera", object_id=camera_id, camera_id=camera_id,
                                         redacted=not clear)  # fmt: skip

    def _start_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap_until_stopped, name="live-watch-reaper", daemon=True)
            self._reaper.start()

    def _reap_until_stopped(self) -> None:
        while not self._stopped.wait(1.0):
            try:
                self.end_idle()
            except Exception:  # the reaper must outlive a database hiccup; the next pass retries
                log.exception("live view: recording the end of a watch failed")

    def end_idle(self, *, everything: bool = False) -> int:
        """Record the end of every watch idle for ``idle_s`` (all of them with ``everything``)."""
        now = time.monotonic()
        with self._guard:
            ended = [k for k, w in self._watches.items() if everything or now - w.last >= self.idle_s]
            watches = [self._watches.pop(k) for k in ended]
        for w in watches:
            Recorder(self.store, w.actor).read(
                WATCH_END, object_type="camera", object_id=w.camera_id, camera_id=w.camera_id,
                since=w.since.isoformat(), until=w.last_at.isoformat(), frames=w.frames, redacted=not w.clear,
                ended="server stopped" if everything else f"no frame asked for in {now - w.last:.0f} s",
            )  # fmt: skip
        return len(watches)

    def close(self) -> None:
        """End every open watch (the server is stopping) and the reaper."""
        self._stopped.set()
        self.end_idle(everything=True)
