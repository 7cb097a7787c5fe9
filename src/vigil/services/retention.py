"""Retention: delete what policy no longer allows to keep, for ``vigil retention run`` and any
scheduler, without the web app.

Core data (events, tracks, snapshots, candidates, dead letters, login attempts) is purged by
:func:`vigil.governance.retention.run_retention`; the features' own data by the tasks here
(non-hit plate reads past ``plates.retention_hours`` with their crops, expired hotlist entries,
expired watchlist subjects with their images, crowd aggregates past ``crowd.retention_days``).
Items of a case on legal hold are kept. Every run is recorded as ``retention.run`` by
``system:retention``, by counts, never by content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from vigil.config import VigilConfig
from vigil.core.clock import utcnow
from vigil.governance.retention import RetentionReport, RetentionTask, run_retention
from vigil.services.actor import system_actor_name
from vigil.services.context import media_store
from vigil.store.audit import AuditEntry
from vigil.store.facade import Store
from vigil.store.faces import SubjectRecord
from vigil.store.media import MediaStore
from vigil.store.partitions import log_drops

ACTOR = system_actor_name("retention")


@dataclass(slots=True)
class PlatesRetention:
    """Non-hit reads older than ``retention_hours`` (with their crops) and expired hotlist entries."""

    retention_hours: float
    name: str = "plates"

    def run(self, store: Store, media: MediaStore, now: datetime) -> dict[str, int]:
        gone = store.plates.purge_reads(retention_hours=self.retention_hours, now=now)
        crops = 0
        for r in gone:
            if r.crop is None:
                continue
            try:
                crops += int(media.delete(r.crop))
            except ValueError:
                continue  # a path outside the media root is never deleted
        entries = store.plates.purge_expired(now)
        return {"plate_reads": len(gone), "plate_crops": crops, "hotlist_entries": entries}


@dataclass(slots=True)
class CrowdRetention:
    """Zone counts, line counts and heatmaps older than ``crowd.retention_days`` (aggregates only)."""

    retention_days: float
    name: str = "crowd"

    def run(self, store: Store, media: MediaStore, now: datetime) -> dict[str, int]:
        gone = store.crowd.purge_aggregates(retention_days=self.retention_days, now=now)
        log_drops("crowd_counts", gone.partitions_dropped, gone.partitions_kept_for_holds)
        return {**gone.counts, "crowd_partitions_dropped": len(gone.partitions_dropped)}


@dataclass(slots=True)
class WatchlistRetention:
    """Expired watchlist subjects lose their images and embeddings."""

    name: str = "faces.watchlist"

    def run(self, store: Store, media: MediaStore, now: datetime) -> dict[str, int]:
        images: list[int] = []

        def count(_: Session, record: SubjectRecord) -> None:
            images.append(len(record.references))

        ids = store.faces.purge_expired(media, now, on_written=count)
        return {"face_subjects": len(ids), "face_reference_images": sum(images)}


FEATURE_TASKS: list[Callable[[VigilConfig], RetentionTask]] = [
    lambda config: PlatesRetention(config.plates.retention_hours),
    lambda _config: WatchlistRetention(),
    lambda config: CrowdRetention(config.crowd.retention_days),
]
"""The features' retention tasks, each built from the deployment's config."""


def feature_tasks(config: VigilConfig) -> list[RetentionTask]:
    """The features' retention tasks for this deployment."""
    return [make(config) for make in FEATURE_TASKS]


def run_plates_by_hand(config: VigilConfig, store: Store, *, detail: dict[str, str]) -> dict[str, int]:
    """The plates task of the retention job, run by hand (``vigil plates purge``); audited as a run.

    The same task and the same media store as :func:`run`, so crops in the scale-out bucket go too,
    and recorded by counts (never plates) with ``detail`` (who ran it, how) beside them.
    """
    task = PlatesRetention(config.plates.retention_hours)
    media = media_store(config, None)
    try:
        counts = task.run(store, media, utcnow())
    finally:
        media.close()
    store.governance.audit.append(
        AuditEntry(
            actor=ACTOR,
            action="retention.run",
            object_type="task",
            object_id=task.name,
            detail={**detail, **counts},
        )
    )
    return counts


def run(
    config: VigilConfig, store: Store, *, media: MediaStore | None = None, now: datetime | None = None
) -> RetentionReport:
    """One retention run: core data, then every feature's task; recorded by counts."""
    chosen = media if media is not None else media_store(config, None)
    try:
        return run_retention(
            store,
            chosen,
            config.governance.retention,
            now=now,
            actor=ACTOR,
            tasks=feature_tasks(config),
        )
    finally:
        if chosen is not media:
            chosen.close()  # the one opened here (a shared media store's NATS connection)
