"""Fixtures for the scale-out tests: real ``nats-server`` processes on free loopback ports."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

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
