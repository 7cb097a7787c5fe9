"""The faces stage: the few best frames of each person track → face → watchlist candidates.

Per person track it keeps, in memory only, the ``frames_per_track`` best head crops (by
person-box size, detector confidence and sharpness). They are searched once the track has
lived ``decide_after_s`` (so a lingering person is not reported late) and again at its end if
no face was found the first time: at most ``2 x frames_per_track`` face searches per track.
Crops are dropped as soon as they are searched; only the probe crop of a *match* is written.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.config import CameraConfig, VigilConfig
from vigil.core.errors import InputError, VigilError
from vigil.events import AnyEvent, CandidateRaised
from vigil.events.candidates import CandidateFlag
from vigil.events.faces import FaceSearchSummary
from vigil.faces import FacePipeline
from vigil.models.install import require
from vigil.recognise import Gallery, Sighting, impossible_travel
from vigil.store.facade import Store
from vigil.store.faces import CalibrationRecord
from vigil.store.media import MediaStore
from vigil.store.policies import FACE_THRESHOLD, PolicyRecord
from vigil.workers.stages import FrameStage, StageContext, StageInput

log = logging.getLogger(__name__)

FACES_FEATURE = "faces"
MAX_SEARCH_ROUNDS = 2
_PROBE_MARGIN = 0.35


def load_face_pipeline(cfg: VigilConfig) -> FacePipeline:
    """YuNet + SFace from the models directory; ModelMissingError names the install command."""
    models = cfg.resolved_models_dir
    return FacePipeline.load(require(models, "yunet"), require(models, "sface"), cfg.faces)


@dataclass(frozen=True, slots=True)
class ActiveThreshold:
    """The threshold in force and where it came from.

    Attributes:
        false_match_rate: measured at this threshold (a calibration); None when it was set by
            hand (the ``faces.threshold`` policy) or is the uncalibrated default.
        calibration_id: the calibration behind it, if any.
        source: ``calibration``, ``policy`` or ``default``.
    """

    threshold: float
    false_match_rate: float | None
    calibration_id: str | None
    source: Literal["calibration", "policy", "default"] = "default"


def threshold_in_force(
    cfg: VigilConfig, calibration: CalibrationRecord | None, policy: PolicyRecord | None
) -> ActiveThreshold:
    """The newer of the active calibration and the ``faces.threshold`` policy, else the default.

    Both are threshold changes recorded as ``policy.change`` of ``faces.threshold``; the last one
    made is in force, so a recalibration replaces a value set by hand and the other way round.
    """
    by_hand = policy is not None and isinstance(policy.value, int | float) and not isinstance(policy.value, bool)
    if policy is not None and by_hand and (calibration is None or policy.updated_at >= calibration.created_at):
        return ActiveThreshold(float(policy.value), None, None, "policy")
    if calibration is not None:
        return ActiveThreshold(
            calibration.threshold, calibration.measured_fmr, calibration.calibration_id, "calibration"
        )
    return ActiveThreshold(cfg.faces.uncalibrated_threshold, None, None, "default")


def active_threshold(store: Store, cfg: VigilConfig, embedder: str | None) -> ActiveThreshold:
    """The threshold the matcher uses now (see :func:`threshold_in_force`). A worker's ``store``
    answers both reads from its copy of the lists bucket (``workers/scale_lists.py``)."""
    return threshold_in_force(
        cfg, store.faces.active_calibration(embedder), store.governance.policies.get(FACE_THRESHOLD)
    )


@dataclass(slots=True)
class _Shot:
    quality: float
    head: NDArray[np.uint8]
    origin: tuple[int, int]
    at: datetime


@dataclass(slots=True)
class _TrackFaces:
    first_pts: float
    shots: list[_Shot] = field(default_factory=list)
    rounds: int = 0
    done: bool = False


@dataclass(slots=True)
class _Best:
    score: float
    subject_id: str
    reference_media: str
    probe: NDArray[np.uint8]
    at: datetime


def _head_region(box: NDArray[np.float32], shape: tuple[int, ...], fraction: float) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    fx1, fx2 = x1 - 0.1 * w, x2 + 0.1 * w
    fy1, fy2 = y1 - 0.05 * h, y1 + fraction * h
    img_h, img_w = shape[:2]
    return (max(0, int(fx1)), max(0, int(fy1)), min(img_w, math.ceil(fx2)), min(img_h, math.ceil(fy2)))


def _crop_sharpness(crop: NDArray[np.uint8]) -> float:
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    if grey.shape[1] > 96:
        grey = cv2.resize(grey, (96, max(1, round(grey.shape[0] * 96 / grey.shape[1]))), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


class FacesStage:
    """Watchlist search on person tracks for one camera."""

    name = FACES_FEATURE

    def __init__(
        self,
        cfg: VigilConfig,
        camera: CameraConfig,
        pipeline: FacePipeline,
        store: Store,
        media: MediaStore,
    ) -> None:
        self._cfg = cfg
        self._fc = cfg.faces
        self._camera = camera
        self._pipeline = pipeline
        self._store = store
        self._media = media
        self._tracks: dict[str, _TrackFaces] = {}
        self._gallery = Gallery([], pipeline.embedder.dim)
        self._threshold = ActiveThreshold(self._fc.uncalibrated_threshold, None, None)
        self._loaded_at = -math.inf
        self._positions = {c.id: c.position for c in cfg.cameras if c.position is not None}
        self._last_seen: dict[str, Sighting] = {}
        self.counters: Counter[str] = Counter()
        self.refresh()

    @property
    def gallery(self) -> Gallery:
        return self._gallery

    def refresh(self) -> None:
        """Reload the watchlist and the active threshold (enrolments, removals, recalibration)."""
        self._gallery = self._store.faces.gallery(self._pipeline.embedder.name, self._pipeline.embedder.dim)
        self._threshold = active_threshold(self._store, self._cfg, self._pipeline.embedder.name)
        self._loaded_at = time.monotonic()

    # -- FrameStage ------------------------------------------------------------------------

    def process(self, inp: StageInput) -> list[AnyEvent]:
        if time.monotonic() - self._loaded_at > self._fc.gallery_refresh_s:
            try:
                self.refresh()
            except VigilError as exc:
                log.warning("camera %s: watchlist not reloaded: %s", self._camera.id, exc)
        events: list[AnyEvent] = []
        image = inp.frame.image
        for i, track_id in enumerate(inp.track_ids):
            cid = int(inp.tracked.class_id[i])
            if cid >= len(inp.class_names) or inp.class_names[cid] != "person":
                continue
            state = self._tracks.get(track_id)
            if state is None:
                state = self._tracks[track_id] = _TrackFaces(first_pts=inp.frame.pts_s)
                self.counters["tracks_searched"] += 1
            if state.done:
                continue
            self._offer(state, inp.tracked.xyxy[i], float(inp.tracked.confidence[i]), image, inp.frame.captured_at)
            if state.rounds == 0 and inp.frame.pts_s - state.first_pts >= self._fc.decide_after_s:
                events.extend(self._search(track_id, state))
        for track_id in inp.ended:
            state = self._tracks.pop(track_id, None)
            if state is not None and not state.done:
                events.extend(self._search(track_id, state))
        return events

    def finish(self) -> list[AnyEvent]:
        events: list[AnyEvent] = []
        for track_id, state in list(self._tracks.items()):
            if not state.done:
                events.extend(self._search(track_id, state))
        self._tracks.clear()
        rejected = {k: v for k, v in self._pipeline.gate.rejected.items() if v}
        events.append(
            FaceSearchSummary(
                camera_id=self._camera.id,
                occurred_at=datetime.now().astimezone(),
                tracks_searched=self.counters["tracks_searched"],
                frames_searched=self.counters["frames_searched"],
                faces_detected=self.counters["faces_detected"],
                faces_embedded=self.counters["faces_embedded"],
                rejected=rejected,
                candidates=self.counters["candidates"],
                watchlist_size=len(self._gallery.subject_ids),
            )
        )
        return events

    # -- per track ---------------------------------------------------------------------------

    def _offer(
        self, state: _TrackFaces, box: NDArray[np.float32], confidence: float, image: NDArray[np.uint8], at: datetime
    ) -> None:
        x1, y1, x2, y2 = _head_region(box, image.shape, self._fc.head_fraction)
        if x2 - x1 < 8 or y2 - y1 < 8:
            return
        head = image[y1:y2, x1:x2]
        width = float(box[2] - box[0])
        # A face fills roughly a third of a person's box width: skip crops that cannot reach the gate.
        if width * 0.4 < self._fc.quality.min_face_px:
            return
        quality = confidence * math.sqrt(max(1.0, (box[2] - box[0]) * (box[3] - box[1])))
        quality *= 0.5 + 0.5 * min(1.0, _crop_sharpness(head) / 300.0)
        if box[1] <= 1:
            quality *= 0.5  # head likely cut by the top edge
        k = self._fc.frames_per_track
        if len(state.shots) >= k and quality <= min(s.quality for s in state.shots):
            return
        state.shots.append(_Shot(quality, head.copy(), (x1, y1), at))
        if len(state.shots) > k:
            state.shots.remove(min(state.shots, key=lambda s: s.quality))

    def _search(self, track_id: str, state: _TrackFaces) -> list[AnyEvent]:
        shots, state.shots = state.shots, []
        state.rounds += 1
        if state.rounds >= MAX_SEARCH_ROUNDS:
            state.done = True
        best: _Best | None = None
        for shot in sorted(shots, key=lambda s: -s.quality):
            self.counters["frames_searched"] += 1
            for face in self._pipeline.analyse(shot.head, "region"):
                self.counters["faces_detected"] += 1
                if face.embedding is None:
                    continue
                self.counters["faces_embedded"] += 1
                match = self._gallery.match(face.embedding, self._threshold.threshold, shot.at)
                if match is not None and (best is None or match.score > best.score):
                    best = _Best(
                        match.score, match.subject_id, match.reference_media, _probe_crop(shot.head, face.box), shot.at
                    )
        del shots  # the crops of people who did not match go no further
        if best is None:
            return []
        state.done = True
        return [self._candidate(track_id, best)]

    def _candidate(self, track_id: str, best: _Best) -> CandidateRaised:
        flags: tuple[CandidateFlag, ...] = ()
        detail: str | None = None
        position = self._camera.position or self._positions.get(self._camera.id)
        if position is not None:
            here = Sighting(self._camera.id, best.at, position.lat, position.lon)
            previous = self._previous_sighting(best.subject_id, best.at)
            if previous is not None:
                detail = impossible_travel(previous, here, self._fc.max_travel_speed_kmh)
                if detail is not None:
                    flags = ("impossible_travel",)
            self._last_seen[best.subject_id] = here
        event = CandidateRaised(
            camera_id=self._camera.id,
            occurred_at=best.at,
            kind="face",
            list_entry_id=best.subject_id,
            track_id=track_id,
            score=round(best.score, 6),
            threshold=round(self._threshold.threshold, 6),
            false_match_rate=self._threshold.false_match_rate,
            calibration_id=self._threshold.calibration_id,
            reference_media=best.reference_media,
            flags=flags,
            detail=detail,
        )
        probe_rel = f"faces/probes/{self._camera.id}/{best.at.strftime('%Y-%m-%d')}/{event.event_id}.jpg"
        try:
            probe = self._media.save_jpeg(probe_rel, best.probe, keep_faces=f"face candidate {event.event_id}")
        except VigilError as exc:
            log.warning("camera %s: probe crop not saved: %s", self._camera.id, exc)
            probe = None
        self.counters["candidates"] += 1
        return event.model_copy(update={"probe_media": probe})

    def _previous_sighting(self, subject_id: str, before: datetime) -> Sighting | None:
        """The latest pending or confirmed sighting of ``subject_id`` at a camera with a position."""
        seen = self._last_seen.get(subject_id)
        try:
            recent = self._store.candidates.list(
                list_entry_id=subject_id, kind="face", until=before + timedelta(microseconds=1), limit=20
            )
        except VigilError as exc:
            log.warning("camera %s: sightings not read: %s", self._camera.id, exc)
            recent = []
        for c in recent:
            pos = self._positions.get(c.camera_id)
            if c.status == "rejected" or pos is None:
                continue
            if seen is None or c.occurred_at > seen.at:
                seen = Sighting(c.camera_id, c.occurred_at, pos.lat, pos.lon)
            break
        return seen


def _probe_crop(head: NDArray[np.uint8], box: tuple[float, float, float, float]) -> NDArray[np.uint8]:
    """The matched face with a margin, from the head crop (what a reviewer compares)."""
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * _PROBE_MARGIN, (y2 - y1) * _PROBE_MARGIN
    img_h, img_w = head.shape[:2]
    a, b = max(0, int(x1 - mx)), max(0, int(y1 - my))
    c, d = min(img_w, math.ceil(x2 + mx)), min(img_h, math.ceil(y2 + my))
    return np.ascontiguousarray(head[b:d, a:c])


def build_faces_stage(ctx: StageContext) -> FrameStage | None:
    """The faces stage for ``ctx.camera``, or None when the feature is off.

    Raises:
        InputError: faces were requested for this run (``--watchlist``) but nobody is enrolled.
        ModelMissingError: YuNet or SFace is not installed.
    """
    requested = FACES_FEATURE in ctx.features
    if not (ctx.cfg.faces.enabled or requested):
        return None
    stage = FacesStage(ctx.cfg, ctx.camera, load_face_pipeline(ctx.cfg), ctx.store, ctx.media)
    if requested and len(stage.gallery) == 0:
        raise InputError("the watchlist has no unexpired subject to search for; enrol one with `vigil watchlist add`")
    return stage
