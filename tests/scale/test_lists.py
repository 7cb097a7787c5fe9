"""Lists on the bus: PostgreSQL/SQLite → KV bucket → every worker's live copy, with a staleness bound."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from vigil.bus.connection import NatsConnection, NatsSettings
from vigil.bus.lists import FaceRef, ListsPublisher, ListsReplica, encode_face, face_key
from vigil.core.accountability import Authorisation
from vigil.deploy.nats_server import NatsCluster
from vigil.plates.hotlist import match_plate
from vigil.store import Store
from vigil.store.plates import NewHotlistEntry
from vigil.workers.scale_lists import LiveGallery, desired_lists, replica_store

pytestmark = pytest.mark.nats


@pytest.fixture
def conn(nats_node: NatsCluster) -> Iterator[NatsConnection]:
    c = NatsConnection(NatsSettings(servers=nats_node.urls))
    yield c
    c.close()


def _wait(cond: object, timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if cond():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout_s} s")


def test_an_entry_added_and_removed_in_the_database_reaches_the_worker_within_5_s(
    conn: NatsConnection, tmp_path: Path
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'v.db'}")
    publisher = ListsPublisher(conn)
    replica = ListsReplica(conn, max_staleness_s=3.0)
    worker_view = replica_store(store, replica)
    hotlist = worker_view.plates.live_hotlist()  # type: ignore[attr-defined]
    publisher.sync(desired_lists(store))
    assert replica.wait_fresh(5)
    assert list(hotlist) == []

    auth = Authorisation("warrant 7", "Insp. Lee", "operator", datetime.now(UTC) + timedelta(days=1))
    [entry] = store.plates.add_entries([NewHotlistEntry("AB12CDE", auth)], max_days=30)
    publisher.sync(desired_lists(store))
    took = _wait(lambda: [h.entry_id for h in match_plate("AB12CDE", hotlist)] == [entry.entry_id], 5)
    assert took < 5

    store.plates.remove_entry(entry.entry_id)
    publisher.sync(desired_lists(store))
    took = _wait(lambda: match_plate("AB12CDE", hotlist) == [], 5)
    assert took < 5
    replica.close()
    store.close()


def test_a_stale_copy_matches_nothing_and_says_so(conn: NatsConnection, caplog: pytest.LogCaptureFixture) -> None:
    publisher = ListsPublisher(conn)
    emb = np.ones(128, np.float32) / np.sqrt(128)
    ref = FaceRef("subject-1", "faces/ref.jpg", emb.astype("<f4").tobytes(), time.time() + 3600)
    publisher.sync({face_key("sface", "ref-1"): encode_face(ref)})
    replica = ListsReplica(conn, max_staleness_s=1.0)
    gallery = LiveGallery(replica, "sface", 128)
    assert replica.wait_fresh(5)
    now = datetime.now(UTC)
    match = gallery.match(emb, 0.5, now)
    assert match is not None and match.subject_id == "subject-1"
    # The publisher stops (a partition looks the same from the worker): after the bound,
    # the same probe matches nothing, and the worker logs why.
    time.sleep(1.3)
    assert gallery.match(emb, 0.5, now) is None
    assert len(gallery) == 0
    assert "not matching faces or plates" in caplog.text
    publisher.sync({face_key("sface", "ref-1"): encode_face(ref)})
    assert replica.wait_fresh(5)
    assert gallery.match(emb, 0.5, datetime.now(UTC)) is not None
    replica.close()


def test_an_expired_entry_stops_matching_at_its_expiry_even_before_the_next_sync(conn: NatsConnection) -> None:
    publisher = ListsPublisher(conn)
    emb = np.ones(128, np.float32)
    ref = FaceRef("subject-2", "faces/r.jpg", emb.astype("<f4").tobytes(), time.time() + 0.5)
    publisher.sync({face_key("sface", "ref-2"): encode_face(ref)})
    replica = ListsReplica(conn, max_staleness_s=30)
    gallery = LiveGallery(replica, "sface", 128)
    assert replica.wait_fresh(5)
    assert gallery.match(emb, 0.5, datetime.now(UTC)) is not None
    time.sleep(0.6)
    assert gallery.match(emb, 0.5, datetime.now(UTC)) is None
    replica.close()
