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

from vigil.bus.connection import NatsConnection
from vigil.bus.jetstream import Delivery, JetStreamBus, StreamOptions
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


class Indexer:
    """The batch handler: one transaction per batch (raises StoreError: the bus retries)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.stats = IndexerStats()
        self._lock = threading.Lock()

    def handle(self, batch: Sequence[Delivery]) -> None:
        new = self._store.events.add_batch(d.event for d in batch)
        with self._lock:
            self.stats.batches += 1
            self.stats.received += len(batch)
            self.stats.stored += len(new)
            self.stats.duplicates += len(batch) - len(new)


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
