"""Rendering summaries and health tables for the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from vigil.events.plates import PlateReadSummary

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
    people = s.tracks.get("person", 0)
    vehicles = sum(n for c, n in s.tracks.items() if c != "person")
    detail = ", ".join(f"{c}: {n}" for c, n in sorted(s.tracks.items())) or "none"
    table.add_row("tracks", f"{people} people, {vehicles} vehicles ({detail})")
    table.add_row("events stored", str(s.events_stored))
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
