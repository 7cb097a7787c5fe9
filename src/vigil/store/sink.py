"""``EventSink``: the handler the wiring layer subscribes to the bus to index events.

The store must not import the bus (same layer), so the sink is a plain callable object.
Storing is idempotent by event id, which is what at-least-once delivery requires.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from vigil.core.errors import StoreError
from vigil.events import AnyEvent
from vigil.store.repositories import EventRepository
from vigil.store.spool import is_disk_full

logger = logging.getLogger(__name__)


class EventSink:
    """Stores events as they arrive; safe to call twice with the same event.

    It writes every event before returning, rather than buffering, because returning is the
    acknowledgement (JetStream acks after the handler returns): a buffered event would be
    acknowledged but lost on a crash. Use :meth:`handle_batch` where a batch is at hand.
    """

    def __init__(self, events: EventRepository, *, max_wait_s: float = 5.0) -> None:
        self._events = events
        self._max_wait_s = max_wait_s
        self.stored = 0
        self.duplicates = 0
        self.full = threading.Event()
        """Set while the store's disk is full: workers stop taking frames until it clears."""
        self.full_episodes = 0
        self.abandoned: list[AnyEvent] = []
        """Events handed back at shutdown while the disk was still full (the caller spools them)."""
        self._abandon = threading.Event()
        self._full_since = 0.0

    def handle(self, event: AnyEvent) -> None:
        """Store one event. Raises StoreError on failure (the bus retries)."""
        self.handle_batch((event,))

    def abandon(self) -> None:
        """Shutting down with the disk still full: stop waiting and hand the events back
        (:attr:`abandoned`), so they are spooled, not dead-lettered or lost."""
        self._abandon.set()

    def handle_batch(self, events: Iterable[AnyEvent]) -> None:
        """Store several events in one transaction.

        A full disk is not a failure of the events: the sink waits (with backoff) until space is
        freed, saying so once, and sets :attr:`full` so the workers stop taking new frames. The
        bus's retries and dead letters are for events the store refuses, not for a full disk.
        """
        batch = list(events)
        delay_s = 0.2
        while True:
            try:
                new = self._events.add_many(batch)
                break
            except StoreError as exc:
                if not is_disk_full(exc):
                    raise
                if self._abandon.is_set():
                    self.abandoned.extend(batch)
                    return
                if not self.full.is_set():
                    self.full.set()
                    self.full_episodes += 1
                    self._full_since = time.monotonic()
                    logger.error(
                        "store: the disk is full (%s); analysis is paused and nothing is dropped until space is freed",
                        exc,
                    )
                self._abandon.wait(delay_s)
                delay_s = min(self._max_wait_s, delay_s * 2)
        if self.full.is_set():
            self.full.clear()
            logger.warning("store: writable again after %.0f s; analysis resumes", time.monotonic() - self._full_since)
        self.stored += new
        if new < len(batch):
            self.duplicates += len(batch) - new
            logger.debug("skipped %d already stored events", len(batch) - new)

    def __call__(self, event: AnyEvent) -> None:
        self.handle(event)
