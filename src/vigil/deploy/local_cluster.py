"""``vigil cluster up`` / ``down``: the whole scale-out deployment on one machine, on loopback.

Three ``nats-server`` nodes forming one JetStream cluster, the machine's PostgreSQL (a
database of the cluster's own), two ``vigil worker``, one ``vigil indexer``, one
``vigil dispatcher`` and two ``vigil serve`` replicas, each its own process with its own log. The state (ports, process
ids) is kept in ``<dir>/cluster.json`` so ``down`` stops exactly what ``up`` started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vigil.core.errors import ConfigError, VigilError
from vigil.deploy.nats_server import NatsCluster, free_port

STATE_FILE = "cluster.json"
DEFAULT_DB = "vigil_cluster"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(slots=True)
class Role:
    """One role process of the cluster."""

    name: str
    argv: list[str]
    pid: int = 0
    log: str = ""
    port: int | None = None

    def alive(self) -> bool:
        if not self.pid:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        # A zombie child of ours counts as dead.
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z"


@dataclass(slots=True)
class ClusterState:
    workdir: str
    nats_urls: list[str]
    nats_pids: list[int]
    db_url: str
    config: str
    roles: list[Role] = field(default_factory=list)

    def save(self) -> None:
        Path(self.workdir, STATE_FILE).write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, workdir: Path) -> ClusterState:
        path = workdir / STATE_FILE
        if not path.is_file():
            raise ConfigError(f"no cluster state in {workdir} (nothing was started there with `vigil cluster up`)")
        data = json.loads(path.read_text())
        data["roles"] = [Role(**r) for r in data["roles"]]
        return cls(**data)


def vigil_argv() -> list[str]:
    """How to run the ``vigil`` of this installation as a child process."""
    return [sys.executable, "-m", "vigil.cli.main"]


def ensure_database(admin_dsn: str, name: str) -> str:
    """Create database ``name`` if missing; return its SQLAlchemy URL."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise VigilError(f"PostgreSQL not reachable at {admin_dsn}: {first}") from None
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def write_config(workdir: Path, base_config: dict[str, Any], nats_urls: tuple[str, ...], db_url: str) -> Path:
    """The deployment config every role of the cluster reads."""
    cfg = dict(base_config)
    cfg["bus"] = {**cfg.get("bus", {}), "type": "nats"}
    cfg["store"] = {**cfg.get("store", {}), "url": db_url}
    scale = dict(cfg.get("scale", {}))
    scale["nats"] = {**scale.get("nats", {}), "servers": list(nats_urls), "replicas": 3 if len(nats_urls) > 1 else 1}
    cfg["scale"] = scale
    path = workdir / "cluster.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def start_role(workdir: Path, name: str, args: list[str], env: dict[str, str] | None = None) -> Role:
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    argv = [*vigil_argv(), *args]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})}
        )
    return Role(name=name, argv=argv, pid=proc.pid, log=str(log_path))


def up(
    workdir: Path,
    base_config: dict[str, Any],
    *,
    nodes: int = 3,
    workers: int = 2,
    indexers: int = 1,
    dispatchers: int = 1,
    api_replicas: int = 2,
    admin_dsn: str = PG_ADMIN_DSN,
    database: str = DEFAULT_DB,
    data_dir: Path | None = None,
) -> ClusterState:
    """Start everything; raise with the failing part's log tail if something does not come up."""
    workdir = workdir.resolve()
    if (workdir / STATE_FILE).exists():
        state = ClusterState.load(workdir)
        if any(r.alive() for r in state.roles):
            raise ConfigError(f"a cluster is already running from {workdir}; `vigil cluster down` first")
    workdir.mkdir(parents=True, exist_ok=True)
    db_url = ensure_database(admin_dsn, database)
    nats = NatsCluster.plan(workdir / "nats", nodes).start()
    pids = [n.process.pid for n in nats.nodes if n.process is not None]  # `down` stops them by pid
    config = write_config(workdir, base_config, nats.urls, db_url)
    state = ClusterState(
        workdir=str(workdir),
        nats_urls=list(nats.urls),
        nats_pids=pids,
        db_url=db_url,
        config=str(config),
    )
    data = str((data_dir or workdir / "data").resolve())
    common = ["-c", str(config)]
    # The indexer first: it migrates the schema and creates the streams.
    for i in range(indexers):
        state.roles.append(start_role(workdir, f"indexer-{i + 1}", ["-v", "indexer", *common, "--data-dir", data]))
    state.save()
    _wait_log(state.roles[0], "indexer: consuming", 90)
    for i in range(dispatchers):
        name = f"dispatcher-{i + 1}"
        state.roles.append(start_role(workdir, name, ["-v", "dispatcher", *common, "--data-dir", data]))
    for i in range(workers):
        wid = f"worker-{i + 1}"
        state.roles.append(start_role(workdir, wid, ["-v", "worker", *common, "--data-dir", data, "--id", wid]))
    for i in range(api_replicas):
        port = free_port()
        role = start_role(workdir, f"api-{i + 1}", ["serve", *common, "--data-dir", data, "--port", str(port)])
        role.port = port
        state.roles.append(role)
    state.save()
    return state


def _wait_log(role: Role, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in Path(role.log).read_text(errors="replace"):
            return
        if not role.alive():
            break
        time.sleep(0.2)
    tail = " | ".join(Path(role.log).read_text(errors="replace").strip().splitlines()[-3:])
    raise VigilError(f"{role.name} did not come up within {timeout_s:.0f} s: {tail or 'no output'}")


def stop_pid(pid: int, timeout_s: float = 20.0) -> None:
    """SIGTERM, wait, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except (ProcessLookupError, OSError):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def down(workdir: Path, *, drop_database: bool = False, admin_dsn: str = PG_ADMIN_DSN) -> ClusterState:
    """Stop every process ``up`` started (API, workers, indexer, then NATS)."""
    state = ClusterState.load(workdir.resolve())
    order = sorted(state.roles, key=lambda r: (not r.name.startswith("api"), r.name.startswith("indexer")))
    for role in order:
        stop_pid(role.pid)
    for pid in state.nats_pids:
        stop_pid(pid)
    if drop_database:
        import psycopg
        from psycopg import sql

        name = state.db_url.rsplit("/", 1)[1]
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    (workdir.resolve() / STATE_FILE).unlink(missing_ok=True)
    return state
