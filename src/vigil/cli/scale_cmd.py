"""Scale-out roles: ``vigil worker``, ``vigil indexer``, ``vigil dispatcher``, ``vigil cluster``.

Each role is its own process, on any machine, pointed at one NATS JetStream cluster and one
PostgreSQL (``scale.nats`` and ``store.url`` in the config; secrets from the environment:
``VIGIL_STORE_URL``, ``VIGIL_NATS_USER``/``VIGIL_NATS_PASSWORD``/``VIGIL_NATS_TOKEN``/``VIGIL_NATS_CREDS``).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from vigil.cli.options import DataDirOption, resolve_config
from vigil.core.errors import ConfigError

err_console = Console(stderr=True, highlight=False)

ConfigOption = typer.Option(None, "--config", "-c", help="Deployment config (YAML).")


def _stop_on_signals(what: str) -> threading.Event:
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        err_console.print(f"[yellow]{signal.Signals(signum).name}: {what}…[/]")
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


def indexer(config: Path | None = ConfigOption, data_dir: Path | None = DataDirOption) -> None:
    """Consume events from NATS JetStream into PostgreSQL until Ctrl-C or SIGTERM."""
    cfg = resolve_config(config, data_dir)
    stop = _stop_on_signals("finishing the batch in progress")
    from vigil.workers.indexer import run_indexer

    stats = run_indexer(cfg, stop)
    err_console.print(f"indexer: stored {stats.stored} events ({stats.duplicates} duplicates skipped)")


def dispatcher(config: Path | None = ConfigOption, data_dir: Path | None = DataDirOption) -> None:
    """Deliver alerts (webhooks, MQTT) from NATS JetStream until Ctrl-C or SIGTERM; run several to share them."""
    cfg = resolve_config(config, data_dir)
    if cfg.bus.type != "nats":
        raise ConfigError(
            f"{config or 'config'}: bus.type must be 'nats' for `vigil dispatcher` (got {cfg.bus.type!r}); "
            "the embedded mode delivers alerts from `vigil serve`"
        )
    stop = _stop_on_signals("finishing the alerts in progress")
    from vigil.workers.dispatcher import run_dispatcher

    stats = run_dispatcher(cfg, stop)
    err_console.print(f"dispatcher: delivered {stats.delivered} alerts ({stats.dead_lettered} dead letters)")


def worker(
    config: Path = typer.Option(..., "--config", "-c", help="Deployment config (YAML) listing every camera."),
    data_dir: Path | None = DataDirOption,
    worker_id: str | None = typer.Option(None, "--id", help="Worker id (default: <host>-<pid>)."),
) -> None:
    """Claim a fair share of the configured cameras and analyse them until Ctrl-C or SIGTERM."""
    cfg = resolve_config(config, data_dir)
    if cfg.bus.type != "nats":
        raise ConfigError(f"{config}: bus.type must be 'nats' for `vigil worker` (got {cfg.bus.type!r})")
    if not any(c.enabled for c in cfg.cameras):
        raise ConfigError(f"{config}: cameras: no enabled camera; add at least one under 'cameras:'")
    stop = _stop_on_signals("handing cameras back")
    from vigil.workers.scale_worker import ScaleWorker

    counts = ScaleWorker(cfg, worker_id=worker_id).run(stop)
    err_console.print(
        f"worker: {counts['acked']} events acknowledged, {counts['spooled']} spooled, "
        f"{counts['dropped']} dropped, {counts['fenced']} fenced"
    )


cluster_app = typer.Typer(help="A whole scale-out cluster on this machine (loopback), for trying it out.")


@cluster_app.command("up")
def cluster_up(
    workdir: Path = typer.Option(Path("vigil-cluster"), "--dir", help="Where the cluster keeps its state and logs."),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Cameras and settings (YAML); default: the two bundled sample clips."
    ),
    workers: int = typer.Option(2, "--workers", min=1, max=16),
    api: int = typer.Option(2, "--api", min=1, max=8, help="API replicas."),
) -> None:
    """Start 3 NATS nodes, an indexer, a dispatcher, workers and API replicas against the machine's PostgreSQL."""
    from vigil.deploy.local_cluster import up

    base = _cluster_base_config(config)
    state = up(workdir, base, workers=workers, api_replicas=api)
    err_console.print(f"NATS JetStream cluster: {', '.join(state.nats_urls)}")
    err_console.print(f"PostgreSQL: {state.db_url}")
    for role in state.roles:
        where = f"  http://127.0.0.1:{role.port}" if role.port else ""
        err_console.print(f"  {role.name:<12} pid {role.pid:<8} log {role.log}{where}")
    err_console.print(f"stop it with: vigil cluster down --dir {workdir}")


@cluster_app.command("down")
def cluster_down(
    workdir: Path = typer.Option(Path("vigil-cluster"), "--dir", help="The directory given to `up`."),
    drop_db: bool = typer.Option(False, "--drop-db", help="Also drop the cluster's database."),
) -> None:
    """Stop every process `vigil cluster up` started (API, workers, indexer, NATS)."""
    from vigil.deploy.local_cluster import down

    state = down(workdir, drop_database=drop_db)
    err_console.print(f"stopped {len(state.roles)} roles and {len(state.nats_pids)} NATS nodes")


def _cluster_base_config(config: Path | None) -> dict[str, object]:
    import yaml

    if config is not None:
        try:
            data = yaml.safe_load(config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{config}: cannot read: {exc}") from exc
        resolve_config(config, None)  # validate it before starting anything
        return dict(data)
    samples = Path(__file__).resolve().parents[3] / "samples"
    cams = [{"id": p.stem, "url": f"file://{p}"} for p in (samples / "people.mp4", samples / "cars.mp4") if p.exists()]
    if not cams:
        raise ConfigError("no --config given and the sample clips are not in this installation; pass --config")
    return {"cameras": cams}


def register(app: typer.Typer) -> None:
    app.add_typer(cluster_app, name="cluster")
    app.command("indexer")(indexer)
    app.command("worker")(worker)
    app.command("dispatcher")(dispatcher)
