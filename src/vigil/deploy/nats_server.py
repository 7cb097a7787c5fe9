"""Start and stop ``nats-server`` processes with JetStream: one node, or a cluster on loopback.

Used by ``vigil cluster up`` (a local cluster for trying scale-out on one machine), by the
fault tests and by the benchmarks. Each node gets its own client port, cluster port and
store directory; the nodes form one JetStream cluster (``cluster.name``), so streams with
three replicas survive the loss of any one node.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from vigil.core.errors import ConfigError, VigilError

NATS_SERVER = "nats-server"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def nats_server_binary() -> str:
    """Path of ``nats-server``; ConfigError (with the install hint) when it is missing."""
    found = shutil.which(NATS_SERVER)
    if found is None:
        raise ConfigError("nats-server not found on PATH; install it (Debian: apt install nats-server)")
    return found


@dataclass(slots=True)
class NatsNode:
    """One ``nats-server`` process (JetStream on)."""

    name: str
    port: int
    cluster_port: int
    store_dir: Path
    routes: list[int] = field(default_factory=list)
    host: str = "127.0.0.1"
    sync_always: bool = False
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config_text(self, cluster_name: str | None) -> str:
        lines = [
            f'server_name: "{self.name}"',
            f'listen: "{self.host}:{self.port}"',
            "jetstream {",
            f'  store_dir: "{self.store_dir}"',
            "  max_memory_store: 256MB",
            "  max_file_store: 8GB",
        ]
        if self.sync_always:
            lines.append("  sync_interval: always")
        lines.append("}")
        if cluster_name is not None:
            routes = ", ".join(f'"nats-route://{self.host}:{p}"' for p in self.routes)
            lines += [
                "cluster {",
                f'  name: "{cluster_name}"',
                f'  listen: "{self.host}:{self.cluster_port}"',
                f"  routes: [{routes}]",
                "}",
            ]
        return "\n".join(lines) + "\n"

    def start(self, workdir: Path, cluster_name: str | None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = workdir / f"{self.name}.conf"
        conf.write_text(self.config_text(cluster_name))
        self.log_path = workdir / f"{self.name}.log"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [nats_server_binary(), "-c", str(conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_listening(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise VigilError(f"nats-server {self.name} exited at start: {self.tail_log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise VigilError(f"nats-server {self.name} did not listen on {self.url} within {timeout_s:.0f} s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (default: kill -9) and wait for the process to exit."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout=15)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail_log(self, lines: int = 3) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "no log"
        return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])


@dataclass(slots=True)
class NatsCluster:
    """``n`` nodes forming one JetStream cluster on loopback (``n == 1``: a single server)."""

    workdir: Path
    nodes: list[NatsNode]
    cluster_name: str = "vigil"

    @classmethod
    def plan(
        cls,
        workdir: Path,
        n: int = 3,
        *,
        ports: list[int] | None = None,
        sync_always: bool = False,
        host: str = "127.0.0.1",
    ) -> NatsCluster:
        """Choose ports (free ones unless given) and store directories for ``n`` nodes."""
        if n < 1:
            raise ValueError(f"a cluster needs at least one node, got {n}")
        client_ports = ports or [free_port() for _ in range(n)]
        cluster_ports = [free_port() for _ in range(n)]
        nodes = [
            NatsNode(
                name=f"n{i + 1}",
                port=client_ports[i],
                cluster_port=cluster_ports[i],
                store_dir=workdir / f"n{i + 1}-store",
                routes=[p for j, p in enumerate(cluster_ports) if j != i],
                sync_always=sync_always,
                host=host,
            )
            for i in range(n)
        ]
        return cls(workdir, nodes)

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(node.url for node in self.nodes)

    def start(self, timeout_s: float = 20.0) -> NatsCluster:
        name = self.cluster_name if len(self.nodes) > 1 else None
        for node in self.nodes:
            node.start(self.workdir, name)
        try:
            for node in self.nodes:
                node.wait_listening(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, node: NatsNode, timeout_s: float = 20.0) -> None:
        node.start(self.workdir, self.cluster_name if len(self.nodes) > 1 else None)
        node.wait_listening(timeout_s)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> NatsCluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
