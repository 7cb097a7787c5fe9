"""Live alerts for browsers (server-sent events): an in-process broadcast with bounded queues."""

from __future__ import annotations

import asyncio
import contextlib

from vigil.governance.alerts import Alert

QUEUE_SIZE = 100


class AlertHub:
    """Fan each alert out to every connected stream; a slow client loses alerts, never blocks others."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Alert | None]] = set()
        self.dropped = 0
        self.closed = False

    def subscribe(self) -> asyncio.Queue[Alert | None]:
        queue: asyncio.Queue[Alert | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def close(self) -> None:
        """End every stream (at shutdown)."""
        self.closed = True
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    def unsubscribe(self, queue: asyncio.Queue[Alert | None]) -> None:
        self._queues.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    def publish(self, alert: Alert) -> None:
        """Deliver to every subscriber (call on the event loop's thread)."""
        for queue in list(self._queues):
            try:
                queue.put_nowait(alert)
            except asyncio.QueueFull:
                self.dropped += 1
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(alert)
