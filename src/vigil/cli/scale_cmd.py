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


def register(app: typer.Typer) -> None:
    app.command("indexer")(indexer)
