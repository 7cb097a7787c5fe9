"""``vigil candidates list | show | confirm | reject``: the human review of matches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.audit import CliAuditor, person
from vigil.cli.options import ConfigOption, DataDirOption, resolve_config
from vigil.governance.use_records import CandidateDecided
from vigil.recognise.wording import fmr_in_words
from vigil.store.candidates import CandidateRecord
from vigil.store.facade import Store

app = typer.Typer(help="Review face and plate candidates: nothing is actionable until people confirm it.")
console = Console()

ActorOption = typer.Option(..., "--by", help="Your name: who makes this decision (recorded).")
ViewerOption = typer.Option(
    None, "--by", help="Your name (recorded in the audit log; default: your operating-system account)."
)


def _record_dict(c: CandidateRecord) -> dict[str, object]:
    return {
        "candidate_id": c.candidate_id,
        "kind": c.kind,
        "camera_id": c.camera_id,
        "list_entry_id": c.list_entry_id,
        "occurred_at": c.occurred_at.isoformat(),
        "score": c.score,
        "threshold": c.threshold,
        "false_match_rate": c.false_match_rate,
        "observed": c.observed,
        "flags": list(c.flags),
        "detail": c.detail,
        "status": c.status,
        "actionable": c.actionable,
        "probe_media": c.probe_media,
        "reference_media": c.reference_media,
        "decisions": [
            {"actor": d.actor, "decision": d.decision, "reason": d.reason, "at": d.decided_at.isoformat()}
            for d in c.decisions
        ],
    }


@app.command("list")
def list_(
    status: str = typer.Option("pending", "--status", help="pending, confirmed, rejected or all."),
    kind: str | None = typer.Option(None, "--kind", help="face or plate."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json"),
    by: str | None = ViewerOption,
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Candidates waiting for review (newest first); the listing is audited."""
    if status not in ("pending", "confirmed", "rejected", "all"):
        raise typer.BadParameter(f"got {status!r}; expected pending, confirmed, rejected or all", param_hint="--status")
    cfg = resolve_config(config, data_dir)
    with Store.open(cfg.store_url) as store:
        st: Literal["pending", "confirmed", "rejected"] | None = None if status == "all" else status  # type: ignore[assignment]
        records = store.candidates.list(status=st, kind=kind, limit=limit)
        CliAuditor.of(by).record(store, "candidates.list", object_type="candidates", status=st, results=len(records))
    if as_json:
        print(json.dumps([_record_dict(c) for c in records]))
        return
    if not records:
        console.print(f"no {'' if status == 'all' else status + ' '}candidates")
        return
    table = Table("id", "kind", "camera", "entry", "when", "score", "false-match rate", "flags", "status")
    for c in records:
        table.add_row(
            c.candidate_id,
            c.kind,
            c.camera_id,
            c.list_entry_id + (f" ({c.observed})" if c.observed else ""),
            c.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{c.score:.3f}",
            fmr_in_words(c.false_match_rate),
            ", ".join(c.flags),
            f"{c.status} ({sum(d.decision == 'confirm' for d in c.decisions)}/{cfg.candidates.required_confirmations})",
        )
    console.print(table)


def _decide(candidate_id: str, actor: str, decision: Literal["confirm", "reject"], reason: str | None,
            config: Path | None, data_dir: Path | None) -> None:  # fmt: skip
    cfg = resolve_config(config, data_dir)
    auditor = CliAuditor.of(person(actor))

    with Store.open(cfg.store_url) as store:
        record = store.candidates.decide(
            candidate_id,
            actor=actor,
            decision=decision,
            reason=reason,
            required_confirmations=cfg.candidates.required_confirmations,
            on_decided=CandidateDecided(auditor, decision, reason),  # in decide()'s transaction
        )
    if record.status == "pending":
        n = sum(d.decision == "confirm" for d in record.decisions)
        console.print(
            f"candidate {candidate_id}: confirmation {n} of {cfg.candidates.required_confirmations} recorded; "
            "still pending: a different person must confirm it too"
        )
    else:
        console.print(f"candidate {candidate_id}: {record.status}")


@app.command("confirm")
def confirm(
    candidate_id: str = typer.Argument(..., help="The candidate's id (see `vigil candidates list`)."),
    by: str = ActorOption,
    reason: str | None = typer.Option(None, "--reason", help="Why (optional for a confirmation)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Confirm that the probe shows the listed person or plate."""
    _decide(candidate_id, by, "confirm", reason, config, data_dir)


@app.command("reject")
def reject(
    candidate_id: str = typer.Argument(...),
    by: str = ActorOption,
    reason: str = typer.Option(..., "--reason", help="Why it is not a match (required)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Reject a candidate as a false match (a reason is required; rejection is final)."""
    _decide(candidate_id, by, "reject", reason, config, data_dir)


@app.command("show")
def show(
    candidate_id: str = typer.Argument(...),
    by: str | None = ViewerOption,
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Everything recorded about one candidate, as JSON (the view is audited)."""
    cfg = resolve_config(config, data_dir)
    with Store.open(cfg.store_url) as store:
        record = store.candidates.get(candidate_id)
        CliAuditor.of(by).record(
            store, "candidate.view", object_type="candidate", object_id=candidate_id, camera_id=record.camera_id
        )
    print(json.dumps(_record_dict(record), indent=2))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="candidates")
