"""``vigil indexer``: consumes the bus and writes PostgreSQL, exactly once per event id.

Several indexers may run with the same consumer name: JetStream shares the messages between
them, and a redelivered message (an indexer killed between its commit and its ack) is skipped
by the ``ON CONFLICT DO NOTHING`` on the event id. A batch is acknowledged only after its
transaction committed, so an acknowledged event is never lost to an indexer crash.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from vigil.bus.connection import NatsConnection
from vigil.bus.jetstream import Delivery, JetStreamBus, StreamOptions
from vigil.bus.leases import EPOCH_HEADER, SINCE_HEADER
from vigil.config import VigilConfig
from vigil.store.facade import Store
from vigil.workers.scale_wiring import masked, nats_settings, open_store_with_backoff, store_url

log = logging.getLogger(__name__)

CONSUMER = "indexer"
"""Durable consumer name every indexer shares."""


@dataclass(slots=True)
class IndexerStats:
    batches: int = 0
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    fenced: int = 0
    orphans_ended: int = 0


class EpochFence:
    """The indexer's side of lease fencing: a stale epoch's events after a takeover are refused.

    Workers stamp every event with their lease epoch and the time the lease began. Once this
    indexer has seen epoch ``e2`` (granted at ``t2``) for a camera, an event of an older epoch
    that happened at or after ``t2`` came from a worker that no longer owned the camera (it
    was paused or partitioned past its lease) and is dropped. Older-epoch events from before
    ``t2`` are the previous owner's legitimate backlog and are stored.
    """

    def __init__(self) -> None:
        self._newest: dict[str, tuple[int, float]] = {}
        self.takeovers: list[tuple[str, float]] = []
        """(camera, since) of every newer epoch seen after an older one: tracks to end."""

    def admit(self, d: Delivery) -> bool:
        raw_epoch = d.headers.get(EPOCH_HEADER)
        if raw_epoch is None:
            return True  # not from a leased worker (embedded tools, replays)
        epoch = int(raw_epoch)
        since = float(d.headers.get(SINCE_HEADER) or 0.0)
        camera = d.event.camera_id
        newest = self._newest.get(camera)
        if newest is None or epoch > newest[0]:
            self._newest[camera] = (epoch, since)
            if newest is not None:
                self.takeovers.append((camera, since))
            return True
        if epoch == newest[0]:
            return True
        return d.event.occurred_at.timestamp() < newest[1]


class Indexer:
    """The batch handler: one transaction per batch (raises StoreError: the bus retries)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.stats = IndexerStats()
        self._lock = threading.Lock()
        self._fence = EpochFence()

    def handle(self, batch: Sequence[Delivery]) -> None:
        with self._lock:
            admitted = [d for d in sorted(batch, key=_epoch_order) if self._fence.admit(d)]
        fenced = len(batch) - len(admitted)
        if fenced:
            log.warning("indexer: refused %d events from a worker whose camera lease had moved on", fenced)
        new = self._store.events.add_batch(d.event for d in admitted)
        self._end_orphans()
        with self._lock:
            self.stats.batches += 1
            self.stats.received += len(batch)
            self.stats.stored += len(new)
            self.stats.duplicates += len(admitted) - len(new)
            self.stats.fenced += fenced

    def _end_orphans(self) -> None:
        with self._lock:
            takeovers, self._fence.takeovers = self._fence.takeovers, []
        for camera, since in takeovers:
            # The previous holder's open tracks will never see their track.ended: the worker
            # died or lost the camera. End those last seen before the new lease began.
            ended = self._store.tracks.end_orphans(camera, before=datetime.fromtimestamp(since, UTC))
            if ended:
                self.stats.orphans_ended += len(ended)
                log.warning(
                    "camera %s: ended %d tracks orphaned by the previous lease holder (reason: lease moved)",
                    camera,
                    len(ended),
                )


def _epoch_order(d: Delivery) -> int:
    # Newer epochs first inside a batch, so a stale event in the same batch meets the new epoch.
    return -int(d.headers.get(EPOCH_HEADER) or 0)


def run_indexer(cfg: VigilConfig, stop: threading.Event, *, report_every_s: float = 10.0) -> IndexerStats:
    """Index until ``stop`` is set; returns the counters.

    Raises:
        BusAuthError, StoreError: wrong credentials or a failed migration (not retried).
    """
    url = store_url(cfg)
    conn = NatsConnection.connect_with_backoff(nats_settings(cfg, "vigil-indexer"), stop=stop)
    try:
        store = open_store_with_backoff(url, stop)
        try:
            bus = JetStreamBus(conn, streams=StreamOptions(replicas=cfg.scale.nats.replicas))
            indexer = Indexer(store)
            bus.subscribe_batch(indexer.handle, name=CONSUMER, batch=cfg.scale.indexer_batch)
            log.warning("indexer: consuming %s into %s", ", ".join(cfg.scale.nats.servers), masked(url))
            last = time.monotonic()
            while not stop.wait(1.0):
                if time.monotonic() - last >= report_every_s:
                    last = time.monotonic()
                    s = indexer.stats
                    log.info("indexer: %d batches, %d stored, %d duplicates", s.batches, s.stored, s.duplicates)
            bus.close(timeout_s=10)
            return indexer.stats
        finally:
            store.close()
    finally:
        conn.close()
