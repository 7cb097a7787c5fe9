"""Faults injected into real processes and real services; nothing acknowledged may be lost.

Each test starts its own nats-server(s) and PostgreSQL database, runs the real ``vigil``
roles as processes, kills something with SIGKILL mid-stream, and then checks by event id:
every event whose publish JetStream acknowledged is stored, exactly once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scale_rig import Rig, wait_for

from vigil.bus.connection import NatsConnection, NatsSettings
from vigil.bus.jetstream import JetStreamBus, StreamOptions
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


class OwnPostgres:
    """A PostgreSQL server of this test's own (initdb in a temp dir, a free port), run as postgres."""

    def __init__(self) -> None:
        import shutil
        import tempfile

        from vigil.deploy.nats_server import free_port

        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bindir or shutil.which("runuser") is None:
            pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql")
        self.bin = bindir[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_pg(["initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres"])

    def _as_pg(self, argv: list[str]) -> None:
        import subprocess

        cmd = ["runuser", "-u", "postgres", "--", str(self.bin / argv[0]), *argv[1:]]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> OwnPostgres:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._as_pg(["pg_ctl", "-D", str(self.dir / "data"), "-o", opts, "-l", str(self.dir / "log"), "-w", "start"])
        return self

    def crash(self) -> None:
        self._as_pg(["pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop"])

    def stop(self) -> None:
        import shutil

        with contextlib.suppress(Exception):  # already stopped
            self._as_pg(["pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.dir, ignore_errors=True)
