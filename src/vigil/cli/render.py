"""Rendering summaries and health tables for the terminal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from vigil.events.plates import PlateReadSummary
from vigil.workers.usage import more_cameras

if TYPE_CHECKING:
    from vigil.workers.runner import RunSummary


def print_summary(console: Console, s: RunSummary) -> None:
    """The run summary a person reads after ``vigil analyze``, ``demo`` or ``run``."""
    table = Table(title="Vigil run summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("cameras", str(len(s.cameras)))
    table.add_row("frames decoded", str(s.frames_decoded))
    table.add_row("frames analysed", str(s.frames_analysed))
    table.add_row("frames skipped as still", str(sum(c.frames_gated for c in s.cameras)))
    table.add_row("frames dropped (busy)", str(sum(c.frames_dropped for c in s.cameras)))
    table.add_row("analysed frames/s", f"{s.analysed_fps:.1f}")
    if s.video_duration_s:
        table.add_row("speed vs real time", f"{s.video_duration_s / s.wall_s:.1f}x")
    if s.usage is not None and s.usage.window_s > 0:
        table.add_row("CPU used", box_usage_line(s.usage.cpus, s.usage.per_camera, live=not s.video_duration_s))
    people = s.tracks.get("person", 0)
    vehicles = sum(n for c, n in s.tracks.items() if c != "person")
    detail = ", ".join(f"{c}: {n}" for c, n in sorted(s.tracks.items())) or "none"
    table.add_row("tracks", f"{people} people, {vehicles} vehicles ({detail})")
    table.add_row("events stored", str(s.events_stored))
    if s.snapshots:
        # Snapshots the writer had no room for (or failed to write): their tracks are stored
        # without one, so an operator should hear how many (workers/snapshots.py).
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(s.snapshots["skipped"].items()))
        failed = s.snapshots["failed"]
        line = f"{s.snapshots['written']} written" + (f", {failed} failed" if failed else "")
        table.add_row("snapshots", line + (f", [yellow]not written: {skipped}[/]" if skipped else ""))
    if s.events_dead_lettered:
        table.add_row("events NOT stored", f"[red]{s.events_dead_lettered}[/]")
    table.add_row("store", s.store_url)
    if s.annotated:
        table.add_row("annotated video", s.annotated)
    for c in s.cameras:
        if c.last_error:
            table.add_row(f"camera {c.camera_id}", f"[yellow]{c.state}: {c.last_error}[/]")
    console.print(table)


def print_plates_summary(console: Console, p: PlateReadSummary) -> None:
    """What reading plates cost on one camera, and where its hits wait for review."""
    table = Table(title=f"Plates on {p.camera_id}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("vehicles seen / read", f"{p.vehicles} / {p.vehicles_read}")
    table.add_row(
        "frames read", f"{p.frames_read} (at most {p.max_frames_per_vehicle} of one vehicle; bound {p.reads_per_track})"
    )
    if p.frames_scanned:
        table.add_row("whole frames read", f"{p.frames_scanned} ({p.scan_ms / 1000:.1f} s; plates.frame_scan_s)")
    table.add_row("OCR calls", str(p.ocr_calls))
    table.add_row("reading time", f"{p.read_ms / 1000:.1f} s ({p.ms_per_vehicle_read:.0f} ms per vehicle read)")
    table.add_row("plates read", str(p.plates) + ("" if p.reads_stored else " (not stored: retention 0)"))
    hits = str(p.hits) + (" — to review: vigil candidates list --kind plate --status pending" if p.hits else "")
    table.add_row("hotlist hits", hits)
    console.print(table)


def box_usage_line(cpus: int, per_camera: Mapping[str, float], *, live: bool = True) -> str:
    """``37% of 2 CPUs (cam1 20%, cam2 17%); about 3 more such cameras fit`` (the estimate only for
    live cameras: a recording is analysed as fast as the CPUs go, so it always fills them)."""
    total = sum(per_camera.values())
    parts = ", ".join(f"{cam} {share:.0%}" for cam, share in per_camera.items())
    line = f"{total:.0%} of {cpus} CPU{'s' if cpus != 1 else ''}" + (f" ({parts})" if len(per_camera) > 1 else "")
    more = more_cameras(len(per_camera), total) if live else None
    if more is not None:
        line += f"; about {more} more such camera{'s' if more != 1 else ''} fit (straight-line estimate)"
    return line
