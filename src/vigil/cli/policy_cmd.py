"""``vigil policy list|set``: the policies that drive behaviour (``faces.threshold``), as the
signed-in account, through the policy service the API and the web UI use."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.identity import signed_in
from vigil.cli.options import ConfigOption, DataDirOption
from vigil.core.errors import InputError
from vigil.services import policy
from vigil.services.policy import PolicyValue

policy_app = typer.Typer(help="Policies that drive behaviour (faces.threshold), validated and audited.")
console = Console()


def _value(text: str) -> PolicyValue:
    """A number as a number (``0.5``), anything else as the text typed."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    raise InputError(f"policy value {text[:40]!r} must be a number or text, not a list or an object")


@policy_app.command("list")
def list_(
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """The policy values set, and the face threshold in force (with where it came from)."""
    with signed_in(config, data_dir) as (services, actor):
        values = policy.policies(services, actor)
        in_force = policy.current_threshold(services)
        floor = policy.face_threshold_floor(services.config)
    if as_json:
        print(json.dumps([{"key": p.key, "value": p.value, "updated_by": p.updated_by,
                           "updated_at": p.updated_at.isoformat()} for p in values]))  # fmt: skip
        return
    table = Table("key", "value", "changed by", "when (UTC)")
    for p in values:
        table.add_row(p.key, json.dumps(p.value), p.updated_by, f"{p.updated_at:%Y-%m-%d %H:%M}")
    console.print(table)
    console.print(
        f"face threshold in force {in_force.threshold:.3f} (from the {in_force.source}); "
        f"faces.threshold may be set from {floor:.3f} to 1",
        highlight=False,
    )


@policy_app.command("set")
def set_(
    key: str = typer.Argument(..., help="The policy, e.g. faces.threshold."),
    value: str = typer.Argument(..., help="Its new value, e.g. 0.5."),
    reason: str | None = typer.Option(None, "--reason", help="Why it changes (required; audited)."),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Change a policy as the signed-in account: refused with the allowed range when out of
    bounds (the refusal is audited); the change and its ``policy.change`` record are one transaction."""
    with signed_in(config, data_dir) as (services, actor):
        record = policy.set_policy(services, actor, key, _value(value), reason)
    console.print(f"{record.key} is now {json.dumps(record.value)} (set by {record.updated_by})", highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(policy_app, name="policy")
