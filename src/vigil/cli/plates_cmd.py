"""``vigil hotlist add|import|list|remove|purge-expired`` and ``vigil plates search|purge|eval``."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from vigil.cli.audit import os_account
from vigil.cli.identity import signed_in
from vigil.cli.options import ConfigOption, DataDirOption, resolve_config
from vigil.config import VigilConfig
from vigil.config.plates import LOCALISERS, RECOGNISERS
from vigil.core.errors import InputError
from vigil.core.instants import parse_typed_instant
from vigil.events.plates import PlateReadSummary
from vigil.plates.eval import check_folder, evaluate
from vigil.plates.formats import check_regions, formats_with
from vigil.plates.reader import PlateReader
from vigil.plates.text import parse_plate
from vigil.services import hotlist, plate_search, retention
from vigil.services.hotlist import HotlistEntryIn
from vigil.store.facade import Store
from vigil.store.plates import HotlistEntryRecord
from vigil.workers.plates_stage import build_plate_reader

if TYPE_CHECKING:
    from vigil.workers.runner import RunSummary

hotlist_app = typer.Typer(help="Plates to look out for; each entry needs a legal basis, authoriser and expiry.")
plates_app = typer.Typer(help="Plate reads: search within retention, purge, evaluate the reader.")
console = Console()


def _entry_dict(e: HotlistEntryRecord) -> dict[str, object]:
    return {
        "entry_id": e.entry_id,
        "plate": e.plate,
        "legal_basis": e.legal_basis,
        "authorised_by": e.authorised_by,
        "entered_by": e.entered_by,
        "created_at": e.created_at.isoformat(),
        "expires_at": e.expires_at.isoformat(),
        "note": e.note,
        "region": e.region,
    }


@hotlist_app.command("add")
def add(
    plate: str = typer.Argument(..., help="The plate, e.g. AB12CDE (spaces and dashes are ignored)."),
    legal_basis: str = typer.Option(..., "--reason", "--legal-basis", help="Legal basis or authorisation reference."),
    authorised_by: str = typer.Option(..., "--authorised-by", help="Who authorised the entry."),
    expires: str = typer.Option(..., "--expires", help="Expiry: YYYY-MM-DD (end of day, UTC) or ISO datetime."),
    note: str | None = typer.Option(None, "--note"),
    region: str | None = typer.Option(
        None, "--region", help="Plate region it is listed for (us, eu, uk, br, hk or plates.formats); default any."
    ),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Add one plate to the hotlist as the signed-in user (``vigil login``); audited with the
    entry, in one transaction."""
    with signed_in(config, data_dir) as (services, actor):
        entry = HotlistEntryIn(plate, legal_basis, authorised_by, expires, note, region)
        rec = hotlist.add(services, actor, entry)
    listed = f", region {rec.region}" if rec.region else ""
    console.print(f"added {rec.plate} as {rec.entry_id} (expires {rec.expires_at.date()}{listed})")


@hotlist_app.command("import")
def import_(
    csv_path: Path = typer.Argument(..., help="CSV: plate,legal_basis,authorised_by,expires_at[,note][,region]."),
    partial: bool = typer.Option(False, "--partial", help="Import the good rows even if some rows are bad."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Import a hotlist CSV as the signed-in user: all rows or none (unless --partial); bad rows
    (a plate an earlier line lists, or one listed already, included) are named by line."""
    try:
        data = csv_path.read_bytes()
    except OSError as exc:
        raise InputError(f"hotlist {csv_path}: cannot read it: {exc.strerror or exc}") from exc
    with signed_in(config, data_dir) as (services, actor):
        result = hotlist.import_csv(services, actor, data, source=str(csv_path), partial=partial)
    for bad in result.skipped:
        print(f"skipped line {bad.line}: {bad.problem}", file=sys.stderr)
    n = len(result.imported)
    console.print(f"imported {n} entr{'y' if n == 1 else 'ies'}, skipped {len(result.skipped)}")


@hotlist_app.command("list")
def list_(
    include_expired: bool = typer.Option(False, "--all", help="Include expired entries not yet purged."),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Hotlist entries with their accountability fields (the listing is audited)."""
    with signed_in(config, data_dir) as (services, actor):
        entries = hotlist.entries(services, actor, include_expired=include_expired).items
    if as_json:
        print(json.dumps([_entry_dict(e) for e in entries]))
        return
    if not entries:
        console.print("the hotlist is empty")
        return
    table = Table("id", "plate", "region", "legal basis", "authorised by", "entered by", "expires")
    for e in entries:
        table.add_row(
            e.entry_id, e.plate, e.region or "any", e.legal_basis, e.authorised_by, e.entered_by,
            str(e.expires_at.date()),
        )  # fmt: skip
    console.print(table)


@hotlist_app.command("remove")
def remove(
    entry_id: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="Why it is removed (recorded)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Remove one entry as the signed-in user (it stops matching at once; audited with a reason,
    in one transaction)."""
    with signed_in(config, data_dir) as (services, actor):
        rec = hotlist.remove(services, actor, entry_id, reason)
    console.print(f"removed {rec.plate} ({rec.entry_id})")


@hotlist_app.command("purge-expired")
def purge_expired(
    reason: str | None = typer.Option(None, "--reason", help="Why now (optional; recorded)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Delete expired entries as the signed-in user (they stopped matching when they expired);
    audited by count."""
    with signed_in(config, data_dir) as (services, actor):
        n = hotlist.purge_expired(services, actor, reason)
    console.print(f"purged {n} expired entr{'y' if n == 1 else 'ies'}")


@plates_app.command("search")
def search(
    plate: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="Why (a case or incident reference; recorded)."),
    camera: str | None = typer.Option(None, "--camera", help="Only this camera (required if your scope is limited)."),
    since: str | None = typer.Option(None, "--since", help="ISO date-time (UTC if no zone)."),
    until: str | None = typer.Option(None, "--until", help="ISO date-time (UTC if no zone)."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Reads of one plate still within retention (hits always), newest first.

    A plate search follows a vehicle: it needs a signed-in account (``vigil login``) allowed to
    search plates, and a reason, and is audited as the API's and the web UI's are."""
    parse_plate(plate)  # bad input is one line before any sign-in
    start = None if since is None else parse_typed_instant(since, "--since")
    end = None if until is None else parse_typed_instant(until, "--until")
    with signed_in(config, data_dir) as (services, actor):
        found = plate_search.search(
            services, actor, plate, reason=reason, camera_id=camera, since=start, until=end, limit=limit
        )
    rows = [
        {
            "read_id": r.read_id,
            "camera_id": r.camera_id,
            "track_id": r.track_id,
            "occurred_at": r.occurred_at.isoformat(),
            "plate": r.plate,
            "confidence": round(r.confidence, 3),
            "crop": r.crop,
            "hit": r.hit,
        }
        for r in found.reads
    ]
    if as_json:
        print(json.dumps(rows))
        return
    if not rows:
        console.print(f"no reads of {found.plate} within retention ({found.retention_hours:g} h)")
        return
    table = Table("when", "camera", "track", "confidence", "hit", "crop")
    for r in found.reads:
        table.add_row(
            r.occurred_at.isoformat(), r.camera_id, r.track_id or "", f"{r.confidence:.2f}", str(r.hit), r.crop or ""
        )
    console.print(table)
    if found.truncated:
        console.print(f"more than {limit} reads: narrow --since/--until or raise --limit")


@plates_app.command("purge")
def purge(config: Path | None = ConfigOption, data_dir: Path | None = DataDirOption) -> None:
    """Delete reads that hit nothing and are older than retention (with their crops) and expired
    hotlist entries; audited by count.

    Only what the retention policy no longer allows is deleted, so this is the retention job's plates
    task run by hand (the same service): recorded as ``system:retention`` with the OS account that ran
    it (no typed name)."""
    cfg = resolve_config(config, data_dir)
    with Store.open(cfg.store_url) as store:
        counts = retention.run_plates_by_hand(cfg, store, detail={"via": "cli", "os_user": os_account()})
    n = counts["plate_reads"]
    console.print(f"purged {n} read{'' if n == 1 else 's'} older than {cfg.plates.retention_hours:g} h")


@plates_app.command("eval")
def eval_(
    folder: Path = typer.Argument(
        ..., help="Labelled folder: scenes (IMAGE + IMAGE-stem.txt) or crops (groundtruth.csv)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Last stdout line: the metrics as JSON."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Score only the first N images."),
    regions: str | None = typer.Option(None, "--regions", help="Comma-separated regions (default: config)."),
    localiser: str | None = typer.Option(
        None, "--localiser", help="morphology or platedet (optional AGPL model; default: config)."
    ),
    reader_names: str | None = typer.Option(
        None,
        "--reader",
        help="Recogniser(s) to score, comma-separated to compare them on the same set: cct, cct-v1, ppocr "
        "(default: config).",
    ),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Score the plate reader on a labelled folder: n, exact, cer, ms_per_image (+ found_rate for scenes),
    and exact per labelled region and per country the reader saw."""
    cfg = resolve_config(config, data_dir)
    chosen = tuple(r.strip() for r in regions.split(",")) if regions else cfg.plates.regions
    try:
        check_regions(chosen, formats_with(cfg.plates.formats))
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    if localiser is not None and localiser not in LOCALISERS:
        raise InputError(f"unknown localiser {localiser!r}; valid: {list(LOCALISERS)}")
    names = [r.strip() for r in reader_names.split(",")] if reader_names else [cfg.plates.recogniser]
    bad = [r for r in names if r not in RECOGNISERS]
    if bad or len(set(names)) != len(names):
        raise InputError(f"--reader {reader_names!r}: give each of {list(RECOGNISERS)} at most once")
    check_folder(folder, limit)
    summaries: dict[str, dict[str, object]] = {}
    for name in names:
        reader = build_plate_reader(cfg.plates, cfg.resolved_models_dir, chosen, localiser, name)
        summaries[name] = _score(folder, reader, limit, f"reading plates ({name})")
    if as_json:
        print(json.dumps(summaries[names[0]] if len(names) == 1 else {"readers": summaries}))
        return
    for name, summary in summaries.items():
        console.print(f"[bold]reader {name}[/]")
        for key, value in summary.items():
            console.print(f"  {key}: {value}")


def _score(folder: Path, reader: PlateReader, limit: int | None, label: str) -> dict[str, object]:
    err = Console(stderr=True)
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        # For a person at a terminal; in a log it left a blank line before an error line.
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("eval", total=None)
        report = evaluate(folder, reader, lambda i, n: bar.update(task, completed=i, total=n), limit=limit)
    return {"reader": reader.recogniser_name, **report.as_dict()}


def register(root: typer.Typer) -> None:
    """Add ``vigil hotlist …`` and ``vigil plates …`` to the ``vigil`` app."""
    root.add_typer(hotlist_app, name="hotlist")
    root.add_typer(plates_app, name="plates")


def run_summaries(cfg: VigilConfig, summary: RunSummary, started: datetime) -> list[PlateReadSummary]:
    """The ``plates.read_summary`` events this run's cameras published (one per camera)."""
    cameras = {c.camera_id for c in summary.cameras}
    with Store.open(cfg.store_url) as store:
        events = store.events.search(type="plates.read_summary", since=started, limit=1000)
    return [e for e in events if isinstance(e, PlateReadSummary) and e.camera_id in cameras]


def summaries_json(summaries: list[PlateReadSummary]) -> list[dict[str, object]]:
    """``run_summaries`` as the ``plates`` entry of a run's ``--json`` output."""
    return [p.model_dump(mode="json", exclude={"event_id", "type"}) for p in summaries]
