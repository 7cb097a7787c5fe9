"""Fixtures for the scale-out tests: real ``nats-server`` processes on free loopback ports."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scale_rig import Rig, pg_db_fixture

from vigil.deploy.nats_server import NatsCluster


def _need_nats_server() -> None:
    if shutil.which("nats-server") is None:
        pytest.skip("nats-server not installed (scripts/system-deps.sh installs it)")


@pytest.fixture
def nats_node(tmp_path: Path) -> Iterator[NatsCluster]:
    """One JetStream server of this test's own (its store in ``tmp_path``)."""
    _need_nats_server()
    cluster = NatsCluster.plan(tmp_path / "nats", 1)
    with cluster.start():
        yield cluster


@pytest.fixture
def nats_cluster3(tmp_path: Path) -> Iterator[NatsCluster]:
    """A three-node JetStream cluster of this test's own on loopback."""
    _need_nats_server()
    cluster = NatsCluster.plan(tmp_path / "nats", 3)
    with cluster.start():
        yield cluster


@pytest.fixture
def pg_db() -> Iterator[str]:
    """A fresh PostgreSQL database (DSN), dropped afterwards."""
    yield from pg_db_fixture()


@pytest.fixture
def rig_factory(tmp_path: Path, pg_db: str) -> Iterator[Callable[..., Rig]]:
    _need_nats_server()
    made: list[Rig] = []

    def make(nodes: int = 1, cameras: list[dict[str, object]] | None = None) -> Rig:
        nats = NatsCluster.plan(tmp_path / "nats", nodes).start()
        rig = Rig(tmp_path, nats, pg_db, cameras or [])
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.stop_all()
        rig.nats.stop()
