"""InMemoryBus: ordering, draining, retries, dead letters and back-pressure."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from vigil.bus import BusClosedError, BusFullError, EventBus, InMemoryBus
from vigil.events import AnyEvent, CameraHealth
from vigil.events.samples import camera_health

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _events(n: int) -> list[CameraHealth]:
    return [camera_health(occurred_at=T0 + timedelta(milliseconds=i), frames_in=i) for i in range(n)]


def test_in_memory_bus_satisfies_the_protocol() -> None:
    bus: EventBus = InMemoryBus()
    bus.close(1.0)


def test_order_is_preserved_per_subscriber() -> None:
    bus = InMemoryBus(maxsize=16)
    seen: dict[str, list[str]] = {"a": [], "b": []}
    bus.subscribe(lambda e: seen["a"].append(e.event_id), name="a")
    bus.subscribe(lambda e: seen["b"].append(e.event_id), name="b")
    events = _events(500)
    for event in events:
        bus.publish(event)
    assert bus.flush(10.0)
    bus.close(5.0)
    expected = [e.event_id for e in events]
    assert seen["a"] == expected
    assert seen["b"] == expected


def test_close_drains_everything_published_before() -> None:
    bus = InMemoryBus(maxsize=1000)
    handled: list[AnyEvent] = []
    bus.subscribe(handled.append, name="store")
    for event in _events(10_000):
        bus.publish(event)
    bus.close(30.0)
    assert len(handled) == 10_000
    assert bus.pending() == {"store": 0}


def test_failing_handler_is_retried_then_dead_lettered(caplog: pytest.LogCaptureFixture) -> None:
    bus = InMemoryBus(max_attempts=3, retry_delay_s=0.001)
    calls: list[str] = []
    ok: list[str] = []

    def flaky(event: AnyEvent) -> None:
        calls.append(event.event_id)
        assert isinstance(event, CameraHealth)
        if event.frames_in == 1:
            raise RuntimeError("disk full")

    bus.subscribe(flaky, name="flaky")
    bus.subscribe(lambda e: ok.append(e.event_id), name="healthy")
    events = _events(3)
    with caplog.at_level(logging.WARNING, logger="vigil.bus.memory"):
        for event in events:
            bus.publish(event)
        assert bus.flush(5.0)
    bad = events[1].event_id
    assert calls.count(bad) == 3
    stats = bus.dead_letters()
    assert stats["flaky"].count == 1
    assert stats["flaky"].last_error == "RuntimeError: disk full"
    assert stats["flaky"].last_event_id == bad
    assert stats["healthy"].count == 0
    assert [e.event_id for e in bus.dead_letter_events("flaky")] == [bad]
    assert ok == [e.event_id for e in events]
    assert "dead-lettered" in caplog.text
    bus.close(1.0)


def test_handler_that_recovers_is_not_dead_lettered() -> None:
    bus = InMemoryBus(max_attempts=3, retry_delay_s=0.001)
    attempts: list[int] = []

    def recovers(_: AnyEvent) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("database restarting")

    bus.subscribe(recovers, name="store")
    bus.publish(_events(1)[0])
    bus.close(5.0)
    assert len(attempts) == 3
    assert bus.dead_letters()["store"].count == 0


def test_publish_and_subscribe_after_close_raise() -> None:
    bus = InMemoryBus()
    bus.close(1.0)
    with pytest.raises(BusClosedError, match="closed"):
        bus.publish(_events(1)[0])
    with pytest.raises(BusClosedError, match="closed"):
        bus.subscribe(lambda e: None, name="late")
    bus.close(1.0)  # idempotent


def test_duplicate_subscriber_name_is_refused() -> None:
    bus = InMemoryBus()
    bus.subscribe(lambda e: None, name="store")
    with pytest.raises(ValueError, match="already exists"):
        bus.subscribe(lambda e: None, name="store")
    bus.close(1.0)


def test_slow_subscriber_loses_nothing_and_does_not_hold_up_others() -> None:
    bus = InMemoryBus(maxsize=8)
    slow: list[str] = []
    fast: list[str] = []
    fast_done = threading.Event()
    events = _events(60)

    def slow_handler(event: AnyEvent) -> None:
        time.sleep(0.002)
        slow.append(event.event_id)

    def fast_handler(event: AnyEvent) -> None:
        fast.append(event.event_id)
        if len(fast) == len(events):
            fast_done.set()

    bus.subscribe(slow_handler, name="slow")
    bus.subscribe(fast_handler, name="fast")
    for event in events:
        bus.publish(event)  # blocks whenever the slow queue is full: back-pressure, not loss
    assert fast_done.wait(5.0)
    bus.close(10.0)
    assert slow == [e.event_id for e in events]
    assert fast == slow


def test_publish_timeout_on_a_stuck_subscriber() -> None:
    release = threading.Event()
    bus = InMemoryBus(maxsize=1, publish_timeout_s=0.05)

    def stuck(_: AnyEvent) -> None:
        release.wait(5.0)

    bus.subscribe(stuck, name="stuck")
    events = _events(3)
    bus.publish(events[0])  # taken by the dispatcher, which then blocks
    time.sleep(0.05)
    bus.publish(events[1])  # fills the queue
    with pytest.raises(BusFullError, match="'stuck' queue is full"):
        bus.publish(events[2])
    assert not bus.flush(0.05)
    release.set()
    assert bus.flush(5.0)
    bus.close(5.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"maxsize": 0}, "maxsize"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"retry_delay_s": -1.0}, "retry_delay_s"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InMemoryBus(**kwargs)  # type: ignore[arg-type]
