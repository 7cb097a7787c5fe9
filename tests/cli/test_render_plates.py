"""The plates summary table that `vigil analyze --plates` and `vigil run` print."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from vigil.cli.render import print_plates_summary
from vigil.events.plates import PlateReadSummary


def _summary(**extra: object) -> PlateReadSummary:
    fields: dict[str, object] = {
        "camera_id": "gate",
        "occurred_at": datetime(2026, 11, 27, tzinfo=UTC),
        "vehicles": 3,
        "vehicles_read": 2,
        "frames_read": 5,
        "reads_per_track": 4,
        "max_frames_per_vehicle": 3,
        "ocr_calls": 17,
        "read_ms": 2400.0,
        "ms_per_vehicle_read": 1200.0,
        "plates": 2,
        "hits": 1,
        "reads_stored": False,
    }
    return PlateReadSummary.model_validate({**fields, **extra})


def _table(summary: PlateReadSummary) -> str:
    console = Console(record=True, width=120)
    print_plates_summary(console, summary)
    return console.export_text()


def test_the_table_reports_cost_bound_hits_and_retention() -> None:
    text = _table(_summary())
    assert "2 / 2" not in text and "3 / 2" in text  # vehicles seen / read
    assert "5 (at most 3 of one vehicle; bound 4)" in text
    assert "2.4 s (1200 ms per vehicle read)" in text
    assert "not stored: retention 0" in text and "vigil candidates list --kind plate" in text
    assert "whole frames" not in text  # no scans configured: no row for them


def test_whole_frame_scans_get_a_row_of_their_own() -> None:
    text = _table(_summary(frames_scanned=8, scan_ms=5200.0))
    assert "whole frames read" in text and "8 (5.2 s; plates.frame_scan_s)" in text


def test_a_summary_from_before_scans_existed_still_reads() -> None:
    old = _summary().model_dump(mode="json")
    del old["frames_scanned"], old["scan_ms"]
    assert PlateReadSummary.model_validate(old).frames_scanned == 0
