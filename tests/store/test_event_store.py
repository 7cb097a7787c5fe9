"""EventRepository, TrackRepository, HealthRepository and EventSink on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from vigil.bus import InMemoryBus
from vigil.core.errors import StoreError
from vigil.events import AnyEvent, BoundingBox, TrackEnded, TrackStarted, TrackUpdated
from vigil.events.samples import camera_health, track_lifecycle
from vigil.store import EventSink, Store
from vigil.store.tables import EventRow, TrackRow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _row_counts(store: Store) -> tuple[int, int]:
    with store.engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(EventRow)).scalar_one()
        tracks = conn.execute(select(func.count()).select_from(TrackRow)).scalar_one()
    return events, tracks


def test_add_many_is_idempotent_by_event_id(store: Store) -> None:
    events = track_lifecycle(start=T0)
    assert store.events.add_many(events) == len(events)
    assert store.events.add_many(events) == 0
    assert store.events.add_many([*events, events[0]]) == 0
    assert store.events.count() == len(events)
    # Folding ran once: a redelivery must not double-count observations.
    track = store.tracks.get("cam-1-run-1")
    assert track is not None
    assert track.n_observations == 3


def test_duplicates_within_one_batch_are_stored_once(store: Store) -> None:
    started = track_lifecycle(start=T0)[0]
    assert store.events.add_many([started, started, started]) == 1
    track = store.tracks.get(started.track_id)
    assert track is not None
    assert track.n_observations == 1


def test_empty_batch_writes_nothing(store: Store) -> None:
    assert store.events.add_many([]) == 0
    assert store.events.count() == 0


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")
def test_a_bad_event_rolls_back_the_whole_batch(store: Store) -> None:
    good = track_lifecycle(start=T0)
    # model_construct skips validation: a NULL camera_id reaches the database's NOT NULL.
    bad = TrackUpdated.model_construct(**{**good[1].model_dump(), "event_id": "bad", "camera_id": None})
    with pytest.raises(StoreError, match="storing 4 events failed"):
        store.events.add_many([good[0], bad, good[2], good[3]])
    assert _row_counts(store) == (0, 0)


def test_a_failure_while_folding_rolls_back_the_stored_events(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def fold_then_fail(session: Session, events: object) -> None:
        # A real database error after the INSERT, inside the same transaction.
        session.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr("vigil.store.repositories.fold_tracks", fold_then_fail)
    with pytest.raises(StoreError, match="no_such_table"):
        store.events.add_many(track_lifecycle(start=T0))
    assert _row_counts(store) == (0, 0)


def test_track_events_fold_into_tracks(store: Store) -> None:
    started, updated, updated2, ended = track_lifecycle(start=T0, n_updates=2, snapshot="snapshots/c/x.jpg")
    store.events.add_many([started])
    live = store.tracks.get(started.track_id)
    assert live is not None
    assert (live.ended, live.n_observations, live.first_seen, live.last_seen) == (False, 1, T0, T0)
    assert live.first_seen.tzinfo is not None

    store.events.add_many([updated, updated2])
    live = store.tracks.get(started.track_id)
    assert live is not None
    assert live.n_observations == 3
    assert live.last_seen == T0 + timedelta(seconds=2)
    assert live.best_confidence == pytest.approx(0.7)

    assert isinstance(ended, TrackEnded)
    store.events.add_many([ended])
    done = store.tracks.get(started.track_id)
    assert done is not None
    assert done.ended
    assert done.snapshot == "snapshots/c/x.jpg"
    assert done.n_observations == ended.n_observations
    assert done.last_seen == ended.last_seen


def test_out_of_order_track_events_converge(store: Store) -> None:
    started, updated, ended = track_lifecycle(start=T0, n_updates=1)
    store.events.add_many([ended])
    store.events.add_many([updated, started])  # late: the ended summary wins
    track = store.tracks.get(started.track_id)
    assert track is not None
    assert (track.ended, track.n_observations, track.first_seen) == (True, 2, T0)


def test_counts_by_class_and_track_listing(store: Store) -> None:
    for i, (camera, cls) in enumerate([("a", "person"), ("a", "person"), ("a", "car"), ("b", "person")]):
        store.events.add_many(
            track_lifecycle(
                camera_id=camera, track_id=f"{camera}-r-{i}", class_name=cls, start=T0 + timedelta(minutes=i)
            )
        )
    assert store.tracks.counts_by_class() == {"person": 3, "car": 1}
    assert store.tracks.counts_by_class("a") == {"person": 2, "car": 1}
    assert store.tracks.counts_by_class(since=T0 + timedelta(minutes=2)) == {"car": 1, "person": 1}
    listed = store.tracks.list(camera_id="a", limit=2)
    assert [t.track_id for t in listed] == ["a-r-0", "a-r-1"]
    assert [t.track_id for t in store.tracks.list(camera_id="a", limit=2, offset=2)] == ["a-r-2"]
    assert [t.track_id for t in store.tracks.list(class_name="person", newest_first=True)] == [
        "b-r-3",
        "a-r-1",
        "a-r-0",
    ]
    assert all(t.ended for t in store.tracks.list(ended=True))


def test_search_filters_and_pagination(store: Store) -> None:
    events: list[AnyEvent] = []
    for i in range(10):
        camera = "a" if i % 2 == 0 else "b"
        events.append(
            TrackStarted(
                camera_id=camera,
                occurred_at=T0 + timedelta(seconds=i),
                track_id=f"{camera}-r-{i}",
                class_name="person",
                box=BoundingBox(x1=0, y1=0, x2=1, y2=1),
                confidence=0.5,
                frame_index=i,
            )
        )
    events.append(camera_health(camera_id="a", occurred_at=T0 + timedelta(seconds=3)))
    store.events.add_many(reversed(events))

    everything = store.events.search(limit=100)
    assert [e.occurred_at for e in everything] == sorted(e.occurred_at for e in everything)
    assert len(everything) == 11
    assert store.events.count_by_type() == {"track.started": 10, "camera.health": 1}

    a_tracks = store.events.search(camera_id="a", type="track.started")
    assert [e.frame_index for e in a_tracks if isinstance(e, TrackStarted)] == [0, 2, 4, 6, 8]

    window = store.events.search(since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=5))
    assert [e.occurred_at for e in window] == [T0 + timedelta(seconds=s) for s in (2, 3, 3, 4)]

    pages = [store.events.search(type="track.started", limit=4, offset=o) for o in (0, 4, 8)]
    assert [len(p) for p in pages] == [4, 4, 2]
    assert [e.event_id for p in pages for e in p] == [e.event_id for e in events[:10]]

    newest = store.events.search(type="track.started", limit=1, newest_first=True)
    assert newest[0].event_id == events[9].event_id
    assert store.events.search(track_id="b-r-3")[0] == events[3]
    assert store.events.get(events[3].event_id) == events[3]
    assert store.events.get("missing") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"since": datetime(2026, 1, 1)}, "since must be timezone-aware"),
    ],
)
def test_search_rejects_bad_arguments(store: Store, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.events.search(**kwargs)  # type: ignore[arg-type]


def test_health_keeps_the_newest_snapshot_per_camera(store: Store) -> None:
    store.health.upsert(camera_health(camera_id="a", occurred_at=T0, frames_in=10))
    store.health.upsert(camera_health(camera_id="a", occurred_at=T0 + timedelta(seconds=5), frames_in=50))
    store.health.upsert(camera_health(camera_id="a", occurred_at=T0 + timedelta(seconds=1), frames_in=20))
    store.events.add_many([camera_health(camera_id="b", occurred_at=T0, state="reconnecting", last_error="timeout")])
    records = store.health.list()
    assert [(r.camera_id, r.frames_in, r.state) for r in records] == [
        ("a", 50, "running"),
        ("b", 100, "reconnecting"),
    ]
    assert records[0].updated_at == T0 + timedelta(seconds=5)
    assert records[1].last_error == "timeout"
    assert store.health.get("zzz") is None


def test_event_sink_indexes_a_bus_idempotently(store: Store) -> None:
    sink = EventSink(store.events)
    bus = InMemoryBus()
    bus.subscribe(sink.handle, name="indexer")
    events = [e for i in range(20) for e in track_lifecycle(track_id=f"cam-1-r-{i}", start=T0)]
    for event in [*events, *events[:10]]:  # a redelivery of the first ten
        bus.publish(event)
    bus.close(30.0)
    assert bus.dead_letters()["indexer"].count == 0
    assert store.events.count() == len(events)
    assert (sink.stored, sink.duplicates) == (len(events), 10)
    assert store.tracks.counts_by_class() == {"person": 20}


def test_closed_engine_errors_become_store_errors(database_url: str) -> None:
    store = Store.open(database_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE events")
    with pytest.raises(StoreError, match="counting events failed"):
        store.events.count()
    store.close()
