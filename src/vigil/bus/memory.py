"""In-process event bus for the embedded deployment (and the fake in tests).

One bounded queue and one dispatcher thread per subscriber: a slow subscriber (the store on a
busy disk) delays publishers only once its own queue is full, and never delays the other
subscribers' handlers. A full queue blocks ``publish`` (back-pressure) rather than dropping:
callers that must not block (the capture loop) drop and count *before* publishing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from vigil.bus.base import BusClosedError, BusFullError, DeadLetterStats, EventHandler
from vigil.events import AnyEvent

logger = logging.getLogger(__name__)


class _Stop:
    """Queued after the last event by ``close``: the dispatcher exits when it reads it."""


_STOP = _Stop()


@dataclass(eq=False)
class _Subscriber:
    name: str
    handler: EventHandler
    queue: queue.Queue[AnyEvent | _Stop]
    dead_letter_keep: int
    cond: threading.Condition = field(default_factory=threading.Condition)
    enqueued: int = 0
    handled: int = 0
    dead: DeadLetterStats = field(default_factory=DeadLetterStats)
    dead_events: deque[AnyEvent] = field(init=False)
    thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.dead_events = deque(maxlen=self.dead_letter_keep)


def _caught_up(sub: _Subscriber, target: int) -> Callable[[], bool]:
    return lambda: sub.handled >= target


class InMemoryBus:
    """Bounded, thread-based implementation of :class:`~vigil.bus.base.EventBus`.

    Args:
        maxsize: events each subscriber may have queued before ``publish`` blocks.
        max_attempts: handler calls per event before it is dead-lettered (>= 1).
        retry_delay_s: pause before the second attempt; doubles after each failure.
        publish_timeout_s: how long ``publish`` may block on a full queue before raising
            :class:`BusFullError`; None waits for as long as it takes.
        dead_letter_keep: how many dead-lettered events to keep per subscriber for inspection.
        on_dead_letter: called with ``(subscriber, event, error)`` for each dead letter.
    """

    def __init__(
        self,
        *,
        maxsize: int = 10_000,
        max_attempts: int = 3,
        retry_delay_s: float = 0.05,
        publish_timeout_s: float | None = None,
        dead_letter_keep: int = 1000,
        on_dead_letter: Callable[[str, AnyEvent, str], None] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        if retry_delay_s < 0:
            raise ValueError(f"retry_delay_s must be >= 0, got {retry_delay_s}")
        self._maxsize = maxsize
        self._max_attempts = max_attempts
        self._retry_delay_s = retry_delay_s
        self._publish_timeout_s = publish_timeout_s
        self._dead_letter_keep = dead_letter_keep
        # Called with (subscriber, event, error) when an event is given up on: the wiring
        # spools it to disk, so a dead letter does not live only in memory.
        self._on_dead_letter = on_dead_letter
        # Serialises publish/subscribe/close so every subscriber sees one global order.
        self._lock = threading.Lock()
        self._subscribers: list[_Subscriber] = []
        self._closed = False

    # -- EventBus -------------------------------------------------------------------------

    def publish(self, event: AnyEvent) -> None:
        """Queue ``event`` for every subscriber (blocks while one of them is full).

        Raises:
            BusClosedError: the bus is closed.
            BusFullError: a queue stayed full past ``publish_timeout_s``; subscribers before it
                already have the event, so a retry may deliver it twice (at-least-once).
        """
        with self._lock:
            if self._closed:
                raise BusClosedError(f"cannot publish {event.type} {event.event_id}: the bus is closed")
            for sub in self._subscribers:
                with sub.cond:
                    sub.enqueued += 1
                try:
                    sub.queue.put(event, timeout=self._publish_timeout_s)
                except queue.Full:
                    with sub.cond:
                        sub.enqueued -= 1
                    raise BusFullError(
                        f"subscriber {sub.name!r} queue is full ({self._maxsize} events) for "
                        f"{self._publish_timeout_s}s; is its handler stuck?"
                    ) from None

    def subscribe(self, handler: EventHandler, *, name: str) -> None:
        """Start a dispatcher thread delivering every later event to ``handler``."""
        with self._lock:
            if self._closed:
                raise BusClosedError(f"cannot subscribe {name!r}: the bus is closed")
            if any(sub.name == name for sub in self._subscribers):
                raise ValueError(f"a subscriber named {name!r} already exists")
            sub = _Subscriber(
                name=name,
                handler=handler,
                queue=queue.Queue(maxsize=self._maxsize),
                dead_letter_keep=self._dead_letter_keep,
            )
            sub.thread = threading.Thread(target=self._dispatch, args=(sub,), name=f"bus-{name}", daemon=True)
            sub.thread.start()
            self._subscribers.append(sub)

    def flush(self, timeout_s: float) -> bool:
        """Wait until each subscriber has handled (or dead-lettered) all events published so far."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            targets = [(sub, sub.enqueued) for sub in self._subscribers]
        for sub, target in targets:
            with sub.cond:
                done = sub.cond.wait_for(_caught_up(sub, target), timeout=max(0.0, deadline - time.monotonic()))
            if not done:
                return False
        return True

    def close(self, timeout_s: float = 30.0) -> None:
        """Refuse new events, let every dispatcher drain its queue, then stop the threads.

        If a handler is still busy after ``timeout_s``, the undelivered count is logged as an
        error (the threads are daemons, so they cannot keep the process alive).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            subscribers = list(self._subscribers)
        deadline = time.monotonic() + timeout_s
        for sub in subscribers:
            # Blocks only while the queue is full; the dispatcher keeps consuming meanwhile.
            sub.queue.put(_STOP)
        for sub in subscribers:
            assert sub.thread is not None
            sub.thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if sub.thread.is_alive():
                with sub.cond:
                    left = sub.enqueued - sub.handled
                logger.error(
                    "bus closed after %.1fs with %d events not yet handled by subscriber %r",
                    timeout_s,
                    left,
                    sub.name,
                )

    # -- inspection -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def dead_letters(self) -> dict[str, DeadLetterStats]:
        """Dead-letter count and last error per subscriber name."""
        with self._lock:
            subscribers = list(self._subscribers)
        out = {}
        for sub in subscribers:
            with sub.cond:
                out[sub.name] = sub.dead
        return out

    def dead_letter_events(self, name: str) -> list[AnyEvent]:
        """The most recent events subscriber ``name`` gave up on (for inspection or replay)."""
        sub = self._subscriber(name)
        with sub.cond:
            return list(sub.dead_events)

    def pending(self) -> dict[str, int]:
        """Events queued or in progress, per subscriber name."""
        with self._lock:
            subscribers = list(self._subscribers)
        out = {}
        for sub in subscribers:
            with sub.cond:
                out[sub.name] = sub.enqueued - sub.handled
        return out

    # -- internals ------------------------------------------------------------------------

    def _subscriber(self, name: str) -> _Subscriber:
        with self._lock:
            for sub in self._subscribers:
                if sub.name == name:
                    return sub
            names = ", ".join(s.name for s in self._subscribers) or "none"
        raise KeyError(f"no subscriber named {name!r}; subscribers: {names}")

    def _dispatch(self, sub: _Subscriber) -> None:
        while True:
            item = sub.queue.get()
            if isinstance(item, _Stop):
                return
            self._deliver(sub, item)
            with sub.cond:
                sub.handled += 1
                sub.cond.notify_all()

    def _deliver(self, sub: _Subscriber, event: AnyEvent) -> None:
        delay_s = self._retry_delay_s
        error = ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                sub.handler(event)
            except Exception as exc:
                # The top of a worker loop: a handler bug must not kill the dispatcher.
                logger.warning(
                    "subscriber %r failed on %s %s (attempt %d/%d): %s",
                    sub.name,
                    event.type,
                    event.event_id,
                    attempt,
                    self._max_attempts,
                    exc,
                    exc_info=True,
                )
                error = f"{type(exc).__name__}: {exc}"
                if attempt < self._max_attempts:
                    time.sleep(delay_s)
                    delay_s *= 2
            else:
                return
        with sub.cond:
            sub.dead = DeadLetterStats(count=sub.dead.count + 1, last_error=error, last_event_id=event.event_id)
            sub.dead_events.append(event)
        if self._on_dead_letter is not None:
            try:
                self._on_dead_letter(sub.name, event, error)
            except Exception:  # the hook must not kill the dispatcher; the event is still counted
                logger.exception("could not keep dead letter %s durably", event.event_id)
        logger.error(
            "subscriber %r dead-lettered %s %s after %d attempts: %s",
            sub.name,
            event.type,
            event.event_id,
            self._max_attempts,
            error,
        )
