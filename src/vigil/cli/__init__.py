"""The ``vigil`` command line (typer + rich)."""
