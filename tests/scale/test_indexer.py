"""The indexer's rules, without a broker: epoch fencing, orphaned tracks, removed list entries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.bus.jetstream import Delivery
from vigil.bus.leases import EPOCH_HEADER, SINCE_HEADER
from vigil.core.accountability import Authorisation
from vigil.events import AnyEvent, CandidateRaised, TrackEnded
from vigil.events.samples import track_lifecycle
from vigil.governance.alerts import Alert
from vigil.store import Store
from vigil.store.plates import NewHotlistEntry
from vigil.workers.indexer import Indexer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'v.db'}") as s:
        yield s


def _d(event: AnyEvent, epoch: int | None = None, since: datetime | None = None) -> Delivery:
    headers = {}
    if epoch is not None:
        headers[EPOCH_HEADER] = str(epoch)
        headers[SINCE_HEADER] = f"{(since or T0).timestamp():.6f}"
    return Delivery(event, headers, "VIGIL_TRACKS", 1, T0, 1)


def test_a_stale_epoch_is_refused_after_the_takeover_and_its_open_tracks_are_ended(store: Store) -> None:
    idx = Indexer(store)
    old = track_lifecycle(camera_id="cam", track_id="cam-old-1", n_updates=3, start=T0)[:-1]  # never ended
    idx.handle([_d(e, epoch=5, since=T0) for e in old])
    takeover = T0 + timedelta(seconds=20)
    new = track_lifecycle(camera_id="cam", track_id="cam-new-1", n_updates=1, start=takeover + timedelta(seconds=1))
    backlog = track_lifecycle(camera_id="cam", track_id="cam-old-2", n_updates=1, start=T0 + timedelta(seconds=5))
    zombie = track_lifecycle(camera_id="cam", track_id="cam-old-3", n_updates=1, start=takeover + timedelta(seconds=2))
    idx.handle([_d(e, epoch=9, since=takeover) for e in new] + [_d(e, epoch=5) for e in backlog + zombie])
    stored = {e.event_id for e in store.events.search(limit=100)}
    assert {e.event_id for e in backlog} <= stored  # the old holder's legitimate backlog
    assert not {e.event_id for e in zombie} & stored  # written after it lost the camera
    assert idx.stats.fenced == len(zombie)
    orphan = store.tracks.get("cam-old-1")
    assert orphan is not None and orphan.ended
    assert idx.stats.orphans_ended == 1
    # The reason is stored, as a track.ended of its own (the embedded mode's kind of record).
    [end] = [e for e in store.events.search(track_id="cam-old-1", limit=100) if e.type == "track.ended"]
    assert isinstance(end, TrackEnded) and end.end_reason is not None
    assert "lost its lease" in end.end_reason and "ended by the indexer" in end.end_reason
    assert end.n_observations == orphan.n_observations and end.last_seen == orphan.last_seen


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'v.db'}"
    else:
        url = request.getfixturevalue("pg_db").replace("postgresql://", "postgresql+psycopg://", 1)
    with Store.open(url) as s:
        yield s


def test_an_indexer_started_after_a_takeover_still_ends_the_orphans(any_store: Store) -> None:
    # The first indexer stores the old holder's open track, then dies; the takeover happens
    # while none runs. The next indexer has never seen epoch 5 in memory; the store has.
    old = track_lifecycle(camera_id="cam", track_id="cam-old-1", n_updates=3, start=T0)[:-1]
    Indexer(any_store).handle([_d(e, epoch=5, since=T0) for e in old])
    takeover = T0 + timedelta(seconds=20)
    new = track_lifecycle(camera_id="cam", track_id="cam-new-1", n_updates=1, start=takeover + timedelta(seconds=1))
    restarted = Indexer(any_store)
    restarted.handle([_d(e, epoch=9, since=takeover) for e in new])
    orphan = any_store.tracks.get("cam-old-1")
    assert orphan is not None and orphan.ended and restarted.stats.orphans_ended == 1
    assert any_store.epochs.newest() == {"cam": (9, pytest.approx(takeover.timestamp()))}


def test_an_indexer_started_after_a_takeover_refuses_the_old_holder_at_once(any_store: Store) -> None:
    # One indexer saw the takeover and stored it; a second (or the same, restarted) meets the
    # old holder's late events first, before any of the new holder's: they are still refused.
    takeover = T0 + timedelta(seconds=20)
    first = Indexer(any_store)
    first.handle([_d(e, epoch=5, since=T0) for e in track_lifecycle(camera_id="cam", track_id="a", start=T0)])
    first.handle(
        [_d(e, epoch=9, since=takeover) for e in track_lifecycle(camera_id="cam", track_id="b", start=takeover)]
    )
    zombie = track_lifecycle(camera_id="cam", track_id="z", n_updates=1, start=takeover + timedelta(seconds=2))
    second = Indexer(any_store)
    second.handle([_d(e, epoch=5) for e in zombie])
    assert second.stats.fenced == len(zombie) and any_store.tracks.get("z") is None
    # A stored epoch never goes down (two indexers, the later one with the older news).
    any_store.epochs.raise_to({"cam": (7, T0.timestamp())})
    assert any_store.epochs.newest()["cam"][0] == 9


def test_a_candidate_for_a_removed_or_expired_entry_is_refused(store: Store) -> None:
    auth = Authorisation("warrant 9", "Insp. Lee", "operator", T0 + timedelta(days=2))
    [entry] = store.plates.add_entries([NewHotlistEntry("AB12CDE", auth)], max_days=30, now=T0)

    def cand(at: datetime) -> CandidateRaised:
        return CandidateRaised(camera_id="cam", occurred_at=at, kind="plate", list_entry_id=entry.entry_id, score=0.9)

    idx = Indexer(store)
    ok, late = cand(T0 + timedelta(hours=1)), cand(T0 + timedelta(days=3))  # the second after expiry
    idx.handle([_d(ok), _d(late)])
    assert store.events.get(ok.event_id) is not None
    assert store.events.get(late.event_id) is None
    store.plates.remove_entry(entry.entry_id)
    after = cand(T0 + timedelta(hours=2))  # raised by a worker whose copy had not caught up
    idx.handle([_d(after)])
    assert store.events.get(after.event_id) is None
    assert idx.stats.candidates_refused == 2


def test_only_stored_candidates_become_alerts_read_back_from_the_store(store: Store) -> None:
    auth = Authorisation("warrant 9", "Insp. Lee", "operator", T0 + timedelta(days=2))
    [entry] = store.plates.add_entries([NewHotlistEntry("AB12CDE", auth)], max_days=30, now=T0)

    def cand(at: datetime) -> CandidateRaised:
        return CandidateRaised(camera_id="cam", occurred_at=at, kind="plate", list_entry_id=entry.entry_id, score=0.9)

    sent: list[Alert] = []
    idx = Indexer(store, alerts=sent.extend)
    first, second, late = cand(T0 + timedelta(hours=1)), cand(T0 + timedelta(hours=2)), cand(T0 + timedelta(days=3))
    idx.handle([_d(first), _d(late), _d(second)])
    assert [a.key for a in sent] == [first.event_id, second.event_id]  # the expired sighting: none
    assert all(a.kind == "candidate" and a.body["status"] == store.candidates.get(a.key).status for a in sent)
    idx.handle([_d(first)])  # redelivered after a crash between commit and alert: alerted again
    assert [a.key for a in sent][-1] == first.event_id and idx.stats.alerts_published == 3
