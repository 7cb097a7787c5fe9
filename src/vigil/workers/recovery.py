"""Starting again after a process was killed (kill -9, power cut, OOM killer) mid-run.

A clean shutdown ends every track and says a recording is finished; a killed process says
nothing. So before a camera's first frame:

* every track of that camera still open in the store is ended, with the reason, so nothing
  stays "live" forever (:func:`end_orphaned_tracks`);
* a recording (a file camera) is looked up by its fingerprint: one analysed completely is
  refused by ``vigil analyze`` (``--again`` analyses it anew) and skipped by ``vigil run``; one
  analysed partly resumes after the last frame whose events were stored
  (:func:`recording_plan`), so no track is created twice.

Progress is itself an event (``camera.recording``), published on the worker thread after the
events of the frames it covers: the bus keeps one order per subscriber, so once the progress
event is stored, so is everything before it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from vigil.bus.base import EventBus
from vigil.config import CameraConfig
from vigil.core.clock import utcnow
from vigil.core.errors import InputError
from vigil.events import BoundingBox, RecordingProgress, TrackEnded
from vigil.store.facade import Store
from vigil.store.records import TrackRecord

log = logging.getLogger(__name__)

_ENDS_BYTES = 1 << 20
ORPHANS_PER_PAGE = 500

OnAnalysed = Literal["refuse", "skip", "again"]
"""What to do with a recording analysed completely before: refuse (``vigil analyze``), skip the
camera (``vigil run``), or analyse it anew (``--again``)."""


def recording_path(cam: CameraConfig) -> Path | None:
    """The file of a recording camera, or None for a live source (RTSP, HTTP, a device)."""
    url = cam.url.removeprefix("file://")
    if "://" in url:
        return None
    path = Path(url)
    return path if path.is_file() else None


def fingerprint(path: Path) -> str:
    """``<size>:<sha256 of the first and last MiB>``: the same file wherever it is, in
    milliseconds even for hours of video."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        digest.update(fh.read(_ENDS_BYTES))
        if size > _ENDS_BYTES:
            fh.seek(max(_ENDS_BYTES, size - _ENDS_BYTES))
            digest.update(fh.read(_ENDS_BYTES))
    return f"{size}:{digest.hexdigest()}"


@dataclass(frozen=True, slots=True)
class RecordingPlan:
    """What a run does with one recording camera."""

    recording: str
    fingerprint: str
    skip: bool = False
    resume_after_s: float | None = None
    resume_after_frame: int = -1
    previous: RecordingProgress | None = None


def latest_progress(store: Store, camera_id: str, fp: str) -> RecordingProgress | None:
    """The newest stored progress of recording ``fp`` on ``camera_id``."""
    for event in store.events.search(camera_id=camera_id, type="camera.recording", newest_first=True, limit=200):
        if isinstance(event, RecordingProgress) and event.fingerprint == fp:
            return event
    return None


def recording_plan(store: Store, cam: CameraConfig, on_analysed: OnAnalysed) -> RecordingPlan | None:
    """Resume, refuse or skip a recording camera after looking at what earlier runs stored.

    Returns:
        None for a live camera; a plan for a recording.

    Raises:
        InputError: ``on_analysed="refuse"`` and the recording was analysed completely.
    """
    path = recording_path(cam)
    if path is None:
        return None
    fp = fingerprint(path)
    previous = latest_progress(store, cam.id, fp)
    if previous is None or on_analysed == "again":
        return RecordingPlan(str(path), fp, previous=previous)
    if previous.finished:
        when = previous.occurred_at.strftime("%Y-%m-%d %H:%M UTC")
        if on_analysed == "refuse":
            raise InputError(
                f"{path} was analysed completely on {when} (camera {cam.id}); analysing it again would store "
                "every track twice: pass --again to analyse it anew"
            )
        log.warning("camera %s: %s was analysed completely on %s; skipped", cam.id, path, when)
        return RecordingPlan(str(path), fp, skip=True, previous=previous)
    log.warning(
        "camera %s: the run analysing %s stopped at %.1f s without shutting down; resuming after it",
        cam.id,
        path,
        previous.analysed_until_s,
    )
    return RecordingPlan(
        str(path),
        fp,
        resume_after_s=previous.analysed_until_s,
        resume_after_frame=previous.last_frame_index,
        previous=previous,
    )


def orphan_ended(
    store: Store, track: TrackRecord, at: datetime, reason: str, event_id: str | None = None
) -> TrackEnded:
    """The ``track.ended`` a track never got (its process died), saying why in ``end_reason``."""
    last = store.events.search(track_id=track.track_id, newest_first=True, limit=1)
    box = getattr(last[0], "box", None) if last else None
    frame_index = getattr(last[0], "frame_index", 0) if last else 0
    fixed_id = {} if event_id is None else {"event_id": event_id}
    return TrackEnded(
        **fixed_id,
        camera_id=track.camera_id,
        occurred_at=max(at, track.last_seen),
        track_id=track.track_id,
        class_name=track.class_name,
        box=box if isinstance(box, BoundingBox) else BoundingBox(x1=0, y1=0, x2=0, y2=0),
        confidence=track.best_confidence,
        frame_index=int(frame_index),
        first_seen=track.first_seen,
        last_seen=track.last_seen,
        n_observations=max(1, track.n_observations),
        best_confidence=track.best_confidence,
        end_reason=reason,
    )


def end_orphaned_tracks(store: Store, bus: EventBus, camera_id: str, now: datetime | None = None) -> int:
    """End every track of ``camera_id`` the store still holds open, saying why. Returns how many.

    Called before the camera starts, by the one process that runs it: a track that is open
    then was left by a process that did not shut down.
    """
    at = now or utcnow()
    ended = 0
    while True:
        open_tracks = store.tracks.list(camera_id=camera_id, ended=False, limit=ORPHANS_PER_PAGE)
        if not open_tracks:
            return ended
        for track in open_tracks:
            reason = (
                f"orphaned: the process analysing camera {camera_id} stopped without ending this track; "
                f"ended when the camera was started again at {at.isoformat(timespec='seconds')}"
            )
            bus.publish(orphan_ended(store, track, at, reason))
            ended += 1
        # The store folds the ended events as they arrive; wait for them before looking again.
        flush = getattr(bus, "flush", None)
        if callable(flush):
            flush(60.0)
        if len(open_tracks) < ORPHANS_PER_PAGE:
            return ended
