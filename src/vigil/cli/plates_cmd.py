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
from sqlalchemy.orm import Session

from vigil.cli.audit import CliAuditor, need_reason, person
from vigil.cli.identity import signed_in
from vigil.cli.options import ConfigOption, DataDirOption, resolve_config
from vigil.config import VigilConfig
from vigil.config.plates import LOCALISERS, RECOGNISERS
from vigil.core.accountability import Authorisation, parse_expiry
from vigil.core.clock import utcnow
from vigil.core.errors import InputError
from vigil.core.instants import parse_typed_instant
from vigil.events.plates import PlateReadSummary
from vigil.governance.use_records import HotlistAdded
from vigil.plates.eval import check_folder, evaluate
from vigil.plates.formats import check_regions, formats_with
from vigil.plates.hotlist import parse_hotlist_csv
from vigil.plates.reader import PlateReader
from vigil.plates.text import parse_plate
from vigil.services import plate_search
from vigil.services.hotlist import listed_region, rows_with_regions
from vigil.store.facade import Store
from vigil.store.media import MediaStore
from vigil.store.plates import HotlistEntryRecord, NewHotlistEntry
from vigil.workers.plates_stage import build_plate_reader

OptionalByOption = typer.Option(
    None, "--by", help="Your name (recorded in the audit log; default: your operating-system account)."
)


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
    entered_by: str = typer.Option(..., "--by", help="Your name: who enters it (recorded)."),
    expires: str = typer.Option(..., "--expires", help="Expiry: YYYY-MM-DD (end of day, UTC) or ISO datetime."),
    note: str | None = typer.Option(None, "--note"),
    region: str | None = typer.Option(
        None, "--region", help="Plate region it is listed for (us, eu, uk, br, hk or plates.formats); default any."
    ),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Add one plate to the hotlist (audited with the entry, in one transaction)."""
    cfg = resolve_config(config, data_dir)
    entry = NewHotlistEntry(
        parse_plate(plate),
        Authorisation(legal_basis, authorised_by, entered_by, parse_expiry(expires)),
        note,
        region=listed_region(cfg.plates, region),
    )
    auditor = CliAuditor.of(person(entered_by))
    with Store.open(cfg.store_url) as store:
        (rec,) = store.plates.add_entries(
            [entry], max_days=cfg.plates.max_hotlist_days, on_written=HotlistAdded(auditor, "hotlist.add")
        )
    listed = f", region {rec.region}" if rec.region else ""
    console.print(f"added {rec.plate} as {rec.entry_id} (expires {rec.expires_at.date()}{listed})")


@hotlist_app.command("import")
def import_(
    csv_path: Path = typer.Argument(..., help="CSV: plate,legal_basis,authorised_by,expires_at[,note][,region]."),
    entered_by: str = typer.Option(..., "--by", help="Your name: who enters these (recorded)."),
    partial: bool = typer.Option(False, "--partial", help="Import the good rows even if some rows are bad."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Import a hotlist CSV: all rows or none (unless --partial); bad rows are named by number."""
    cfg = resolve_config(config, data_dir)
    auditor = CliAuditor.of(person(entered_by))
    parsed = parse_hotlist_csv(csv_path, entered_by, utcnow(), cfg.plates.max_hotlist_days)
    good, bad_regions = rows_with_regions(cfg.plates, parsed.good)
    bad = sorted((b.line, b.problem) for b in [*parsed.bad, *bad_regions])
    if bad and not partial:
        rows = ", ".join(str(n) for n, _ in bad)
        first = bad[0]
        raise InputError(
            f"{csv_path}: {len(bad)} bad row(s) ({rows}); nothing imported (first: line {first[0]}: {first[1]}); "
            "fix them or pass --partial"
        )
    for number, why in bad:
        print(f"skipped line {number}: {why}", file=sys.stderr)
    entries = [
        NewHotlistEntry(
            r.plate, Authorisation(r.legal_basis, r.authorised_by, entered_by, r.expires_at), r.note, region=r.region
        )
        for r in good
    ]
    with Store.open(cfg.store_url) as store:
        added = (
            store.plates.add_entries(
                entries, max_days=cfg.plates.max_hotlist_days, on_written=HotlistAdded(auditor, "hotlist.import")
            )
            if entries
            else []
        )
        if bad:
            auditor.record(store, "hotlist.import_skipped", object_type="hotlist", rows=[n for n, _ in bad])
    console.print(f"imported {len(added)} entr{'y' if len(added) == 1 else 'ies'}, skipped {len(bad)}")


@hotlist_app.command("list")
def list_(
    include_expired: bool = typer.Option(False, "--all", help="Include expired entries not yet purged."),
    as_json: bool = typer.Option(False, "--json"),
    by: str | None = OptionalByOption,
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Hotlist entries with their accountability fields (the listing is audited)."""
    cfg = resolve_config(config, data_dir)
    with Store.open(cfg.store_url) as store:
        entries = store.plates.list_entries(include_expired=include_expired)
        CliAuditor.of(by).record(
            store, "hotlist.list", object_type="hotlist", results=len(entries), include_expired=include_expired
        )
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
    by: str = typer.Option(..., "--by", help="Your name: who removes it (recorded)."),
    reason: str = typer.Option(..., "--reason", help="Why it is removed (recorded)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Remove one entry (it stops matching at once; audited with a reason, in one transaction)."""
    cfg = resolve_config(config, data_dir)
    auditor = CliAuditor.of(person(by))
    why = need_reason(reason, cfg.governance.min_reason_chars, "removing a hotlist entry")

    def write_audit(session: Session, record: HotlistEntryRecord) -> None:
        auditor.append(
            session, "hotlist.remove", object_type="hotlist_entry", object_id=record.entry_id, reason=why,
            plate=record.plate,
        )  # fmt: skip

    with Store.open(cfg.store_url) as store:
        rec = store.plates.remove_entry(entry_id, on_written=write_audit)
    console.print(f"removed {rec.plate} ({rec.entry_id})")


@hotlist_app.command("purge-expired")
def purge_expired(
    by: str = typer.Option(..., "--by", help="Your name: who purges (recorded)."),
    reason: str | None = typer.Option(None, "--reason", help="Why now (optional; recorded)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Delete expired entries (they stopped matching when they expired); audited by count."""
    cfg = resolve_config(config, data_dir)
    auditor = CliAuditor.of(person(by))
    why = (reason or "").strip() or None

    def write_audit(session: Session, n: int) -> None:
        auditor.append(session, "hotlist.purge_expired", object_type="hotlist", reason=why, entries=n)

    with Store.open(cfg.store_url) as store:
        n = store.plates.purge_expired(on_written=write_audit)
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


def _delete_crop(media: MediaStore, rel: str) -> int:
    """1 when the crop file was deleted; a path outside the media root is never deleted."""
    try:
        return int(media.delete(rel))
    except ValueError:
        return 0


@plates_app.command("purge")
def purge(
    by: str | None = OptionalByOption, config: Path | None = ConfigOption, data_dir: Path | None = DataDirOption
) -> None:
    """Delete reads that hit nothing and are older than retention, with their crops; audited by count."""
    cfg = resolve_config(config, data_dir)
    media = MediaStore(cfg.data_dir / "media")
    with Store.open(cfg.store_url) as store:
        gone = store.plates.purge_reads(retention_hours=cfg.plates.retention_hours)
        crops = sum(_delete_crop(media, r.crop) for r in gone if r.crop)
        # Recorded as the retention job records it (counts, never plates), so the transparency
        # report's deletions include purges run by hand.
        CliAuditor.of(by).record(
            store, "retention.run", object_type="task", object_id="plates", plate_reads=len(gone), plate_crops=crops
        )
    console.print(f"purged {len(gone)} read{'' if len(gone) == 1 else 's'} older than {cfg.plates.retention_hours:g} h")


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
