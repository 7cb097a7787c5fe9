"""Options shared by several commands, and how they resolve to a config."""

from __future__ import annotations

from pathlib import Path

import typer

from vigil.config import VigilConfig, load_config
from vigil.config.load import apply_env

ConfigOption = typer.Option(None, "--config", "-c", help="Deployment config (YAML).", dir_okay=False)
DataDirOption = typer.Option(None, "--data-dir", help="Database, media and reports (default: vigil-data).")


def resolve_config(config: Path | None, data_dir: Path | None = None) -> VigilConfig:
    """Load ``--config`` (or the defaults), then apply env and ``--data-dir``."""
    cfg = load_config(config) if config is not None else apply_env(VigilConfig())
    if data_dir is not None:
        cfg = cfg.model_copy(update={"data_dir": data_dir})
    return cfg
