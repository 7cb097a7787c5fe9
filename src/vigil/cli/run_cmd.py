"""``vigil run`` (cameras until stopped) and ``vigil status`` (per-camera health)."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli import plates_cmd
from vigil.cli.options import DataDirOption, resolve_config
from vigil.cli.render import print_plates_summary, print_summary
from vigil.config import VigilConfig
from vigil.core.clock import utcnow
from vigil.core.errors import ConfigError, StoreError, VigilError
from vigil.services.cameras import STALE_AFTER_S, is_stale
from vigil.store.facade import Store
from vigil.store.integrity import quick_check
from vigil.store.records import HealthRecord
from vigil.workers.usage import more_cameras

if TYPE_CHECKING:
    from vigil.bus.leases import Holder

console = Console()
err_console = Console(stderr=True)


def run(
    config: Path = typer.Option(..., "--config", "-c", help="Deployment config (YAML) listing the cameras."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = typer.Option(False, "--json", help="Print the final summary as JSON (last line of stdout)."),
    serve: bool = typer.Option(
        False, "--serve", help="Also serve the UI and API from this process, with the cameras' live view."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (with --serve)."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port (with --serve)."),
) -> None:
    """Analyse every configured camera until Ctrl-C or SIGTERM, then shut down cleanly."""
    cfg = resolve_config(config, data_dir)
    if not any(c.enabled for c in cfg.cameras):
        raise ConfigError(f"{config}: cameras: no enabled camera; add at least one under 'cameras:'")
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        err_console.print(f"[yellow]{signal.Signals(signum).name}: stopping cameras and flushing events…[/]")
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    n = sum(c.enabled for c in cfg.cameras)
    err_console.print(f"vigil: analysing {n} camera{'s' if n != 1 else ''}; Ctrl-C stops", highlight=False)
    started = utcnow()
    from vigil.workers.runner import Deployment  # the pipeline: only running cameras needs it

    if serve:
        from vigil.cli.governance_cmd import serving
        from vigil.workers.live_frames import LiveFrames

        frames = LiveFrames()
        with serving(cfg, host, port, frames):
            summary = Deployment(cfg, on_frame=frames.publish, on_gated=frames.publish_still).run(stop)
    else:
        summary = Deployment(cfg).run(stop)
    plates = plates_cmd.run_summaries(cfg, summary, started) if cfg.plates.enabled else []
    if as_json:
        out = summary.to_json_dict()
        if cfg.plates.enabled:
            out["plates"] = plates_cmd.summaries_json(plates)
        print(json.dumps(out))
    else:
        print_summary(console, summary)
        for p in plates:
            print_plates_summary(console, p)


def status(
    config: Path | None = typer.Option(None, "--config", "-c", help="Deployment config (YAML)."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    stale_after_s: float = typer.Option(
        STALE_AFTER_S,
        "--stale-after",
        min=0.1,
        help="A live camera not heard from for this long is shown as stale (its run was killed or hangs).",
    ),
) -> None:
    """Per-camera health as last reported by `vigil run`: frames, drops, reconnects, errors.

    `vigil run` reports every 2 s; a camera still 'running' in a report older than
    --stale-after is shown as 'stale (running)': its process died without shutting down."""
    cfg = resolve_config(config, data_dir)
    integrity = quick_check(cfg.store_url)
    if integrity is not None:
        # JSON keeps its shape (a list of cameras): the store's line goes to stderr there.
        (err_console if as_json else console).print(integrity.summary(), highlight=False, soft_wrap=True)
    try:
        with Store.open(cfg.store_url) as store:
            records = store.health.list()
    except StoreError:
        if integrity is not None and not integrity.ok:
            raise typer.Exit(1) from None  # the corruption line above says it all
        raise
    now = datetime.now(UTC)
    holders = _lease_holders(cfg) if cfg.bus.type == "nats" else None
    if as_json:
        rows = [_health_dict(r, now, stale_after_s) for r in records]
        if holders is not None:
            for row in rows:
                h = holders.get(str(row["camera_id"]))
                row["worker"] = h.worker if h else None
                row["lease_epoch"] = h.epoch if h else None
                row["held_since"] = datetime.fromtimestamp(h.since, UTC).isoformat() if h else None
        print(json.dumps(rows, default=str))
        if integrity is not None and not integrity.ok:
            raise typer.Exit(1)
        return
    if not records:
        console.print("no camera has reported yet (start one with: vigil run --config cameras.yaml)")
        if integrity is not None and not integrity.ok:
            raise typer.Exit(1)
        return
    columns = [
        "camera",
        "state",
        "frames in",
        "analysed",
        "dropped",
        "reconnects",
        "fps",
        "CPU",
        "updated",
        "last error",
    ]
    if holders is not None:
        columns += ["worker", "held since"]
    table = Table(*columns)
    for r in records:
        age = (now - r.updated_at).total_seconds()
        lease: list[str] = []
        if holders is not None:
            h = holders.get(r.camera_id)
            lease = [h.worker, datetime.fromtimestamp(h.since, UTC).strftime("%H:%M:%S")] if h else ["(none)", ""]
        table.add_row(
            r.camera_id,
            f"stale ({r.state})" if is_stale(r.state, age, stale_after_s) else r.state,
            str(r.frames_in),
            str(r.frames_analysed),
            str(r.frames_dropped),
            str(r.reconnects),
            f"{r.analysed_fps:.1f}",
            "" if r.cpu_share is None else f"{r.cpu_share:.0%}",
            f"{age:.0f} s ago",
            r.last_error or "",
            *lease,
        )
    console.print(table)
    if holders is None:  # one box runs every camera: say how much of it they use
        line = _usage_line(records, now, stale_after_s)
        if line:
            console.print(line, highlight=False)
    if integrity is not None and not integrity.ok:
        raise typer.Exit(1)


def _usage_line(records: list[HealthRecord], now: datetime, stale_after_s: float) -> str | None:
    """What the running cameras use of the box, from their last health reports."""
    shares = {
        r.camera_id: r.cpu_share
        for r in records
        if r.state == "running"
        and r.cpu_share is not None
        and not is_stale(r.state, (now - r.updated_at).total_seconds(), stale_after_s)
    }
    if not shares:
        return None
    total = sum(shares.values())
    n = len(shares)
    line = f"{n} running camera{'s' if n != 1 else ''} use {total:.0%} of the box's CPUs"
    more = more_cameras(n, total)
    if more is not None:
        line += f"; about {more} more such camera{'s' if more != 1 else ''} fit (straight-line estimate)"
    return line


def _lease_holders(cfg: VigilConfig) -> dict[str, Holder]:
    """Scale-out: which worker holds each camera (from the leases bucket); {} if NATS is down."""
    from vigil.bus.connection import NatsConnection
    from vigil.bus.leases import read_holders
    from vigil.workers.scale_wiring import nats_settings

    try:
        conn = NatsConnection(nats_settings(cfg, "vigil-status"))
    except VigilError as exc:
        err_console.print(f"warning: lease holders unknown: {exc}", highlight=False, soft_wrap=True)
        return {}
    try:
        return {h.camera_id: h for h in read_holders(conn)}
    finally:
        conn.close()


def _health_dict(r: HealthRecord, now: datetime, stale_after_s: float) -> dict[str, object]:
    out: dict[str, object] = {k: getattr(r, k) for k in r.__dataclass_fields__}
    age = (now - r.updated_at).total_seconds()
    out["age_s"] = round(age, 1)
    out["stale"] = is_stale(r.state, age, stale_after_s)
    return out
