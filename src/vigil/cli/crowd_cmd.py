"""Commands of the crowd feature."""

from __future__ import annotations

import typer


def register(root: typer.Typer) -> None:
    """Add this feature's commands (sub-apps or commands) to the ``vigil`` app."""
