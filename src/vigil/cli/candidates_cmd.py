"""``vigil candidates list | show | confirm | reject``: the human review of matches, as the
signed-in account (``vigil login`` or ``VIGIL_TOKEN``): a door onto
:mod:`vigil.services.candidates`. There is no ``--by``: a typed name is not an identity."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.identity import signed_in
from vigil.cli.options import ConfigOption, DataDirOption
from vigil.recognise.wording import fmr_in_words
from vigil.services import candidates
from vigil.services.candidates import Decision, Kind, Status

app = typer.Typer(help="Review face and plate candidates: nothing is actionable until people confirm it.")
console = Console()

STATUSES = ("pending", "confirmed", "rejected", "all")
KINDS = ("face", "plate")


@app.command("list")
def list_(
    status: str = typer.Option("pending", "--status", help="pending, confirmed, rejected or all."),
    kind: str | None = typer.Option(None, "--kind", help="face or plate."),
    camera: str | None = typer.Option(None, "--camera", help="Only this camera (required if your scope is limited)."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Candidates waiting for review (newest first); the listing is audited."""
    if status not in STATUSES:
        raise typer.BadParameter(f"got {status!r}; expected {', '.join(STATUSES)}", param_hint="--status")
    if kind is not None and kind not in KINDS:
        raise typer.BadParameter(f"got {kind!r}; expected face or plate", param_hint="--kind")
    st: Status | None = None if status == "all" else status  # type: ignore[assignment]
    kd: Kind | None = kind  # type: ignore[assignment]
    with signed_in(config, data_dir) as (services, actor):
        page = candidates.list_candidates(services, actor, status=st, kind=kd, camera_id=camera, limit=limit)
    if as_json:
        print(page.model_dump_json())
        return
    if not page.items:
        console.print(f"no {'' if status == 'all' else status + ' '}candidates")
        return
    table = Table("id", "kind", "camera", "entry", "when", "score", "false-match rate", "flags", "status")
    for c in page.items:
        table.add_row(
            c.candidate_id,
            c.kind,
            c.camera_id,
            c.list_entry_id + (f" ({c.observed})" if c.observed else ""),
            c.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{c.score:.3f}",
            fmr_in_words(c.false_match_rate),
            ", ".join(c.flags),
            f"{c.status} ({c.confirmations}/{c.required_confirmations})",
        )
    console.print(table)


def _decide(
    candidate_id: str, decision: Decision, reason: str | None, config: Path | None, data_dir: Path | None
) -> None:
    with signed_in(config, data_dir) as (services, actor):
        record = candidates.decide(services, actor, candidate_id, decision, reason)
    if record.status == "pending":
        console.print(
            f"candidate {candidate_id}: confirmation {record.confirmations} of {record.required_confirmations} "
            f"recorded (as {actor.username}); still pending: a different account must confirm it too",
            highlight=False,
        )
    else:
        console.print(f"candidate {candidate_id}: {record.status} (as {actor.username})", highlight=False)


@app.command("confirm")
def confirm(
    candidate_id: str = typer.Argument(..., help="The candidate's id (see `vigil candidates list`)."),
    reason: str | None = typer.Option(None, "--reason", help="Why (optional for a confirmation)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Confirm that the probe shows the listed person or plate (as the signed-in account)."""
    _decide(candidate_id, "confirm", reason, config, data_dir)


@app.command("reject")
def reject(
    candidate_id: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="Why it is not a match (required)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Reject a candidate as a false match (a reason is required; rejection is final)."""
    _decide(candidate_id, "reject", reason, config, data_dir)


@app.command("show")
def show(
    candidate_id: str = typer.Argument(...),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Everything recorded about one candidate, as JSON (the view is audited)."""
    with signed_in(config, data_dir) as (services, actor):
        record = candidates.show(services, actor, candidate_id)
    print(record.model_dump_json(indent=2))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="candidates")
