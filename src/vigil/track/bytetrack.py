"""ByteTrack from Roboflow's ``trackers``, one instance per class family.

ByteTrack is class-agnostic; running one tracker per class keeps a person box from
ever inheriting a car's id when the two overlap, and keeps counts by class honest. Classes a
detector wavers between for one object (car, bus, truck: :data:`vigil.core.classes.FAMILIES`)
share one tracker, so a vehicle called a car in one frame and a truck in the next stays one
track; each detection keeps the class it was given (the lifecycle votes the track's label).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from vigil.config.tracker import TrackerConfig
from vigil.core.classes import family_id
from vigil.core.detections import Detections

# ``trackers`` expresses its lost-track budget in 30 fps frames, whatever the real rate.
_TRACKERS_BUDGET_FPS = 30.0


class ObjectTracker:
    """Assigns stable ids to detections of one camera.

    Ids are unique across classes within one tracker instance (one camera run).
    """

    def __init__(self, config: TrackerConfig, analysis_fps: float, class_ids: Sequence[int]) -> None:
        self._config = config
        self._trackers: dict[int, ByteTrackTracker] = {
            cid: ByteTrackTracker(
                lost_track_buffer=max(1, round(config.lost_track_s * _TRACKERS_BUDGET_FPS)),
                frame_rate=analysis_fps,
                track_activation_threshold=config.activation_threshold,
                minimum_consecutive_frames=config.min_consecutive_frames,
                minimum_iou_threshold=config.min_iou,
                high_conf_det_threshold=max(config.activation_threshold, 0.5),
            )
            for cid in sorted({family_id(c) for c in class_ids})
        }
        self._class_ids = np.asarray(sorted(set(class_ids)), dtype=np.int64)
        # (family id, that tracker's local id) -> id unique within this ObjectTracker
        self._ids: dict[tuple[int, int], int] = {}

    def update(self, detections: Detections, t_s: float) -> Detections:
        """Track one frame's detections.

        Args:
            detections: this frame's detections (tracker_id ignored).
            t_s: the frame's time in seconds; may advance irregularly (sampling, motion gate).

        Returns:
            The detections that belong to confirmed tracks, with ``tracker_id`` set (>= 1).
        """
        parts: list[Detections] = []
        families = np.fromiter((family_id(int(c)) for c in detections.class_id), np.int64, len(detections))
        wanted = np.isin(detections.class_id, self._class_ids)
        for cid, tracker in self._trackers.items():
            mine = detections.select((families == cid) & wanted)
            sv_dets = sv.Detections(
                xyxy=mine.xyxy.astype(np.float32),
                confidence=mine.confidence.astype(np.float32),
                class_id=mine.class_id.astype(int),
            )
            out = tracker.update(sv_dets, timestamp=t_s)
            if len(out) == 0:
                continue
            tid = np.asarray(out.tracker_id, dtype=np.int64)
            keep = tid >= 0
            if not keep.any():
                continue
            global_ids = np.array([self._global_id(cid, int(t)) for t in tid[keep]], dtype=np.int64)
            conf = out.confidence if out.confidence is not None else np.ones(len(out), np.float32)
            parts.append(
                Detections(
                    xyxy=np.asarray(out.xyxy)[keep],
                    confidence=np.asarray(conf)[keep],
                    class_id=np.asarray(out.class_id, dtype=np.int64)[keep],
                    tracker_id=global_ids,
                )
            )
        if not parts:
            return Detections.empty()
        return Detections(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]),
        )

    def _global_id(self, class_id: int, local_id: int) -> int:
        key = (class_id, local_id)
        if key not in self._ids:
            self._ids[key] = len(self._ids) + 1
        return self._ids[key]
