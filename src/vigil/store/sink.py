"""``EventSink``: the handler the wiring layer subscribes to the bus to index events.

The store must not import the bus (same layer), so the sink is a plain callable object.
Storing is idempotent by event id, which is what at-least-once delivery requires.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from vigil.events import AnyEvent
from vigil.store.repositories import EventRepository

logger = logging.getLogger(__name__)


class EventSink:
    """Stores events as they arrive; safe to call twice with the same event.

    It writes every event before returning, rather than buffering, because returning is the
    acknowledgement (JetStream acks after the handler returns): a buffered event would be
    acknowledged but lost on a crash. Use :meth:`handle_batch` where a batch is at hand.
    """

    def __init__(self, events: EventRepository) -> None:
        self._events = events
        self.stored = 0
        self.duplicates = 0

    def handle(self, event: AnyEvent) -> None:
        """Store one event. Raises StoreError on failure (the bus retries)."""
        self.handle_batch((event,))

    def handle_batch(self, events: Iterable[AnyEvent]) -> None:
        """Store several events in one transaction."""
        batch = list(events)
        new = self._events.add_many(batch)
        self.stored += new
        if new < len(batch):
            self.duplicates += len(batch) - new
            logger.debug("skipped %d already stored events", len(batch) - new)

    def __call__(self, event: AnyEvent) -> None:
        self.handle(event)
