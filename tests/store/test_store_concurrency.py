"""Several writers on one SQLite file (the embedded deployment: indexer + API), and :memory:."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil.bus import InMemoryBus
from vigil.events.samples import camera_health, track_lifecycle
from vigil.store import EventSink, Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_concurrent_writers_on_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    Store.open(url).close()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        # Each thread has its own Store (its own pool), as separate processes would.
        with Store.open(url, migrate=False) as store:
            try:
                for i in range(25):
                    at = T0 + timedelta(seconds=i)
                    store.events.add_many(track_lifecycle(track_id=f"w{n}-{i}", start=at))
                    store.health.upsert(camera_health(camera_id=f"cam-{n}", occurred_at=at))
                    store.tracks.counts_by_class()
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with Store.open(url) as store:
        assert store.events.count() == 4 * 25 * 4
        assert store.tracks.counts_by_class() == {"person": 100}
        assert len(store.health.list()) == 4


def test_in_memory_sqlite_is_shared_across_threads() -> None:
    with Store.open("sqlite:///:memory:") as store:
        bus = InMemoryBus()
        bus.subscribe(EventSink(store.events), name="indexer")
        for event in track_lifecycle(start=T0):
            bus.publish(event)
        bus.close(10.0)
        assert store.events.count() == 4
