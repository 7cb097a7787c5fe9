"""One camera's analysis: frame → detections → tracks → events (+ best snapshots).

This is the journey of one frame through the stages, in order; it knows nothing about
threads, buses or how it is deployed. The caller publishes the events it returns.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from vigil.config.tracker import TrackerConfig
from vigil.core.classes import COCO_NAMES
from vigil.core.detections import Detections
from vigil.core.errors import VigilError
from vigil.core.frame import BGRImage, Frame
from vigil.core.ids import new_id
from vigil.detect.regions import RegionChooser
from vigil.events import AnyEvent, BoundingBox, CandidateRaised, TrackEnded, TrackStarted, TrackUpdated
from vigil.governance.redaction import RegionBox
from vigil.store.media import MediaStore, snapshot_path
from vigil.track import ObjectTracker, TrackChange, TrackLifecycle
from vigil.workers.snapshots import PendingSnapshot, write_snapshot
from vigil.workers.stages import FrameStage, StageInput

log = logging.getLogger(__name__)

PERSON = COCO_NAMES.index("person")
HEAD_SHARE = 0.25
"""The top quarter of a person's box is their head (the live view's and the clips' rule)."""
HEAD_SIDE = 0.1
"""Share of the box's width added on each side of the head region."""


def bystander_head(box: tuple[float, float, float, float]) -> RegionBox:
    """The head region of a person snapshot: from the crop's top (the margin above the box,
    where a head cut by the box's edge is) down to the top quarter of the box."""
    x1, y1, x2, y2 = box
    side = HEAD_SIDE * (x2 - x1)
    return (x1 - side, 0.0, x2 + side, y1 + HEAD_SHARE * (y2 - y1))


class Detector(Protocol):
    """What the pipeline needs of a detector (YOLO on ONNX Runtime, or OpenCV's importer)."""

    @property
    def class_names(self) -> tuple[str, ...]: ...

    def detect(self, image: BGRImage) -> Detections: ...


@dataclass(slots=True)
class FrameResult:
    """What one analysed frame produced.

    Attributes:
        keep_regions: person boxes, in this frame, of tracks that raised a face candidate:
            the only places a stored scene frame may keep a face (every other face is blurred).
        track_ids: for each row of ``tracked``, the track id used in events.
    """

    detections: Detections
    tracked: Detections
    events: list[AnyEvent] = field(default_factory=list)
    keep_regions: list[tuple[float, float, float, float]] = field(default_factory=list)
    track_ids: tuple[str, ...] = ()


class CameraPipeline:
    """Detect, track and report for one camera."""

    def __init__(
        self,
        camera_id: str,
        detector: Detector,
        tracker_config: TrackerConfig,
        analysis_fps: float,
        class_ids: tuple[int, ...],
        media: MediaStore | None,
        stages: Sequence[FrameStage] = (),
        regions: RegionChooser | None = None,
        defer_snapshots: bool = False,
    ) -> None:
        self.camera_id = camera_id
        self._detector = detector
        # Motion-region detection (detector.motion_regions): only for a detector that can crop.
        self.regions = regions if hasattr(detector, "detect_regions") else None
        self._live_xyxy = Detections.empty().xyxy
        self._last: FrameResult | None = None
        self._tracker = ObjectTracker(tracker_config, analysis_fps, class_ids)
        self._lifecycle = TrackLifecycle(tracker_config.lost_track_s, tracker_config.update_interval_s)
        self._media = media
        self._stages = tuple(stages)
        # A short run id keeps track ids unique when a camera restarts.
        self._run = new_id().replace("-", "")[-8:]
        self.tracks_by_class: Counter[str] = Counter()
        self.events_emitted = 0
        self.snapshots_failed = 0
        # Live cameras hand snapshots to the box's writer (workers/snapshots.py): redacting one
        # here stalls the camera. Their track.ended events wait in take_snapshots() meanwhile.
        self._defer_snapshots = defer_snapshots
        self._pending: list[PendingSnapshot] = []
        # Live tracks that raised a face candidate: their snapshot keeps its faces for review.
        self._face_candidates: set[str] = set()

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._detector.class_names

    @property
    def media(self) -> MediaStore | None:
        return self._media

    def process(self, frame: Frame) -> FrameResult:
        """Analyse one frame and return its detections, tracks and events."""
        crops = None
        # With faces, plates or crowd on every analysed frame is detected: what fewer looks at a
        # track would cost them is not measured.
        if self.regions is not None and self._last is not None and not self._stages:
            moved = (frame.width, frame.height, frame.pts_s, frame.motion_box, self._live_xyxy, frame.motion_parts)
            if self.regions.skip(*moved):
                # Nothing moved but the tracked objects: they carry over this frame (their last
                # boxes; the tracker sees the next detected frame).
                return dataclasses.replace(self._last, detections=Detections.empty(), events=[])
        if self.regions is not None:
            crops = self.regions.choose(
                frame.width, frame.height, frame.pts_s, frame.motion_box, self._live_xyxy, frame.motion_parts
            )
        if crops is None:
            detections = self._detector.detect(frame.image)
        else:
            detections = self._detector.detect_regions(frame.image, crops)  # type: ignore[attr-defined]
        tracked = self._tracker.update(detections, frame.pts_s)
        self._live_xyxy = tracked.xyxy
        changes = self._lifecycle.observe(frame, tracked)
        track_ids = tuple(self._track_id(int(k)) for k in tracked.tracker_id)
        # The stages run before the track events are built: a track that ends with a face
        # candidate (searched at its end) must be known before its snapshot is written.
        stage_events: list[AnyEvent] = []
        if self._stages:
            inp = StageInput(
                frame=frame,
                tracked=tracked,
                track_ids=track_ids,
                class_names=self.class_names,
                ended=tuple(self._track_id(c.track.key) for c in changes if c.kind == "ended"),
            )
            for stage in self._stages:
                stage_events.extend(stage.process(inp))
        self._note_face_candidates(stage_events)
        events = [e for c in changes if (e := self._to_event(c)) is not None] + stage_events
        self.events_emitted += len(events)
        keep = [
            (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
            for b, tid in zip(tracked.xyxy, track_ids, strict=True)
            if tid in self._face_candidates
        ]
        self._last = FrameResult(
            detections=detections, tracked=tracked, events=events, keep_regions=keep, track_ids=track_ids
        )
        return self._last

    def finish(self) -> list[AnyEvent]:
        """End every live track (end of recording, camera stopped or shutting down)."""
        changes = self._lifecycle.close_all()
        stage_events = [e for stage in self._stages for e in stage.finish()]
        self._note_face_candidates(stage_events)
        events = [e for c in changes if (e := self._to_event(c)) is not None] + stage_events
        self._face_candidates.clear()
        self._last = None
        self.events_emitted += len(events)
        return events

    def take_snapshots(self) -> list[PendingSnapshot]:
        """The snapshots (with their ``track.ended`` events) deferred since the last call, for
        the writer; empty unless ``defer_snapshots``. Their events are in no ``FrameResult``."""
        out, self._pending = self._pending, []
        self.events_emitted += len(out)
        return out

    def _note_face_candidates(self, events: Sequence[AnyEvent]) -> None:
        for e in events:
            if isinstance(e, CandidateRaised) and e.kind == "face" and e.track_id is not None:
                self._face_candidates.add(e.track_id)

    def _track_id(self, key: int) -> str:
        return f"{self.camera_id}-{self._run}-{key}"

    def _to_event(self, change: TrackChange) -> AnyEvent | None:
        """The event for ``change``; None for a ``track.ended`` deferred with its snapshot."""
        st = change.track
        class_name = self.class_names[st.class_id]
        common = {
            "camera_id": self.camera_id,
            "occurred_at": change.at,
            "track_id": self._track_id(st.key),
            "class_name": class_name,
            "box": BoundingBox(x1=st.box[0], y1=st.box[1], x2=st.box[2], y2=st.box[3]),
            "confidence": min(1.0, max(0.0, st.confidence)),
            "frame_index": st.frame_index,
        }
        if change.kind == "started":
            return TrackStarted.model_validate(common)
        if change.kind == "updated":
            return TrackUpdated.model_validate(common)
        # Counted when it ends, under the class it was most often called (a vehicle seen as a
        # car and then a truck is one track, one count).
        self.tracks_by_class[class_name] += 1
        event_id = new_id()
        ended = TrackEnded.model_validate(
            {
                **common,
                "event_id": event_id,
                "first_seen": st.first_seen,
                "last_seen": st.last_seen,
                "n_observations": st.n_observations,
                "best_confidence": min(1.0, st.best_confidence),
                "snapshot": None,
            }
        )
        job = self._snapshot_job(ended, change)
        if job is None:
            return ended
        if self._defer_snapshots:
            self._pending.append(job)
            return None
        return self._write_now(job)

    def _snapshot_job(self, ended: TrackEnded, change: TrackChange) -> PendingSnapshot | None:
        """What to write for ``change``'s snapshot (None: nothing to write). The crop is
        released from the track here: it lives only until it is written."""
        crop = change.track.best_crop
        change.track.best_crop = None
        track_id = ended.track_id
        candidate = track_id in self._face_candidates
        self._face_candidates.discard(track_id)
        if self._media is None or crop is None or crop.size <= 3:
            return None
        box = change.track.best_crop_box
        bystander = not candidate and change.track.class_id == PERSON and box is not None
        return PendingSnapshot(
            event=ended,
            crop=crop,
            rel_path=snapshot_path(self.camera_id, ended.event_id, change.at),
            keep_faces=f"face candidate on track {track_id}" if candidate else None,
            head=bystander_head(box) if bystander and box is not None else None,
        )

    def _write_now(self, job: PendingSnapshot) -> TrackEnded:
        assert self._media is not None
        try:
            return write_snapshot(self._media, job)
        except VigilError as exc:
            # A full disk must not stop detection; the event is still stored, without media.
            # One line for the first failure and every hundredth, not one per track.
            self.snapshots_failed += 1
            if self.snapshots_failed % 100 == 1:
                log.warning("camera %s: snapshot not saved (%d so far): %s", self.camera_id, self.snapshots_failed, exc)
            return job.event
