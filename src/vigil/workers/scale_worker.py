"""``vigil worker``: claims cameras with leases, analyses them, publishes events to JetStream.

Every camera runs the same :class:`CameraPipeline` and stages as ``vigil run``; only the
wiring differs. What the lease changes:

* A camera starts when its lease is granted (``on_gain``) and stops when it is lost
  (``on_lose``: the lease lapsed or was taken) or handed over (``on_release``: the camera
  is stopped, its live tracks are ended and published, then the lease is deleted).
* Every event goes out through :class:`FencedPublisher`: it carries the camera's lease epoch
  and this worker's id as headers, and an event for a camera whose lease is no longer valid is
  dropped and counted, never published: a worker that lost a camera cannot act as its owner.
* Events wait in a bounded spool on disk while NATS is unreachable and are replayed in
  order when it answers again; beyond the bound they are dropped and counted (capture is
  never blocked).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vigil.bus.base import EventHandler
from vigil.bus.connection import NatsConnection
from vigil.bus.jetstream import JetStreamBus, StreamOptions
from vigil.bus.leases import EPOCH_HEADER, PUBLISHED_HEADER, SINCE_HEADER, WORKER_HEADER, LeaseManager
from vigil.bus.lists import ListsReplica
from vigil.bus.objects import MediaBucket
from vigil.bus.spool import FileSpool
from vigil.config import CameraConfig, VigilConfig
from vigil.core.errors import VigilError
from vigil.detect.regions import RegionChooser
from vigil.events import AnyEvent
from vigil.store.facade import Store
from vigil.store.media import MediaStore
from vigil.workers.camera_worker import CameraWorker
from vigil.workers.clips import ClipRecorder
from vigil.workers.pipeline import CameraPipeline, Detector
from vigil.workers.runner import STAGE_BUILDERS, health_event
from vigil.workers.scale_lists import replica_store
from vigil.workers.scale_wiring import nats_settings, open_store_with_backoff, store_url
from vigil.workers.shared_media import shared_media
from vigil.workers.snapshots import SnapshotWriter
from vigil.workers.stages import StageContext, build_stages
from vigil.workers.wiring import build_capture, build_detector, detector_class_ids, open_data_dir

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    """``<host>-<pid>``: unique per process, readable in ``vigil status``."""
    host = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in socket.gethostname())
    return f"{host}-{os.getpid()}"


class FencedPublisher:
    """The :class:`EventBus` a camera sees: adds the lease epoch, drops what the lease forbids."""

    def __init__(self, bus: JetStreamBus, leases: LeaseManager, worker_id: str) -> None:
        self._bus = bus
        self._leases = leases
        self._worker = worker_id
        self.fenced = 0

    def publish(self, event: AnyEvent, *, epoch_started: int | None = None) -> None:
        """Publish under the camera's current epoch; with ``epoch_started``, only if that is still it.

        A camera run passes the epoch it was started under (:meth:`for_run`): after a lapse the worker
        may claim the camera again under a newer epoch while the stopped run is still finishing a frame,
        and that frame's events must not go out as the new lease's.
        """
        epoch = self._leases.epoch(event.camera_id)
        if epoch is None or (epoch_started is not None and epoch != epoch_started):
            self.fenced += 1
            if self.fenced <= 5 or self.fenced % 1000 == 0:
                why = "no valid lease" if epoch is None else f"started under epoch {epoch_started}, lease now {epoch}"
                log.warning(
                    "camera %s: %s not published: %s (%d so far)", event.camera_id, event.type, why, self.fenced
                )
            return
        holder = self._leases.held().get(event.camera_id)
        since = f"{holder.since:.6f}" if holder is not None else ""
        headers = {
            EPOCH_HEADER: str(epoch),
            SINCE_HEADER: since,
            WORKER_HEADER: self._worker,
            PUBLISHED_HEADER: f"{time.time():.6f}",
        }
        self._bus.publish(event, headers=headers)

    def subscribe(self, handler: EventHandler, *, name: str) -> None:
        raise NotImplementedError("a worker only publishes")

    def flush(self, timeout_s: float) -> bool:
        return self._bus.flush(timeout_s)

    def close(self, timeout_s: float) -> None:
        """The worker closes the underlying bus itself."""

    def for_run(self, epoch: int) -> RunPublisher:
        """The bus one camera run sees: it publishes only while the lease is still ``epoch``."""
        return RunPublisher(self, epoch)


class RunPublisher:
    """One camera run's :class:`EventBus`: a :class:`FencedPublisher` bound to the run's epoch."""

    def __init__(self, fenced: FencedPublisher, epoch: int) -> None:
        self._fenced = fenced
        self.epoch = epoch

    def publish(self, event: AnyEvent) -> None:
        self._fenced.publish(event, epoch_started=self.epoch)

    def subscribe(self, handler: EventHandler, *, name: str) -> None:
        raise NotImplementedError("a worker only publishes")

    def flush(self, timeout_s: float) -> bool:
        return self._fenced.flush(timeout_s)

    def close(self, timeout_s: float) -> None:
        """The worker closes the underlying bus itself."""


@dataclass(slots=True)
class _Running:
    worker: CameraWorker
    epoch: int
    started_at: datetime


class ScaleWorker:
    """One ``vigil worker`` process."""

    def __init__(self, cfg: VigilConfig, *, worker_id: str | None = None, health_interval_s: float = 2.0) -> None:
        self.cfg = cfg
        self.worker_id = worker_id or default_worker_id()
        self._health_interval_s = health_interval_s
        self._cameras: dict[str, CameraConfig] = {c.id: c for c in cfg.cameras if c.enabled}
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._detector: Detector | None = None
        self._store: Store | None = None
        self._media: MediaStore | None = None
        self._publisher: FencedPublisher | None = None
        self._stage_store: Store | None = None
        self._clips: ClipRecorder | None = None
        self._snapshots: SnapshotWriter | None = None
        self.lists: ListsReplica | None = None

    # -- lease callbacks (helper threads) ------------------------------------------------------

    def _start_camera(self, camera_id: str, epoch: int) -> None:
        cam = self._cameras[camera_id]
        assert self._detector is not None and self._store is not None and self._media is not None
        assert self._publisher is not None
        try:
            assert self._stage_store is not None
            stages = build_stages(
                StageContext(cfg=self.cfg, camera=cam, store=self._stage_store, media=self._media), STAGE_BUILDERS
            )
            pipeline = CameraPipeline(
                cam.id,
                self._detector,
                self.cfg.tracker,
                cam.analysis_fps,
                detector_class_ids(self.cfg),
                self._media,
                stages=stages,
                regions=RegionChooser() if self.cfg.detector.motion_regions else None,
                defer_snapshots=self._snapshots is not None,
            )
            clips = self._clips
            worker = CameraWorker(
                build_capture(cam, on_gated=clips.on_still if clips is not None else None),
                pipeline,
                self._publisher.for_run(epoch),
                on_frame=clips.on_frame if clips is not None else None,
                snapshots=self._snapshots,
            )
        except VigilError as exc:  # one broken camera never stops the others
            log.error("camera %s: cannot start: %s", camera_id, exc)
            return
        with self._lock:
            old = self._running.pop(camera_id, None)
            self._running[camera_id] = _Running(worker, epoch, datetime.now(UTC))
        if old is not None:
            old.worker.stop()
        worker.start()
        log.warning("camera %s: analysing (epoch %d)", camera_id, epoch)

    def _lose_camera(self, camera_id: str, reason: str) -> None:
        with self._lock:
            running = self._running.pop(camera_id, None)
        if running is not None:
            # Its last events are dropped by the fence; the indexer ends its open tracks.
            running.worker.stop()
            log.warning("camera %s: stopped (%s)", camera_id, reason)

    def _release_camera(self, camera_id: str) -> None:
        with self._lock:
            running = self._running.pop(camera_id, None)
        if running is None:
            return
        running.worker.stop()
        if not running.worker.join(timeout_s=20):
            log.warning("camera %s: did not stop within 20 s; releasing anyway", camera_id)
        # Its last track.ended events wait for their snapshots: published while it is still ours.
        if self._snapshots is not None and not self._snapshots.flush(camera_id, timeout_s=20):
            log.warning("camera %s: snapshots not all written within 20 s; releasing anyway", camera_id)
        assert self._publisher is not None
        self._publisher.publish(health_event(running.worker.capture.health.snapshot()))
        log.warning("camera %s: handed over", camera_id)

    # -- the process ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> dict[str, int]:
        cfg = self.cfg
        self._media = open_data_dir(cfg)
        self._detector = build_detector(cfg)
        conn = NatsConnection.connect_with_backoff(nats_settings(cfg, f"vigil-worker-{self.worker_id}"), stop=stop)
        try:
            self._store = open_store_with_backoff(store_url(cfg), stop, partition_hours=cfg.store.partition_hours)
            uploader = None
            if cfg.scale.media == "nats":
                # Snapshots and crops go to the shared bucket, so any API replica serves them.
                bucket = MediaBucket(conn, cfg.scale.nats.replicas)
                self._media, uploader = shared_media(
                    self._media.root,
                    cfg.data_dir / "media-cache",
                    bucket,
                    self._media.redactor,
                    clip_redactor=self._media.clip_redactor,
                )
            self.lists = ListsReplica(
                conn, max_staleness_s=cfg.scale.lists.max_staleness_s, replicas=cfg.scale.nats.replicas
            )
            if not self.lists.wait_fresh(10.0):
                log.warning("worker %s: lists not confirmed yet (is an indexer running?); not matching", self.worker_id)
            self._stage_store = replica_store(self._store, self.lists)
            spool = FileSpool(cfg.data_dir / "spool" / self.worker_id, max_bytes=cfg.scale.spool_max_mb * 1024 * 1024)
            journal_dir = os.environ.get("VIGIL_ACK_JOURNAL_DIR")
            bus = JetStreamBus(
                conn,
                spool=spool,
                streams=StreamOptions(replicas=cfg.scale.nats.replicas),
                ack_journal=Path(journal_dir) / f"{self.worker_id}.acked" if journal_dir else None,
            )
            lc = cfg.scale.leases
            leases = LeaseManager(
                conn,
                worker_id=self.worker_id,
                cameras=list(self._cameras),
                ttl_s=lc.ttl_s,
                renew_every_s=lc.renew_every_s,
                safety_margin_s=lc.safety_margin_s,
                max_cameras=lc.max_cameras,
                replicas=cfg.scale.nats.replicas,
                on_gain=self._start_camera,
                on_lose=self._lose_camera,
                on_release=self._release_camera,
            )
            self._publisher = FencedPublisher(bus, leases, self.worker_id)
            # Snapshots are redacted and written off the cameras' analysis threads (workers/snapshots.py).
            self._snapshots = SnapshotWriter(self._media)
            # Clips go through the fenced publisher too: a camera this worker lost announces none.
            if cfg.clips.enabled:
                self._clips = ClipRecorder(cfg.clips, self._media, self._publisher.publish)
            leases.start()
            log.warning("worker %s: up, %d cameras configured", self.worker_id, len(self._cameras))
            next_health = time.monotonic() + self._health_interval_s
            while not stop.wait(0.2):
                if time.monotonic() < next_health:
                    continue
                next_health += self._health_interval_s
                with self._lock:
                    running = list(self._running.values())
                for r in running:
                    self._publisher.publish(health_event(r.worker.capture.health.snapshot()))
            if self._clips is not None:
                # While the leases still hold: a clip announced after they are released would be
                # fenced, leaving its file in the bucket with no record pointing at it.
                self._clips.close()
            leases.stop(release=True)
            self._snapshots.close()  # each released camera's were flushed; nothing is left
            self.lists.close()
            bus.close(timeout_s=30)
            if uploader is not None:
                uploader.close(timeout_s=30)
            return {
                "published": bus.stats.published,
                "acked": bus.stats.acked,
                "spooled": bus.stats.spooled,
                "dropped": bus.stats.dropped,
                "fenced": self._publisher.fenced,
            }
        finally:
            if self._store is not None:
                self._store.close()
            conn.close()
