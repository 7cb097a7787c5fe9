"""The event bus contract shared by the in-memory and (later) NATS JetStream buses.

Delivery is at-least-once: a handler may see the same event twice (after a retry, or a
redelivery by JetStream), so handlers must be idempotent. The store's sink is, by event id.
Each subscriber gets every event published after it subscribed, in publish order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from vigil.core.errors import BusClosedError, BusError, BusFullError
from vigil.events import AnyEvent

__all__ = [
    "BusAuthError",
    "BusClosedError",
    "BusError",
    "BusFullError",
    "BusUnavailableError",
    "DeadLetterStats",
    "EventBus",
    "EventHandler",
]

EventHandler = Callable[[AnyEvent], None]
"""Handles one event; returning means "done" (JetStream: ack). Raising means "try again"."""


@dataclass(frozen=True, slots=True)
class DeadLetterStats:
    """Events a subscriber gave up on after all retries (kept, counted, never silent)."""

    count: int = 0
    last_error: str | None = None
    last_event_id: str | None = None


class EventBus(Protocol):
    """Publish/subscribe for :data:`~vigil.events.AnyEvent`."""

    def publish(self, event: AnyEvent) -> None:
        """Queue ``event`` for every subscriber; may block while a subscriber is full.

        Raises:
            BusClosedError: after :meth:`close`.
        """
        ...

    def subscribe(self, handler: EventHandler, *, name: str) -> None:
        """Deliver every later event to ``handler``; ``name`` is unique (a durable name in JetStream)."""
        ...

    def flush(self, timeout_s: float) -> bool:
        """Wait until every event published so far has been handled; False on timeout."""
        ...

    def close(self, timeout_s: float) -> None:
        """Stop accepting events and drain: nothing published before ``close`` is lost."""
        ...


class BusUnavailableError(BusError):
    """The message broker cannot be reached (yet): callers retry with backoff."""


class BusAuthError(BusError):
    """The broker refused the credentials: retrying would not help."""
