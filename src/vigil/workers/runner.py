"""Runs a set of cameras until they end or a stop is requested, then shuts down cleanly.

Shutdown order is what makes "nothing lost" true: stop the captures, let each worker end
its live tracks and publish them, publish the last health counters, then close the bus,
which drains every queued event into the store before the store is closed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import make_url

from vigil.camera.health import CameraHealthSnapshot
from vigil.config import CameraConfig, VigilConfig
from vigil.core.frame import Frame
from vigil.detect.regions import RegionChooser
from vigil.events import CameraHealth
from vigil.store.sink import EventSink
from vigil.workers.camera_worker import CameraWorker, FrameHook
from vigil.workers.clips import ClipRecorder
from vigil.workers.crowd_stage import build_crowd_stage
from vigil.workers.faces_stage import build_faces_stage
from vigil.workers.pipeline import CameraPipeline, FrameResult
from vigil.workers.plates_stage import build_plates_stage
from vigil.workers.recovery import OnAnalysed, end_orphaned_tracks, recording_plan
from vigil.workers.snapshots import SnapshotWriter
from vigil.workers.stages import StageBuilder, StageContext, build_stages
from vigil.workers.usage import Usage, UsageMeter
from vigil.workers.wiring import (
    build_bus,
    build_capture,
    build_detector,
    detector_class_ids,
    detector_model_path,
    detector_threads,
    open_data_dir,
    open_spool,
    open_store,
)

log = logging.getLogger(__name__)

STAGE_BUILDERS: tuple[StageBuilder, ...] = (build_faces_stage, build_plates_stage, build_crowd_stage)
"""Feature stages, in the order they see each frame."""


@dataclass(frozen=True, slots=True)
class CameraSummary:
    """One camera's counters at the end of a run."""

    camera_id: str
    state: str
    frames_decoded: int
    frames_sampled: int
    frames_gated: int
    frames_dropped: int
    frames_analysed: int
    reconnects: int
    last_error: str | None
    analysis_errors: int
    tracks: dict[str, int]
    cpu_share: float | None = None
    """Share of the box's CPUs this camera used over the run (:mod:`vigil.workers.usage`)."""


@dataclass(slots=True)
class RunSummary:
    """What a run did, for the terminal and for ``--json``."""

    cameras: list[CameraSummary]
    wall_s: float
    events_published: int
    events_stored: int
    events_dead_lettered: int
    store_url: str
    events_spooled: int = 0
    tracks: dict[str, int] = field(default_factory=dict)
    annotated: str | None = None
    video_duration_s: float | None = None
    usage: Usage | None = None
    """The box's CPUs and the share the run used, for the whole run."""
    snapshots: dict[str, Any] = field(default_factory=dict)
    """The live cameras' snapshot writer: written, failed, skipped by reason, seconds spent."""

    @property
    def frames_decoded(self) -> int:
        return sum(c.frames_decoded for c in self.cameras)

    @property
    def frames_analysed(self) -> int:
        return sum(c.frames_analysed for c in self.cameras)

    @property
    def analysed_fps(self) -> float:
        return self.frames_analysed / self.wall_s if self.wall_s > 0 else 0.0

    def to_json_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cameras": len(self.cameras),
            "frames_decoded": self.frames_decoded,
            "frames_analysed": self.frames_analysed,
            "frames_gated": sum(c.frames_gated for c in self.cameras),
            "frames_dropped": sum(c.frames_dropped for c in self.cameras),
            "analysed_fps": round(self.analysed_fps, 2),
            "wall_s": round(self.wall_s, 2),
            "tracks": dict(self.tracks),
            "events": self.events_stored,
            "events_published": self.events_published,
            "events_dead_lettered": self.events_dead_lettered,
            "events_spooled": self.events_spooled,
            "store": self.store_url,
            "annotated": self.annotated,
            "per_camera": [asdict(c) for c in self.cameras],
        }
        if self.snapshots:
            out["snapshots"] = self.snapshots
        if self.usage is not None:
            out["box"] = {
                "cpus": self.usage.cpus,
                "cpu_share": round(self.usage.box_share, 3),
                "more_cameras_estimate": self.usage.more_cameras(),
            }
        if self.video_duration_s:
            out["video_duration_s"] = round(self.video_duration_s, 2)
            out["realtime_factor"] = round(self.video_duration_s / self.wall_s, 2) if self.wall_s else None
        return out


def health_event(snap: CameraHealthSnapshot, cpu_share: float | None = None) -> CameraHealth:
    return CameraHealth(
        camera_id=snap.camera_id,
        occurred_at=snap.taken_at,
        frames_in=snap.frames_in,
        frames_analysed=snap.frames_analysed,
        frames_dropped=snap.frames_dropped,
        reconnects=snap.reconnects,
        last_error=snap.last_error[:2000] if snap.last_error else None,
        state=snap.state,
        analysed_fps=round(snap.analysed_fps, 3),
        cpu_share=None if cpu_share is None else round(min(1.0, max(0.0, cpu_share)), 4),
    )


class Deployment:
    """Cameras, detector, bus and store wired together for one run."""

    def __init__(
        self,
        cfg: VigilConfig,
        cameras: tuple[CameraConfig, ...] | None = None,
        *,
        on_frame: FrameHook | None = None,
        on_gated: Callable[[Frame], None] | None = None,
        block_when_full: bool | None = None,
        health_interval_s: float = 2.0,
        features: frozenset[str] = frozenset(),
        on_analysed: OnAnalysed = "skip",
    ) -> None:
        self.cfg = cfg
        self._on_analysed = on_analysed
        self.cameras = tuple(c for c in (cameras if cameras is not None else cfg.cameras) if c.enabled)
        self._on_frame = on_frame
        self._on_gated = on_gated
        self._block_when_full = block_when_full
        self._health_interval_s = health_interval_s
        self._features = features

    def run(self, stop: threading.Event) -> RunSummary:
        """Analyse until every camera has ended (recordings) or ``stop`` is set.

        Raises:
            DataDirError, StoreError, ModelMissingError: before any camera starts.
        """
        cfg = self.cfg
        # The detector first: every camera needs it, so a machine without models hears about it
        # before the models that only some stages (face redaction) need.
        detector_model_path(cfg)
        media = open_data_dir(cfg)
        store = open_store(cfg)
        try:
            detector = build_detector(cfg, threads=detector_threads(cfg, len(self.cameras)))
            # Events a full disk kept from the store last time are stored first; then the
            # reserve that keeps room for this run's spool is made (store/spool.py).
            spool = open_spool(cfg)
            replayed = spool.replay(store.events)
            if replayed:
                log.warning("stored %d events spooled by an earlier run", replayed)
            spool.make_reserve()
            bus = build_bus(cfg, spool)
            sink = EventSink(store.events)
            bus.subscribe(sink, name="store")
            class_ids = detector_class_ids(cfg)
            # After a kill -9: end the tracks the dead process left open, and resume, skip or
            # refuse recordings it had analysed (workers/recovery.py).
            plans = {cam.id: recording_plan(store, cam, self._on_analysed) for cam in self.cameras}
            cameras = [cam for cam in self.cameras if (plan := plans[cam.id]) is None or not plan.skip]
            orphans_ended = 0
            for cam in cameras:
                orphans = end_orphaned_tracks(store, bus, cam.id)
                orphans_ended += orphans
                if orphans:
                    log.warning("camera %s: ended %d tracks left open by a run that did not shut down", cam.id, orphans)
            # Clips of candidates and alerts come from each camera's ring of recent frames.
            clips = ClipRecorder(cfg.clips, media, bus.publish) if cfg.clips.enabled else None
            on_frame, on_gated = _with_clips(clips, self._on_frame, self._on_gated)
            # Live cameras' snapshots are redacted and written by one writer thread, not on the
            # cameras' analysis threads (a stall there drops frames; workers/snapshots.py). A
            # recording keeps writing on its own thread: nothing is dropped while it waits, and
            # its progress records must follow its events.
            live = [cam for cam in cameras if plans[cam.id] is None]
            snapshots = SnapshotWriter(media) if live else None
            workers = [
                CameraWorker(
                    build_capture(cam, block_when_full=self._block_when_full, on_gated=on_gated),
                    CameraPipeline(
                        cam.id,
                        detector,
                        cfg.tracker,
                        cam.analysis_fps,
                        class_ids,
                        media,
                        stages=build_stages(
                            StageContext(cfg=cfg, camera=cam, store=store, media=media, features=self._features),
                            STAGE_BUILDERS,
                        ),
                        regions=RegionChooser() if cfg.detector.motion_regions else None,
                        defer_snapshots=plans[cam.id] is None,
                    ),
                    bus,
                    on_frame=on_frame,
                    recording=plans[cam.id],
                    paused=sink.full,
                    snapshots=snapshots if plans[cam.id] is None else None,
                )
                for cam in cameras
            ]
            started = time.perf_counter()
            # What each camera uses of the box: recent (health, vigil status) and whole-run (summary).
            recent, whole = UsageMeter(window_s=10.0), UsageMeter(window_s=math.inf)
            whole.sample(_analysis_s(workers))
            recent.sample(_analysis_s(workers))
            for w in workers:
                w.start()
                log.info("camera %s: started (%s)", w.capture.camera_id, w.capture.display_url)
            published_health = 0
            # Poll often so a finished recording returns at once, but report health every interval.
            next_health_at = time.monotonic() + self._health_interval_s
            while any(w.alive for w in workers) and not stop.wait(0.1):
                if time.monotonic() < next_health_at:
                    continue
                next_health_at += self._health_interval_s
                if sink.full.is_set():
                    continue  # the queue may be full too: never block the loop that hears SIGTERM
                shares = recent.sample(_analysis_s(workers)).per_camera
                for w in workers:
                    bus.publish(health_event(w.capture.health.snapshot(), shares.get(w.capture.camera_id)))
                    published_health += 1
            usage = whole.sample(_analysis_s(workers))
            for w in workers:
                w.stop()
            if sink.full.is_set():
                # Stopping with the disk still full: the queued events are handed back, to be
                # spooled below, so the workers' last events are not blocked behind them.
                sink.abandon()
            for w in workers:
                if not w.join(timeout_s=30):
                    log.warning("camera %s: worker did not finish within 30 s", w.capture.camera_id)
            if snapshots is not None:
                snapshots.close()  # every queued snapshot written and its track.ended published
            if clips is not None:
                clips.close()  # the last clips are announced before the bus drains
            wall_s = time.perf_counter() - started
            for w in workers:
                bus.publish(health_event(w.capture.health.snapshot(), usage.per_camera.get(w.capture.camera_id)))
                published_health += 1
            if sink.full.is_set():
                sink.abandon()
            bus.close(timeout_s=120)
            if sink.abandoned:
                path = spool.spool(sink.abandoned, "the store's disk was still full at shutdown")
                log.error(
                    "store: disk still full at shutdown: %d events kept in %s; the next run stores them",
                    len(sink.abandoned),
                    path,
                )
            dead = sum(s.count for s in bus.dead_letters().values())
            summaries = [self._summary(w, usage.per_camera.get(w.capture.camera_id)) for w in workers]
            tracks: Counter[str] = Counter()
            for w in workers:
                tracks.update(w.pipeline.tracks_by_class)
            return RunSummary(
                cameras=summaries,
                wall_s=wall_s,
                events_published=sum(w.pipeline.events_emitted + w.progress_published for w in workers)
                + published_health
                + orphans_ended
                + (clips.stored if clips is not None else 0),
                events_stored=sink.stored,
                events_spooled=len(sink.abandoned),
                events_dead_lettered=dead,
                store_url=_mask_db_url(cfg.store_url),
                tracks=dict(tracks),
                usage=usage,
                snapshots=_snapshot_stats(snapshots),
            )
        finally:
            store.close()

    @staticmethod
    def _summary(w: CameraWorker, cpu_share: float | None) -> CameraSummary:
        snap = w.capture.health.snapshot()
        return CameraSummary(
            camera_id=snap.camera_id,
            state=snap.state,
            frames_decoded=snap.frames_in,
            frames_sampled=snap.frames_sampled,
            frames_gated=snap.frames_gated,
            frames_dropped=snap.frames_dropped,
            frames_analysed=snap.frames_analysed,
            reconnects=snap.reconnects,
            last_error=snap.last_error,
            analysis_errors=w.analysis_errors,
            tracks=dict(w.pipeline.tracks_by_class),
            cpu_share=None if cpu_share is None else round(cpu_share, 4),
        )


def _snapshot_stats(writer: SnapshotWriter | None) -> dict[str, Any]:
    if writer is None:
        return {}
    skipped: Counter[str] = Counter()
    for (_camera, reason), n in writer.skipped.items():
        skipped[reason] += n
    return {
        "written": writer.written,
        "failed": sum(writer.failed.values()),
        "skipped": dict(skipped),
        "write_s": round(writer.write_s, 2),
    }


def _analysis_s(workers: list[CameraWorker]) -> dict[str, float]:
    return {w.capture.camera_id: w.analysis_s for w in workers}


def _with_clips(
    clips: ClipRecorder | None, on_frame: FrameHook | None, on_gated: Callable[[Frame], None] | None
) -> tuple[FrameHook | None, Callable[[Frame], None] | None]:
    """The frame hooks with the clip recorder's beside the caller's (the live view's)."""
    if clips is None:
        return on_frame, on_gated
    recorder = clips

    def frame_hook(frame: Frame, result: FrameResult) -> None:
        recorder.on_frame(frame, result)
        if on_frame is not None:
            on_frame(frame, result)

    def gated_hook(frame: Frame) -> None:
        recorder.on_still(frame)
        if on_gated is not None:
            on_gated(frame)

    return frame_hook, gated_hook


def _mask_db_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
