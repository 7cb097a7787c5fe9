"""Faults injected into real processes and real services; nothing acknowledged may be lost.

Each test starts its own nats-server(s) and PostgreSQL database, runs the real ``vigil``
roles as processes, kills something with SIGKILL mid-stream, and then checks by event id:
every event whose publish JetStream acknowledged is stored, exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scale_rig import Netns, OwnPostgres, Rig, wait_for

from vigil.bus.connection import NatsConnection, NatsSettings
from vigil.bus.jetstream import JetStreamBus, StreamOptions
from vigil.bus.leases import EPOCH_HEADER, PUBLISHED_HEADER, SINCE_HEADER, WORKER_HEADER
from vigil.bus.objects import MediaBucket
from vigil.events import AnyEvent
from vigil.events.samples import camera_health, track_lifecycle

pytestmark = [pytest.mark.nats, pytest.mark.fault, pytest.mark.postgres]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _events(n_tracks: int) -> list[AnyEvent]:
    out: list[AnyEvent] = []
    for k in range(n_tracks):
        cam = f"cam-{k % 8}"
        start = T0 + timedelta(seconds=k)
        out += track_lifecycle(camera_id=cam, track_id=f"{cam}-r-{k}", n_updates=8, start=start)
        out.append(camera_health(camera_id=cam, occurred_at=start))
    return out


class Publisher:
    """Publishes ``events`` from a thread at about ``rate`` per second, through JetStreamBus."""

    def __init__(self, rig: Rig, events: list[AnyEvent], rate: float) -> None:
        self.conn = NatsConnection(NatsSettings(servers=rig.nats.urls))
        replicas = 3 if len(rig.nats.nodes) > 1 else 1
        self.bus = JetStreamBus(self.conn, streams=StreamOptions(replicas=replicas), ack_timeout_s=2.0)
        self.events = events
        self.rate = rate
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        for i, e in enumerate(self.events):
            delay = started + i / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.bus.publish(e)

    def start(self) -> Publisher:
        self.thread.start()
        return self

    def finish(self, timeout_s: float = 60) -> None:
        self.thread.join(timeout_s)
        assert self.bus.flush(timeout_s), f"{self.bus.outstanding} events never acknowledged"
        self.bus.close(5)
        self.conn.close()


def _files(rig: Rig, name: str) -> list[Path]:
    root = rig.workdir / f"data-{name}" / "media"
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")] if root.exists() else []


def _all_stored(rig: Rig, ids: set[str]) -> Callable[[], bool]:
    return lambda: len(ids - set(rig.stored_ids())) == 0


def test_kill_9_of_the_indexer_mid_batch_loses_and_duplicates_nothing(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(nodes=1)
    rig.start("indexer-1")
    rig.wait_log("indexer-1", "indexer: consuming")
    events = _events(600)  # 6,600 events
    pub = Publisher(rig, events, rate=1500).start()
    wait_for(lambda: len(rig.stored_ids()) > 1000, 60, "the indexer to store its first batches")
    rig.kill9("indexer-1")  # mid-stream: batches in flight, some committed and not yet acked
    killed_with = len(rig.stored_ids())
    pub.finish()
    assert killed_with < len(events)
    rig.start("indexer-2")  # catches up from the durable consumer
    ids = {e.event_id for e in events}
    wait_for(_all_stored(rig, ids), 120, "the restarted indexer to catch up")
    stored = rig.stored_ids()
    assert len(stored) == len(set(stored)) == len(events)  # 0 lost, 0 duplicated
    tracks = rig.query("SELECT count(*), sum(n_observations) FROM tracks WHERE ended")
    assert tracks == [(600, 600 * 9)]  # folds not double-counted by the redelivery


def test_kill_9_of_one_nats_node_loses_no_acknowledged_event(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(nodes=3)
    rig.start("indexer-1")
    rig.wait_log("indexer-1", "indexer: consuming")
    events = _events(500)
    pub = Publisher(rig, events, rate=500).start()
    wait_for(lambda: pub.bus.stats.acked > 1500, 60, "publishing to get going")
    connected = pub.conn.nc.connected_url
    victim = next(n for n in rig.nats.nodes if connected is not None and n.port == connected.port)
    victim.kill()  # the node the publisher is talking to
    pub.finish(timeout_s=90)
    assert pub.bus.stats.acked == len(events)
    ids = {e.event_id for e in events}
    wait_for(_all_stored(rig, ids), 120, "every acknowledged event to be stored")
    stored = rig.stored_ids()
    assert len(stored) == len(set(stored)) == len(events)


@pytest.mark.rtsp
@pytest.mark.slow
def test_kill_9_of_a_worker_moves_its_camera_and_loses_no_acknowledged_event(
    rig_factory: Callable[..., Rig], rtsp_server_factory: Callable[..., object], installed_models_dir: object
) -> None:
    cams = [rtsp_server_factory(loop=True, realtime=True) for _ in range(2)]
    rig = rig_factory(
        nodes=1,
        cameras=[
            {"id": f"cam-{i}", "url": cam.url, "analysis_fps": 3.0}  # type: ignore[attr-defined]
            for i, cam in enumerate(cams)
        ],
    )
    rig.start("indexer-1")
    rig.wait_log("indexer-1", "indexer: consuming")
    rig.start("worker-1")
    rig.start("worker-2")
    # Each takes one camera (fair share), and worker-1 gets events acknowledged and stored.
    wait_for(lambda: "analysing" in rig.log("worker-1") and "analysing" in rig.log("worker-2"), 120, "both analysing")
    journal = rig.journals / "worker-1.acked"
    wait_for(lambda: journal.exists() and len(journal.read_text().splitlines()) >= 5, 120, "worker-1's acks")
    wait_for(lambda: rig.query("SELECT count(*) FROM tracks WHERE NOT ended")[0][0] > 0, 120, "an open track")
    victim_cam = next(
        line.split("camera ")[1].split(":")[0] for line in rig.log("worker-1").splitlines() if ": analysing" in line
    )

    rig.kill9("worker-1")
    took = wait_for(lambda: "took over from worker-1" in rig.log("worker-2"), 30, "worker-2 to take over")
    assert took <= 4.0 + 5.0, f"takeover took {took:.1f} s (TTL 4 s + 5 s allowed)"
    wait_for(lambda: rig.log("worker-2").count(": analysing") >= 2, 30, f"worker-2 to analyse {victim_cam}")
    time.sleep(3)
    assert rig.stop("worker-2") == 0  # graceful: ends its tracks, flushes, hands its leases back

    acked = set(rig.acked_ids())
    wait_for(_all_stored(rig, acked), 120, "every acknowledged event to be stored")
    stored = rig.stored_ids()
    assert len(stored) == len(set(stored))
    assert acked <= set(stored)
    # worker-1's open tracks were ended by the indexer when the lease moved; worker-2 ended its own.
    wait_for(lambda: rig.query("SELECT count(*) FROM tracks WHERE NOT ended")[0][0] == 0, 30, "no open track left")
    assert "orphaned by the previous lease holder" in rig.log("indexer-1")
    # Media: every stored snapshot is in the shared bucket, but for what the killed worker had
    # still staged; the gracefully stopped worker left nothing staged.
    snaps = [str(r[0]) for r in rig.query("SELECT snapshot FROM tracks WHERE snapshot IS NOT NULL")]
    staged1 = {p.relative_to(rig.workdir / "data-worker-1" / "media").as_posix() for p in _files(rig, "worker-1")}
    assert not _files(rig, "worker-2")
    conn = NatsConnection(NatsSettings(servers=rig.nats.urls))
    try:
        bucket = MediaBucket(conn)
        unshared = [s for s in snaps if s not in staged1 and not bucket.exists(s)]
    finally:
        conn.close()
    assert snaps and not unshared, (len(snaps), unshared)


def test_postgresql_restarted_mid_batch_the_indexer_retries_and_loses_nothing(
    rig_factory: Callable[..., Rig], tmp_path: object
) -> None:
    pg = OwnPostgres().start()
    try:
        rig = rig_factory(nodes=1)
        rig.dsn = pg.dsn
        env = {"VIGIL_STORE_URL": pg.dsn.replace("postgresql://", "postgresql+psycopg://", 1)}
        rig.start("indexer-1", env=env)
        rig.wait_log("indexer-1", "indexer: consuming")
        events = _events(500)
        pub = Publisher(rig, events, rate=1000).start()
        wait_for(lambda: len(rig.stored_ids()) > 800, 60, "the first batches")
        pg.crash()  # pg_ctl stop -m immediate: as good as kill -9 of the postmaster
        time.sleep(3)
        pg.start()
        pub.finish()
        ids = {e.event_id for e in events}
        wait_for(_all_stored(rig, ids), 120, "the indexer to retry every failed batch")
        stored = rig.stored_ids()
        assert len(stored) == len(set(stored)) == len(events)
        assert rig.query("SELECT count(*), sum(n_observations) FROM tracks WHERE ended") == [(500, 500 * 9)]
        assert "one by one" in rig.log("indexer-1")  # the crash did hit batches in flight
    finally:
        pg.stop()


def moved_camera(rig: Rig) -> str:
    line = next(line for line in rig.log("worker-2").splitlines() if "took over from worker-1" in line)
    return line.split("camera ")[1].split(":")[0]


def stream_headers(urls: tuple[str, ...]) -> list[dict[str, str]]:
    """Every message's headers (and camera id) in Vigil's streams, in stream order."""
    import asyncio

    import nats

    from vigil.bus.subjects import STREAMS, camera_from_token

    async def read() -> list[dict[str, str]]:
        nc = await nats.connect(servers=list(urls))
        js = nc.jetstream()
        out: list[dict[str, str]] = []
        for spec in STREAMS:
            info = await js.stream_info(spec.name)
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    msg = await js.get_msg(spec.name, seq)
                except Exception:  # deleted or aged out
                    continue
                out.append({**(msg.headers or {}), "camera": camera_from_token(msg.subject.split(".", 2)[2])})
        await nc.close()
        return out

    return asyncio.run(read())


@pytest.mark.slow
def test_a_partitioned_worker_loses_its_camera_and_never_publishes_as_its_owner(
    tmp_path: Path, installed_models_dir: object, people_clip: Path, cars_clip: Path
) -> None:
    from vigil.deploy.nats_server import NatsCluster

    ns = Netns()
    pg = None
    nats = None
    rig = None
    try:
        pg = OwnPostgres(extra_listen=ns.host_ip).start()
        nats = NatsCluster.plan(tmp_path / "nats", 1, host=ns.host_ip).start()
        # Recordings are analysed at detector speed (not skipped), so each camera runs a while.
        cams = [{"id": "cam-a", "url": f"file://{people_clip}"}, {"id": "cam-b", "url": f"file://{cars_clip}"}]
        rig = Rig(tmp_path, nats, pg.dsn, cams, store_dsn=pg.dsn.replace("127.0.0.1", ns.host_ip))
        rig.start("indexer-1")
        rig.wait_log("indexer-1", "indexer: consuming")
        rig.start("worker-1", prefix=ns.prefix())  # on its own "machine", behind the veth link
        rig.wait_log("worker-1", ": analysing", 120)
        rig.start("worker-2")
        wait_for(lambda: "handed over" in rig.log("worker-1") or "analysing" in rig.log("worker-2"), 120, "a split")
        wait_for(lambda: ": analysing" in rig.log("worker-2"), 120, "worker-2 to analyse a camera")
        journal = rig.journals / "worker-1.acked"
        wait_for(lambda: journal.exists() and len(journal.read_text().splitlines()) >= 3, 120, "worker-1's acks")

        ns.partition()
        took = wait_for(lambda: "took over from worker-1" in rig.log("worker-2"), 30, "the takeover")
        assert took <= 4.0 + 5.0
        wait_for(lambda: "lease could not be renewed" in rig.log("worker-1"), 15, "worker-1 to stop its camera")
        time.sleep(4)  # partitioned for well over the TTL
        ns.heal()
        wait_for(lambda: "NATS: reconnected" in rig.log("worker-1"), 60, "worker-1 to reconnect")
        time.sleep(3)
        assert rig.stop("worker-1") == 0
        assert rig.stop("worker-2") == 0

        acked = set(rig.acked_ids())
        wait_for(_all_stored(rig, acked), 120, "every acknowledged event to be stored")
        stored = rig.stored_ids()
        assert len(stored) == len(set(stored))
        # What the stream holds, with the headers the workers stamped: once worker-2 held the
        # moved camera, worker-1 published nothing for it (its spool replayed only older events).
        messages = stream_headers(nats.urls)
        takeover = next(h for h in messages if h.get(WORKER_HEADER) == "worker-2" and h["camera"] == moved_camera(rig))
        since = float(takeover[SINCE_HEADER])
        unstamped = [h for h in messages if h.get(WORKER_HEADER) and PUBLISHED_HEADER not in h]
        assert unstamped == []
        new_epoch = int(takeover[EPOCH_HEADER])
        late = [  # under the lease it lost (it may win the camera back later, with a newer epoch)
            h
            for h in messages
            if h.get(WORKER_HEADER) == "worker-1"
            and h["camera"] == takeover["camera"]
            and int(h[EPOCH_HEADER]) < new_epoch
            and float(h[PUBLISHED_HEADER]) >= since
        ]
        assert late == []
        assert any(h.get(WORKER_HEADER) == "worker-1" and h["camera"] == takeover["camera"] for h in messages)
        assert "refused" not in rig.log("indexer-1")  # the worker fenced itself; the indexer had nothing to do
    finally:
        if rig is not None:
            rig.stop_all()
        if nats is not None:
            nats.stop()
        if pg is not None:
            pg.stop()
        ns.close()
