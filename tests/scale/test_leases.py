"""Camera leases on a real JetStream KV bucket: fair share, takeover, fencing, no double holders."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vigil.bus.connection import NatsConnection, NatsSettings
from vigil.bus.leases import LeaseManager
from vigil.deploy.nats_server import NatsCluster
from vigil.events import AnyEvent
from vigil.events.samples import camera_health
from vigil.workers.scale_worker import FencedPublisher

pytestmark = pytest.mark.nats

CAMERAS = [f"cam-{i}" for i in range(6)]


def _wait(cond: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


class Recorder:
    """What a worker was told: gains and losses, in order, with times."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, str, object]] = []
        self.lock = threading.Lock()

    def gain(self, camera: str, epoch: int) -> None:
        with self.lock:
            self.events.append((time.monotonic(), "gain", camera, epoch))

    def lose(self, camera: str, reason: str) -> None:
        with self.lock:
            self.events.append((time.monotonic(), "lose", camera, reason))


@pytest.fixture
def connect(nats_node: NatsCluster) -> Iterator[Callable[[], NatsConnection]]:
    opened: list[NatsConnection] = []

    def make() -> NatsConnection:
        c = NatsConnection(NatsSettings(servers=nats_node.urls))
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


class SentEvents:
    """Stands in for the JetStream bus under a :class:`FencedPublisher`: what went out, with its epoch."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def publish(self, event: AnyEvent, headers: dict[str, str]) -> None:
        self.sent.append((event.camera_id, headers["Vigil-Lease-Epoch"]))


def _manager(conn: NatsConnection, name: str, rec: Recorder, cameras: list[str] = CAMERAS) -> LeaseManager:
    return LeaseManager(
        conn,
        worker_id=name,
        cameras=cameras,
        ttl_s=3.0,
        renew_every_s=0.5,
        safety_margin_s=1.0,
        on_gain=rec.gain,
        on_lose=rec.lose,
    )


def test_two_workers_split_the_cameras_and_a_dead_ones_move_within_ttl(
    connect: Callable[[], NatsConnection],
) -> None:
    ra, rb = Recorder(), Recorder()
    a = _manager(connect(), "wa", ra, [*CAMERAS, "cam-0"]).start()  # cam-0 configured twice
    b = _manager(connect(), "wb", rb).start()
    assert _wait(lambda: len(a.held()) + len(b.held()) == 6 and len(b.held()) == 3, 15)
    assert set(a.held()).isdisjoint(b.held())
    epochs_before = {c: h.epoch for c, h in {**a.held(), **b.held()}.items()}

    # wa dies (no release, no more heartbeats): its cameras move to wb within ttl + a tick.
    moved = set(a.held())
    killed_at = time.monotonic()
    a.stop(release=False)
    assert _wait(lambda: set(b.held()) == set(CAMERAS), 10)
    takeover_s = max(t for t, kind, cam, _ in rb.events if kind == "gain" and cam in moved) - killed_at
    assert takeover_s <= 3.0 + 2.0
    for cam in moved:
        assert b.held()[cam].epoch > epochs_before[cam]  # a new epoch: the old one is fenced
    b.stop()


def test_a_newcomer_takes_a_fair_share_one_camera_at_a_time(connect: Callable[[], NatsConnection]) -> None:
    ra, rb = Recorder(), Recorder()
    a = _manager(connect(), "wa", ra).start()
    assert _wait(lambda: len(a.held()) == 6, 10)
    b = _manager(connect(), "wb", rb).start()
    assert _wait(lambda: len(a.held()) == 3 and len(b.held()) == 3, 15)
    time.sleep(1.5)
    assert len(a.held()) == 3 and len(b.held()) == 3  # settled, no flapping
    losses = [e for e in ra.events if e[1] == "lose"]
    assert losses == []  # a gave cameras back voluntarily (on_release), it never lost one
    gains_b = sorted(t for t, kind, _, _ in rb.events if kind == "gain")
    assert all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(gains_b))
    a.stop()
    b.stop()


def test_a_worker_that_cannot_renew_stops_before_anyone_else_may_claim(
    nats_node: NatsCluster, connect: Callable[[], NatsConnection]
) -> None:
    ra, rb = Recorder(), Recorder()
    a = _manager(connect(), "wa", ra).start()
    assert _wait(lambda: len(a.held()) == 6, 10)
    # wa's renewals never reach the server any more (as in a partition).
    a._kv.put = _never  # type: ignore[method-assign,union-attr]
    frozen_at = time.monotonic()
    seen_by_b: list[int | None] = []

    def gain_and_check(camera: str, epoch: int) -> None:
        # The fence itself: the moment b holds a camera, a may no longer publish for it
        # (a may still hand cameras over voluntarily before its lease lapses).
        seen_by_b.append(a.epoch(camera))
        rb.gain(camera, epoch)

    b = _manager(connect(), "wb", rb)
    b._on_gain = gain_and_check
    b.start()
    # held() counts a claim as soon as it is granted; its on_gain callback runs on a thread just after.
    assert _wait(lambda: len(b.held()) == 6 and len(seen_by_b) == 6, 15)
    assert all(e is None for e in seen_by_b)
    assert _wait(lambda: len([e for e in ra.events if e[1] == "lose"]) >= 1, 5)
    a_stopped = max(t for t, kind, _, _ in ra.events if kind == "lose")
    assert a_stopped - frozen_at <= 3.0 + 1.0  # told to stop within ttl (callbacks run on threads)
    a.stop(release=False)
    b.stop()


def test_workers_that_lost_their_leases_while_nats_stalled_claim_again_once_it_answers(
    nats_node: NatsCluster, connect: Callable[[], NatsConnection]
) -> None:
    """NATS stops answering for longer than the TTL (the server is frozen, as on a starved
    machine): every worker stops its cameras; once NATS answers again the cameras are claimed
    again, with newer epochs, and shared fairly. Their keys still name the workers that
    lapsed, whose heartbeats are current again: nobody may treat them as held."""
    import os
    import signal

    ra, rb = Recorder(), Recorder()
    a = _manager(connect(), "wa", ra).start()
    b = _manager(connect(), "wb", rb).start()
    assert _wait(lambda: len(a.held()) == 3 and len(b.held()) == 3, 15)
    before = {c: h.epoch for c, h in {**a.held(), **b.held()}.items()}
    sent = SentEvents()
    fenced = FencedPublisher(sent, a, "wa")  # type: ignore[arg-type]
    runs_before = {cam: fenced.for_run(epoch) for cam, epoch in before.items() if cam in a.held()}
    [node] = nats_node.nodes
    assert node.process is not None
    os.kill(node.process.pid, signal.SIGSTOP)
    try:
        assert _wait(lambda: not a.held() and not b.held(), 10)  # both stopped within the TTL
        assert _wait(lambda: a.epoch("cam-0") is None and b.epoch("cam-0") is None, 1)
        time.sleep(1.0)
    finally:
        os.kill(node.process.pid, signal.SIGCONT)
    assert _wait(lambda: len(a.held()) == 3 and len(b.held()) == 3, 30), (a.held(), b.held())
    assert set(a.held()).isdisjoint(b.held())
    for cam, holder in {**a.held(), **b.held()}.items():
        assert holder.epoch > before[cam]  # claimed anew: the lapsed epoch stays fenced
    # A run stopped by the lapse may still be finishing a frame when its camera is claimed again:
    # what it publishes now must not go out under the new epoch; the new run's events do.
    for cam, run in runs_before.items():
        run.publish(camera_health(camera_id=cam))
    assert sent.sent == [] and fenced.fenced == len(runs_before) == 3
    assert set(runs_before) & set(a.held())  # it claimed its own cameras again, so this was a real risk
    for cam, holder in a.held().items():
        fenced.for_run(holder.epoch).publish(camera_health(camera_id=cam))
    assert sorted(sent.sent) == sorted((cam, str(h.epoch)) for cam, h in a.held().items())
    a.stop()
    b.stop()


async def _never(*_args: object, **_kwargs: object) -> int:
    import asyncio

    await asyncio.sleep(3600)
    return 0


def test_vigil_status_shows_which_worker_holds_each_camera(
    connect: Callable[[], NatsConnection], nats_node: NatsCluster, tmp_path: Path
) -> None:
    import json
    import subprocess
    import sys
    from datetime import UTC, datetime

    import yaml

    from vigil.events.samples import camera_health
    from vigil.store import Store

    rec = Recorder()
    a = _manager(connect(), "wa", rec, ["gate-1"]).start()
    assert _wait(lambda: "gate-1" in a.held(), 10)
    db = tmp_path / "v.db"
    with Store.open(f"sqlite:///{db}") as store:
        store.health.upsert(camera_health(camera_id="gate-1", occurred_at=datetime.now(UTC)))
    cfg = tmp_path / "deploy.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "bus": {"type": "nats"},
                "store": {"url": f"sqlite:///{db}"},
                "scale": {"nats": {"servers": list(nats_node.urls)}},
            }
        )
    )
    out = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", "status", "-c", str(cfg), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    [row] = json.loads(out.stdout.strip().splitlines()[-1])
    assert row["camera_id"] == "gate-1"
    assert row["worker"] == "wa"
    assert row["lease_epoch"] == a.held()["gate-1"].epoch
    assert row["held_since"] is not None
    a.stop()
