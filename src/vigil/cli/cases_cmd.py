"""``vigil cases list|show|add|hold|release|export|exports``: cases from the command line, signed in as a
user account (``vigil login`` or ``VIGIL_TOKEN``), through :mod:`vigil.services.cases`: the same
camera scope, reasons and audit records as the API and the web UI (``via: cli``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.identity import signed_in
from vigil.cli.options import ConfigOption, DataDirOption
from vigil.core.errors import InputError
from vigil.services import cases
from vigil.store.cases import CaseRecord

cases_app = typer.Typer(help="Cases: evidence grouped under a legal basis, legal holds and case exports.")
console = Console()
ReasonOption = typer.Option(..., "--reason", help="Why (a legal basis or reference; recorded in the audit log).")


def case_json(case: CaseRecord) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "name": case.name,
        "reason": case.reason,
        "legal_hold": case.legal_hold,
        "created_by": case.created_by,
        "created_at": case.created_at.isoformat(),
        "items": [
            {
                "item_type": i.item_type,
                "item_id": i.item_id,
                "camera_id": i.camera_id,
                "added_by": i.added_by,
                "added_at": i.added_at.isoformat(),
            }
            for i in case.items
        ],
    }


def _print(case: CaseRecord, as_json: bool, what: str = "") -> None:
    if as_json:
        print(json.dumps(case_json(case)))
        return
    hold = "on legal hold" if case.legal_hold else "not on hold"
    console.print(f"{what}case {case.case_id} {case.name!r}: {hold}, {len(case.items)} item(s)", highlight=False)


@cases_app.command("list")
def list_cmd(
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Cases newest first: only those whose every item is on a camera in your scope."""
    with signed_in(config, data_dir) as (services, actor):
        found = cases.list_cases(services, actor, limit=limit)
    if as_json:
        print(json.dumps([case_json(c) for c in found]))
        return
    table = Table("id", "name", "items", "legal hold", "opened by", "opened")
    for c in found:
        table.add_row(
            c.case_id,
            c.name,
            str(len(c.items)),
            "yes" if c.legal_hold else "",
            c.created_by,
            f"{c.created_at:%Y-%m-%d}",
        )
    console.print(table)


@cases_app.command("show")
def show_cmd(
    case_id: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """One case with its items (recorded as ``case.view``)."""
    with signed_in(config, data_dir) as (services, actor):
        _print(cases.show(services, actor, case_id), as_json)


@cases_app.command("add")
def add_cmd(
    case_id: str = typer.Argument(...),
    item_type: str = typer.Argument(..., help=f"What to add: {', '.join(cases.ITEM_TYPES)}."),
    item_id: str = typer.Argument(..., help="Its id (an event, track, candidate or plate read id)."),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Add an event, track, candidate or plate read in your camera scope to a case (recorded as ``case.add_item``)."""
    if item_type not in cases.ITEM_TYPES:
        raise InputError(f"item type {item_type!r} is not one of {', '.join(cases.ITEM_TYPES)}")
    with signed_in(config, data_dir) as (services, actor):
        added = cases.add_item(services, actor, case_id, item_type, item_id)
    _print(added, as_json, f"added {item_type} to ")


@cases_app.command("hold")
def hold_cmd(
    case_id: str = typer.Argument(...),
    reason: str = ReasonOption,
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Place a legal hold: retention keeps every item of the case (recorded with the change)."""
    with signed_in(config, data_dir) as (services, actor):
        _print(cases.hold(services, actor, case_id, reason=reason), as_json, "held ")


@cases_app.command("release")
def release_cmd(
    case_id: str = typer.Argument(...),
    reason: str = ReasonOption,
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Lift a legal hold: the items follow retention again (recorded with the change)."""
    with signed_in(config, data_dir) as (services, actor):
        _print(cases.release(services, actor, case_id, reason=reason), as_json, "released ")


@cases_app.command("export")
def export_cmd(
    case_id: str = typer.Argument(...),
    reason: str = ReasonOption,
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the case package (a .zip file)."),
    unredacted: bool = typer.Option(False, "--unredacted", help="Leave faces and plates as stored (supervisors)."),
    force: bool = typer.Option(False, "--force", help="Replace --out if it exists."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Write the case package: events, media (redacted unless --unredacted), attachments, the
    case's audit extract and a SHA-256 manifest; recorded as ``export.create``."""
    if out.exists() and not force:
        raise InputError(f"{out} exists; choose another --out or add --force")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent} is not a folder; create it or choose another --out")
    with signed_in(config, data_dir) as (services, actor):
        package = cases.export(services, actor, case_id, reason=reason, unredacted=unredacted)
    out.write_bytes(package.data)
    console.print(f"wrote {out}: {package.files} files, manifest SHA-256 {package.manifest_sha256}", highlight=False)


@cases_app.command("exports")
def exports_cmd(
    case_id: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """The case's export history, newest first (from its ``export.create`` audit records)."""
    with signed_in(config, data_dir) as (services, actor):
        found = cases.exports(services, actor, case_id)
    if as_json:
        print(json.dumps([{**asdict(e), "at": e.at.isoformat()} for e in found]))
        return
    if not found:
        console.print(f"case {case_id} has not been exported")
        return
    table = Table("when (UTC)", "by", "redacted", "files", "manifest SHA-256", "reason")
    for e in found:
        table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.by, "yes" if e.redacted else "NO", str(e.files or ""),
                      (e.manifest_sha256 or "")[:16], e.reason or "")  # fmt: skip
    console.print(table)


def register(root: typer.Typer) -> None:
    root.add_typer(cases_app, name="cases")
