"""JetStreamBus against a real nats-server: exactly-once storage by id, spooling, redelivery."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.msg import Msg
from pydantic import ValidationError

from vigil.bus import EventBus
from vigil.bus.base import BusAuthError, BusUnavailableError
from vigil.bus.connection import NatsConnection, NatsSettings
from vigil.bus.jetstream import STREAMS, Delivery, JetStreamBus, _ack_metadata
from vigil.bus.subjects import camera_from_token, camera_token, subject_for
from vigil.config.scale import ScaleConfig
from vigil.deploy.nats_server import NatsCluster, free_port
from vigil.events import CameraHealth
from vigil.events.samples import camera_health

pytestmark = pytest.mark.nats

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _events(n: int, camera: str = "cam-1") -> list[CameraHealth]:
    return [camera_health(camera_id=camera, occurred_at=T0 + timedelta(milliseconds=i), frames_in=i) for i in range(n)]


def _wait(cond: object, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def conn(nats_node: NatsCluster) -> Iterator[NatsConnection]:
    c = NatsConnection(NatsSettings(servers=nats_node.urls))
    yield c
    c.close()


def test_camera_ids_become_one_subject_token_and_back() -> None:
    for cam in ("cam-1", "gate.north", "a b*>", "Straße/4"):
        token = camera_token(cam)
        assert "." not in token and " " not in token and "*" not in token and ">" not in token
        assert camera_from_token(token) == cam
    assert subject_for("track.started", "gate.north") == "vigil.track.gate~2Enorth"
    assert subject_for("camera.health", "c") == "vigil.health.c"
    with pytest.raises(ValueError, match="no stream takes"):
        subject_for("mystery.event", "c")


def test_every_event_is_consumed_once_and_a_republished_id_is_dropped(conn: NatsConnection) -> None:
    bus: EventBus = JetStreamBus(conn)
    assert isinstance(bus, JetStreamBus)
    got: list[str] = []
    deliveries: list[Delivery] = []
    lock = threading.Lock()

    def handle(batch: Sequence[Delivery]) -> None:
        with lock:
            got.extend(d.event.event_id for d in batch)
            deliveries.extend(batch)

    bus.subscribe_batch(handle, name="indexer")
    events = _events(2000)
    for e in events:
        bus.publish(e)
    assert bus.flush(30)
    for e in events[:300]:  # a worker retrying after a lost ack
        bus.publish(e)
    assert bus.flush(30)
    assert _wait(lambda: len(got) >= 2000)
    time.sleep(0.5)
    assert len(got) == 2000
    assert got == [e.event_id for e in events]  # one stream, one publisher: in order
    assert bus.stats.acked == 2300
    # What the reply subjects say (read without nats-py's Msg.metadata): stream, sequence, time.
    assert {d.stream for d in deliveries} == {"VIGIL_HEALTH"}
    assert [d.stream_seq for d in deliveries] == list(range(1, 2001))
    assert {d.num_delivered for d in deliveries} == {1}
    assert all(abs((datetime.now(UTC) - d.stored_at).total_seconds()) < 60 for d in deliveries)
    # Every message acknowledged on its own (the acks of a batch go out in one write).
    assert _wait(lambda: conn.call(conn.js.consumer_info("VIGIL_HEALTH", "indexer")).num_ack_pending == 0, 10)
    info = conn.call(conn.js.consumer_info("VIGIL_HEALTH", "indexer"))
    assert info.ack_floor is not None and info.ack_floor.stream_seq == 2000
    assert info.num_redelivered == 0
    bus.close(5)


def test_a_reply_subject_reads_as_nats_py_reads_it() -> None:
    v1 = "$JS.ACK.VIGIL_TRACKS.indexer.3.12345.12340.1733519400123456789.100"
    v2 = "$JS.ACK.hub.ACCHASH.VIGIL_TRACKS.indexer.3.12345.12340.1733519400123456789.100.r4nd"
    for reply in (v1, v2, v2.rsplit(".", 1)[0]):
        meta = Msg(_client=None, reply=reply).metadata  # type: ignore[arg-type]
        assert _ack_metadata(reply) == (meta.stream, meta.sequence.stream, meta.timestamp, meta.num_delivered)
    for other in (None, "", "_INBOX.abc", "$JS.ACK.too.short", "$JS.ACK.S.c.x.1.1.1.1"):
        assert _ack_metadata(other) is None


def test_a_second_consumer_with_the_same_name_shares_the_work(conn: NatsConnection, nats_node: NatsCluster) -> None:
    other = NatsConnection(NatsSettings(servers=nats_node.urls))
    try:
        a, b = JetStreamBus(conn), JetStreamBus(other)
        seen: Counter[str] = Counter()
        lock = threading.Lock()

        def handler(batch: Sequence[Delivery]) -> None:
            time.sleep(0.01)
            with lock:
                seen.update(d.event.event_id for d in batch)

        a.subscribe_batch(handler, name="indexer", batch=50)
        b.subscribe_batch(handler, name="indexer", batch=50)
        events = _events(3000)
        for e in events:
            a.publish(e)
        assert a.flush(30)
        assert _wait(lambda: sum(seen.values()) >= 3000)
        time.sleep(0.3)
        assert set(seen) == {e.event_id for e in events}
        assert max(seen.values()) == 1
        assert a.handled("indexer") > 0 and b.handled("indexer") > 0
        a.close(5)
        b.close(5)
    finally:
        other.close()


def test_a_deployment_that_grew_raises_the_indexers_shared_ack_bound(conn: NatsConnection) -> None:
    """The durable consumer outlives its processes: binding with a larger bound (more indexers)
    updates it on the real server, rather than leaving the one it was created with."""
    first = JetStreamBus(conn)
    first.subscribe_batch(lambda batch: None, name="indexer", batch=10, max_ack_pending=100)
    first.close(5)

    def bound() -> set[int]:
        async def read() -> set[int]:
            return {
                (await conn.js.consumer_info(spec.name, "indexer")).config.max_ack_pending or 0
                for spec in STREAMS
                if spec.holds_events
            }

        return conn.call(read(), timeout_s=10)

    assert bound() == {100}
    grown = JetStreamBus(conn)
    grown.subscribe_batch(lambda batch: None, name="indexer", batch=10, max_ack_pending=740_000)
    assert bound() == {740_000}
    grown.close(5)


def test_an_ack_bound_below_an_indexers_batches_is_one_clear_error() -> None:
    with pytest.raises(ValidationError, match=r"indexer_max_ack_pending \(8000\) must be at least 2 x indexer_batch"):
        ScaleConfig(indexer_batch=5000, indexer_max_ack_pending=8000, indexer_parallel=1)
    with pytest.raises(ValidationError, match=r"indexer_max_ack_pending \(12000\) must be at least 3 x indexer_batch"):
        ScaleConfig(indexer_batch=5000, indexer_max_ack_pending=12000)


@pytest.mark.parametrize("parallel", [1, 2])
def test_parallel_batches_of_one_stream_are_handled_at_once_and_each_acked_once(
    conn: NatsConnection, parallel: int
) -> None:
    # The first batch is held until another batch of the same stream has been handled: with
    # indexer_parallel 2 that happens while it is in hand; with 1 the stream waits for it.
    bus = JetStreamBus(conn)
    seen: Counter[str] = Counter()
    batches: list[int] = []
    lock = threading.Lock()
    second_done = threading.Event()
    overlapped: list[bool] = []

    def handle(batch: Sequence[Delivery]) -> None:
        with lock:
            batches.append(len(batch))
            first = len(batches) == 1
        if first:
            overlapped.append(second_done.wait(1.0 if parallel == 1 else 10.0))
        else:
            second_done.set()
        with lock:
            seen.update(d.event.event_id for d in batch)

    bus.subscribe_batch(handle, name="indexer", batch=100, parallel=parallel)
    events = _events(400)
    for e in events:
        bus.publish(e)
    assert bus.flush(10)
    assert _wait(lambda: sum(seen.values()) >= 400)
    time.sleep(0.3)  # nothing handled twice afterwards either
    assert seen == Counter({e.event_id: 1 for e in events})
    assert overlapped == [parallel > 1]
    assert _wait(lambda: bus.handled("indexer") == 400)
    bus.close(5)


def test_a_failing_handler_gets_the_batch_again_and_nothing_is_lost(conn: NatsConnection) -> None:
    bus = JetStreamBus(conn)
    failures = {"left": 3}
    stored: list[str] = []

    def flaky(batch: Sequence[Delivery]) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("database restarting")
        stored.extend(d.event.event_id for d in batch)

    bus.subscribe_batch(flaky, name="indexer")
    events = _events(200)
    for e in events:
        bus.publish(e)
    assert bus.flush(10)
    assert _wait(lambda: len(set(stored)) >= 200)
    assert set(stored) == {e.event_id for e in events}
    bus.close(5)


def test_an_unreadable_message_is_a_dead_letter_not_a_stuck_consumer(conn: NatsConnection) -> None:
    bus = JetStreamBus(conn)
    got: list[str] = []
    bus.subscribe_batch(lambda b: got.extend(d.event.event_id for d in b), name="indexer")
    conn.call(conn.js.publish("vigil.track.cam-1", b'{"type": "track.started", "schema_version": 99}'))
    good = _events(3)
    for e in good:
        bus.publish(e)
    assert _wait(lambda: len(got) == 3)
    assert _wait(lambda: bus.dead_letters()["indexer"].count == 1)
    assert "schema_version 99" in (bus.dead_letters()["indexer"].last_error or "")
    bus.close(5)


def test_events_published_while_nats_is_down_are_spooled_and_replayed_in_order(nats_node: NatsCluster) -> None:
    conn = NatsConnection(NatsSettings(servers=nats_node.urls))
    try:
        bus = JetStreamBus(conn, ack_timeout_s=1.0)
        got: list[str] = []
        bus.subscribe_batch(lambda b: got.extend(d.event.event_id for d in b), name="indexer")
        before, during = _events(100, "cam-a"), _events(500, "cam-b")
        for e in before:
            bus.publish(e)
        assert bus.flush(10)
        node = nats_node.nodes[0]
        node.kill()
        started = time.monotonic()
        for e in during:
            bus.publish(e)  # never blocks: the spool takes them
        assert time.monotonic() - started < 5
        assert _wait(lambda: bus.outstanding == 500, 10)
        assert not bus.flush(0.5)
        nats_node.restart(node)
        assert bus.flush(30), f"{bus.outstanding} events still unacknowledged"
        assert _wait(lambda: len(set(got)) >= 600, 30)
        ids = [e.event_id for e in before + during]
        assert set(got) == set(ids)
        first = {}
        for i, eid in enumerate(got):
            first.setdefault(eid, i)
        assert sorted(ids, key=first.__getitem__) == ids  # replayed in publish order
        assert bus.stats.replayed >= 500
        bus.close(5)
    finally:
        conn.close()


def test_an_unreachable_server_and_a_wrong_password_are_one_line_each(tmp_path: object) -> None:
    port = free_port()
    with pytest.raises(BusUnavailableError, match=rf"NATS is not reachable at nats://127.0.0.1:{port}"):
        NatsConnection(NatsSettings(servers=(f"nats://127.0.0.1:{port}",), connect_timeout_s=0.5))
    import subprocess

    proc = subprocess.Popen(["nats-server", "-p", str(port), "--user", "vigil", "--pass", "right"])
    try:
        assert _wait(lambda: _listening(port), 10)
        started = time.monotonic()
        with pytest.raises(BusAuthError, match="refused the credentials") as info:
            NatsConnection(NatsSettings(servers=(f"nats://127.0.0.1:{port}",), user="vigil", password="wrong"))
        assert time.monotonic() - started < 5  # not a retry loop
        assert "\n" not in str(info.value) and "wrong" not in str(info.value)
        ok = NatsConnection(NatsSettings(servers=(f"nats://127.0.0.1:{port}",), user="vigil", password="right"))
        ok.close()
    finally:
        proc.terminate()
        proc.wait(10)


def _listening(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
