"""One camera's analysis: frame → detections → tracks → events (+ best snapshots).

This is the journey of one frame through the stages, in order; it knows nothing about
threads, buses or how it is deployed. The caller publishes the events it returns.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from vigil.config.tracker import TrackerConfig
from vigil.core.detections import Detections
from vigil.core.errors import VigilError
from vigil.core.frame import BGRImage, Frame
from vigil.core.ids import new_id
from vigil.events import AnyEvent, BoundingBox, TrackEnded, TrackStarted, TrackUpdated
from vigil.store.media import MediaStore, snapshot_path
from vigil.track import ObjectTracker, TrackChange, TrackLifecycle
from vigil.workers.stages import FrameStage, StageInput

log = logging.getLogger(__name__)


class Detector(Protocol):
    """What the pipeline needs of a detector (YOLO on ONNX Runtime, or OpenCV's importer)."""

    @property
    def class_names(self) -> tuple[str, ...]: ...

    def detect(self, image: BGRImage) -> Detections: ...


@dataclass(slots=True)
class FrameResult:
    """What one analysed frame produced."""

    detections: Detections
    tracked: Detections
    events: list[AnyEvent] = field(default_factory=list)


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
    ) -> None:
        self.camera_id = camera_id
        self._detector = detector
        self._tracker = ObjectTracker(tracker_config, analysis_fps, class_ids)
        self._lifecycle = TrackLifecycle(tracker_config.lost_track_s, tracker_config.update_interval_s)
        self._media = media
        self._stages = tuple(stages)
        # A short run id keeps track ids unique when a camera restarts.
        self._run = new_id().replace("-", "")[-8:]
        self.tracks_by_class: Counter[str] = Counter()
        self.events_emitted = 0

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._detector.class_names

    def process(self, frame: Frame) -> FrameResult:
        """Analyse one frame and return its detections, tracks and events."""
        detections = self._detector.detect(frame.image)
        tracked = self._tracker.update(detections, frame.pts_s)
        changes = self._lifecycle.observe(frame, tracked)
        events = [self._to_event(c) for c in changes]
        if self._stages:
            inp = StageInput(
                frame=frame,
                tracked=tracked,
                track_ids=tuple(self._track_id(int(k)) for k in tracked.tracker_id),
                class_names=self.class_names,
                ended=tuple(self._track_id(c.track.key) for c in changes if c.kind == "ended"),
            )
            for stage in self._stages:
                events.extend(stage.process(inp))
        self.events_emitted += len(events)
        return FrameResult(detections=detections, tracked=tracked, events=events)

    def finish(self) -> list[AnyEvent]:
        """End every live track (end of recording, camera stopped or shutting down)."""
        events = [self._to_event(c) for c in self._lifecycle.close_all()]
        for stage in self._stages:
            events.extend(stage.finish())
        self.events_emitted += len(events)
        return events

    def _track_id(self, key: int) -> str:
        return f"{self.camera_id}-{self._run}-{key}"

    def _to_event(self, change: TrackChange) -> AnyEvent:
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
            self.tracks_by_class[class_name] += 1
            return TrackStarted.model_validate(common)
        if change.kind == "updated":
            return TrackUpdated.model_validate(common)
        event_id = new_id()
        snapshot = self._save_snapshot(event_id, change)
        return TrackEnded.model_validate(
            {
                **common,
                "event_id": event_id,
                "first_seen": st.first_seen,
                "last_seen": st.last_seen,
                "n_observations": st.n_observations,
                "best_confidence": min(1.0, st.best_confidence),
                "snapshot": snapshot,
            }
        )

    def _save_snapshot(self, event_id: str, change: TrackChange) -> str | None:
        crop = change.track.best_crop
        change.track.best_crop = None  # the crop lives only until it is written
        if self._media is None or crop is None or crop.size <= 3:
            return None
        rel = snapshot_path(self.camera_id, event_id, change.at)
        try:
            return self._media.save_jpeg(rel, crop)
        except VigilError as exc:
            # A full disk must not stop detection; the event is still stored, without media.
            log.warning("camera %s: snapshot not saved: %s", self.camera_id, exc)
            return None
