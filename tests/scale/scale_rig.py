"""The fault-test rig: real role processes against real NATS and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import yaml

from vigil.deploy.nats_server import NatsCluster

PG_ADMIN_DSN = os.environ.get("VIGIL_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``cond`` until true; returns the seconds it took (fails the test with ``what``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if cond():
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def pg_db_fixture() -> Iterator[str]:
    """A fresh PostgreSQL database (DSN), dropped afterwards."""
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {str(exc).strip().splitlines()[0]}")
    name = f"vigil_fault_{uuid.uuid4().hex[:10]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


class Rig:
    """Role processes (``vigil indexer`` / ``vigil worker``) with one config, and checks on the store."""

    def __init__(
        self, workdir: Path, nats: NatsCluster, dsn: str, cameras: list[dict[str, object]], store_dsn: str | None = None
    ) -> None:
        self.workdir = workdir
        self.nats = nats
        self.dsn = dsn
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.journals = workdir / "acked"
        self.journals.mkdir(parents=True, exist_ok=True)
        cfg = {
            "bus": {"type": "nats"},
            "store": {"url": (store_dsn or dsn).replace("postgresql://", "postgresql+psycopg://", 1)},
            "scale": {
                "nats": {"servers": list(nats.urls), "replicas": 3 if len(nats.nodes) > 1 else 1},
                "leases": {"ttl_s": 4.0, "renew_every_s": 0.5, "safety_margin_s": 1.0},
                "indexer_batch": 500,
            },
            "detector": {"threads": 1},
            "cameras": cameras,
        }
        self.config = workdir / "rig.yaml"
        self.config.write_text(yaml.safe_dump(cfg))

    def start(
        self, name: str, *args: str, env: dict[str, str] | None = None, prefix: list[str] | None = None
    ) -> subprocess.Popen[bytes]:
        role = name.split("-", maxsplit=1)[0]
        argv = [*(prefix or []), sys.executable, "-m", "vigil.cli.main", "-v", role, "-c", str(self.config)]
        argv += ["--data-dir", str(self.workdir / f"data-{name}"), *args]
        if role == "worker":
            argv += ["--id", name]
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed when the rig stops
        full_env = {**os.environ, "VIGIL_ACK_JOURNAL_DIR": str(self.journals), **(env or {})}
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full_env)
        log.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def wait_log(self, name: str, text: str, timeout_s: float = 90) -> None:
        wait_for(lambda: text in self.log(name), timeout_s, f"{name!r} to log {text!r}: {self.log(name)[-800:]}")

    def kill9(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self, name: str, timeout_s: float = 60) -> int:
        proc = self.procs.pop(name)
        proc.terminate()
        return proc.wait(timeout_s)

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            proc.kill()
            proc.wait(10)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.dsn) as c:
            return c.execute(sql).fetchall()  # type: ignore[arg-type]

    def stored_ids(self) -> list[str]:
        try:
            return [str(r[0]) for r in self.query("SELECT event_id FROM events")]
        except psycopg.errors.UndefinedTable:
            return []

    def acked_ids(self) -> list[str]:
        ids: list[str] = []
        for path in self.journals.glob("*.acked"):
            ids += [line for line in path.read_text().splitlines() if line]
        return ids


class OwnPostgres:
    """A PostgreSQL server of this test's own (initdb in a temp dir, a free port), run as postgres."""

    def __init__(self, extra_listen: str | None = None) -> None:
        import shutil
        import tempfile

        from vigil.deploy.nats_server import free_port

        self.extra_listen = extra_listen

        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bindir or shutil.which("runuser") is None:
            pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql")
        self.bin = bindir[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_pg(["initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres"])
        if extra_listen is not None:
            with open(self.dir / "data" / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {extra_listen}/32 trust\n")
                net = extra_listen.rsplit(".", 1)[0]
                hba.write(f"host all all {net}.0/24 trust\n")

    def _as_pg(self, argv: list[str]) -> None:
        import subprocess

        cmd = ["runuser", "-u", "postgres", "--", str(self.bin / argv[0]), *argv[1:]]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> OwnPostgres:
        listen = "127.0.0.1" + (f",{self.extra_listen}" if self.extra_listen else "")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses={listen} -c fsync=on"
        self._as_pg(["pg_ctl", "-D", str(self.dir / "data"), "-o", opts, "-l", str(self.dir / "log"), "-w", "start"])
        return self

    def crash(self) -> None:
        self._as_pg(["pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop"])

    def stop(self) -> None:
        import shutil

        with contextlib.suppress(Exception):  # already stopped
            self._as_pg(["pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.dir, ignore_errors=True)


class Netns:
    """A network namespace joined to the host by a veth pair: a worker's own 'machine'.

    ``partition()`` takes the host side of the link down (nothing crosses, as when a
    switch port dies); ``heal()`` brings it back.
    """

    def __init__(self) -> None:
        import random
        import shutil

        if os.geteuid() != 0 or shutil.which("ip") is None:
            pytest.skip("network namespaces need root and iproute2")
        n = random.randrange(1, 250)
        tag = uuid.uuid4().hex[:5]
        self.name = f"vigil-{tag}"
        self.host_if, self.ns_if = f"vgh{tag}", f"vgn{tag}"
        self.host_ip, self.ns_ip = f"10.231.{n}.1", f"10.231.{n}.2"
        self._ip("netns", "add", self.name)
        try:
            self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            self._ip("link", "set", self.ns_if, "netns", self.name)
            self._ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            self._ip("link", "set", self.host_if, "up")
            self._ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
            self._ip("netns", "exec", self.name, "ip", "link", "set", self.ns_if, "up")
            self._ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _ip(*args: str) -> None:
        res = subprocess.run(["ip", *args], check=False, capture_output=True, text=True, timeout=20)
        if res.returncode != 0:
            pytest.skip(f"ip {' '.join(args)}: {res.stderr.strip()}")

    def prefix(self) -> list[str]:
        """Run a command inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def partition(self) -> None:
        self._ip("link", "set", self.host_if, "down")

    def heal(self) -> None:
        self._ip("link", "set", self.host_if, "up")

    def close(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], check=False, capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True, timeout=20)


@contextmanager
def api_replica(cfg: object, url: str) -> Iterator[str]:
    """One web server (API and UI) as ``vigil serve`` runs it (its own store, app and loopback
    port); yields its URL."""
    import threading

    import uvicorn

    from vigil.api import ApiContext
    from vigil.config import VigilConfig
    from vigil.deploy.nats_server import free_port
    from vigil.server import create_app, server_config
    from vigil.store import Store

    assert isinstance(cfg, VigilConfig)
    with Store.open(url) as store:
        app = create_app(ApiContext.build(cfg, store, poll_alerts=False))
        server = uvicorn.Server(server_config(app, "127.0.0.1", free_port(), timeout_graceful_shutdown=1))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for(lambda: server.started, 15, "uvicorn to start")
        try:
            yield f"http://127.0.0.1:{server.config.port}"
        finally:
            server.should_exit = True
            thread.join(30)  # its shutdown closes the replica's NATS connections
