"""The retention worker: delete what policy no longer allows us to keep.

Core data (events, tracks and their snapshots, candidates and their probe crops, dead letters,
login attempts) is purged here; feature packages add :class:`RetentionTask` objects for their
own data (non-hit plate reads, expired watchlist and hotlist entries). Items in a case on legal
hold are kept. Every run is audited by counts, never by content.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from vigil.config.governance import RetentionConfig
from vigil.core.clock import utcnow
from vigil.store.audit import AuditEntry
from vigil.store.facade import Store
from vigil.store.media import MediaStore
from vigil.store.retention import PurgeCutoffs

log = logging.getLogger(__name__)


class RetentionTask(Protocol):
    """A feature's own purge (e.g. plates: non-hit reads older than their period)."""

    name: str

    def run(self, store: Store, media: MediaStore, now: datetime) -> dict[str, int]:
        """Delete what has expired at ``now``; return counts by kind."""
        ...


@dataclass(frozen=True, slots=True)
class RetentionReport:
    counts: dict[str, int]
    missing_files: int


def run_retention(
    store: Store,
    media: MediaStore,
    config: RetentionConfig,
    *,
    now: datetime | None = None,
    actor: str = "system:retention",
    tasks: Sequence[RetentionTask] = (),
) -> RetentionReport:
    """Purge expired core rows (one transaction, audited), then their files, then run ``tasks``."""
    now = now or utcnow()
    cutoffs = PurgeCutoffs(
        events_before=now - timedelta(days=config.events_days),
        tracks_before=now - timedelta(days=config.tracks_days),
        candidates_before=now - timedelta(days=config.candidates_days),
        dead_letters_before=now - timedelta(days=config.dead_letters_days),
        login_attempts_before=now - timedelta(days=config.login_attempts_days),
    )
    result = store.governance.retention.purge(cutoffs, actor=actor)
    missing = 0
    for rel in result.media_paths:
        try:
            if not media.delete(rel):
                missing += 1
        except ValueError:
            log.warning("retention: refusing to delete media path outside the media root: %r", rel)
    counts = dict(result.counts)
    for task in tasks:
        task_counts = task.run(store, media, now)
        store.governance.audit.append(
            AuditEntry(actor=actor, action="retention.run", object_type="task", object_id=task.name, detail=task_counts)
        )
        counts.update({f"{task.name}.{k}": v for k, v in task_counts.items()})
    store.governance.auth.purge_expired(now)
    return RetentionReport(counts=counts, missing_files=missing)
