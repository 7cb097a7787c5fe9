"""``vigil analyze`` and ``vigil demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vigil.cli import faces_cmd, governance_cmd, plates_cmd
from vigil.cli.identity import cli_actor
from vigil.cli.options import ConfigOption, DataDirOption, resolve_config
from vigil.cli.render import print_plates_summary, print_summary
from vigil.config import VigilConfig
from vigil.core.clock import utcnow
from vigil.core.errors import SourceOpenError
from vigil.services import Services
from vigil.services.rules import need_reason
from vigil.store.facade import Store

if TYPE_CHECKING:
    from vigil.workers.runner import RunSummary

console = Console(stderr=True)
out_console = Console()


def _analyze(
    video: Path,
    cfg: VigilConfig,
    out: Path | None,
    fps: float | None,
    gate: bool,
    quiet: bool,
    features: frozenset[str] = frozenset(),
    again: bool = False,
) -> RunSummary:
    # The pipeline (tracker, detectors) is imported when a recording is analysed, so that the
    # other commands of the CLI start in about two seconds instead of five (bench/cli_startup.py).
    from vigil.workers.analyze import analyze_recording, probe_duration_s

    duration = probe_duration_s(video) if video.exists() else None
    with Progress(
        TextColumn("[bold]analysing[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        # A progress bar is for a person at a terminal; in logs it is only noise.
        disable=quiet or not console.is_terminal,
        transient=False,
    ) as bar:
        task = bar.add_task(video.name, total=duration or None)
        return analyze_recording(
            video,
            cfg,
            out=out,
            analysis_fps=fps,
            motion_gate=gate,
            progress=lambda pts: bar.update(task, completed=pts),
            features=features,
            again=again,
        )


def analyze(
    video: Path = typer.Argument(..., help="Recording to analyse (any format FFmpeg reads)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write an annotated MP4 here."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (last line of stdout)."),
    analysis_fps: float | None = typer.Option(
        None, "--analysis-fps", min=0.1, max=60, help="Frames analysed per second."
    ),
    motion_gate: bool = typer.Option(True, "--motion-gate/--no-motion-gate", help="Skip still frames."),
    watchlist: bool = typer.Option(
        False, "--watchlist", help="Search the recording's people for enrolled watchlist subjects (candidates)."
    ),
    plates: bool = typer.Option(False, "--plates", help="Read vehicles' plates and check them against the hotlist."),
    reason: str | None = typer.Option(
        None, "--reason", help="Why this recording is searched (required with --watchlist or --plates; recorded)."
    ),
    again: bool = typer.Option(
        False, "--again", help="Analyse a recording that was analysed completely before anew (its tracks twice)."
    ),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Analyse one recording with a progress bar and print the summary.

    With --watchlist or --plates it is a search of footage for listed people or vehicles: it needs
    a signed-in reviewer (vigil login) and a reason, and is written to the audit log before it
    starts (who, which recording, which lists, why)."""
    cfg = resolve_config(config, data_dir)
    features = frozenset({"faces"}) if watchlist else frozenset()
    if plates:
        features |= {"plates"}
    if features:
        _audit_search(cfg, video, features, reason)
    started = utcnow()
    summary = _analyze(video, cfg, out, analysis_fps, motion_gate, quiet=False, features=features, again=again)
    plate_summaries = plates_cmd.run_summaries(cfg, summary, started) if plates else []
    if as_json:
        out_json = summary.to_json_dict()
        if plates:
            out_json["plates"] = plates_cmd.summaries_json(plate_summaries)
        # Plain print: the JSON must be one unwrapped line for scripts to parse.
        print(json.dumps(out_json))
    else:
        print_summary(out_console, summary)
        for p in plate_summaries:
            print_plates_summary(out_console, p)
    if summary.frames_decoded == 0 or any(c.state == "failed" for c in summary.cameras):
        raise typer.Exit(1)


def _audit_search(cfg: VigilConfig, video: Path, features: frozenset[str], reason: str | None) -> None:
    """One ``recording.search`` record for a retrospective watchlist or hotlist search, by the
    signed-in account (a refusal is recorded as ``access.denied``).

    Raises:
        AuthenticationError: nobody signed in.
        AccessDeniedError: the account's role may not search recordings.
        ReasonRequiredError: no reason.
    """
    lists = sorted("watchlist" if f == "faces" else "hotlist" for f in features)
    with Store.for_config(cfg) as store:
        services = Services.build(cfg, store)
        recorder = services.recorder(cli_actor(services))
        recorder.allow("recordings.search", object_type="recording", lists=lists)
        why = need_reason(cfg, reason, "a search of a recording for listed people or vehicles")
        recorder.read(
            "recording.search", object_type="recording", object_id=str(video.resolve())[-512:], reason=why, lists=lists
        )


def demo(
    data_dir: Path | None = DataDirOption,
    serve: bool = typer.Option(False, "--serve", help="Then serve the UI and API, with a first admin login."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port for --serve (on 127.0.0.1)."),
) -> None:
    """Analyse the bundled real clip (samples/people.mp4), run the face flow, optionally serve the UI."""
    cfg = resolve_config(None, data_dir)
    clip = Path("samples/people.mp4")
    if not clip.exists():
        raise SourceOpenError(f"demo clip {clip} not found; run `vigil demo` from the repository root")
    out = cfg.data_dir / "demo" / "people-annotated.mp4"
    # The demo may be run again on the same data: each run is a fresh analysis (--again).
    summary = _analyze(clip, cfg, out, None, True, quiet=False, again=True)
    print_summary(out_console, summary)
    faces_cmd.run_faces_demo(
        cfg, lambda video, features: _analyze(video, cfg, None, None, True, True, features, again=True)
    )
    if serve:
        governance_cmd.serve_deployment(cfg, "127.0.0.1", port, first_admin=True)
