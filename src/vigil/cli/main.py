"""``vigil``: entry point. Each command group lives in its own module."""

from __future__ import annotations

import logging
import os
import sys

import typer
from pydantic import ValidationError
from rich.console import Console

from vigil.cli import (
    analyze_cmd,
    candidates_cmd,
    cases_cmd,
    crowd_cmd,
    faces_cmd,
    governance_cmd,
    login_cmd,
    models_cmd,
    plates_cmd,
    policy_cmd,
    run_cmd,
    scale_cmd,
)
from vigil.cli.bad_input import check_text_arguments, error_line
from vigil.core.errors import VigilError

app = typer.Typer(
    name="vigil",
    help="Accountable video analytics for CCTV networks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models_cmd.app, name="models")
app.command("analyze")(analyze_cmd.analyze)
app.command("demo")(analyze_cmd.demo)
app.command("run")(run_cmd.run)
app.command("status")(run_cmd.status)
candidates_cmd.register(app)
cases_cmd.register(app)
faces_cmd.register(app)
plates_cmd.register(app)
crowd_cmd.register(app)
governance_cmd.register(app)
login_cmd.register(app)
scale_cmd.register(app)
policy_cmd.register(app)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main() -> None:
    """Run the CLI; bad input becomes one line on stderr and exit status 1: a Vigil error, a value
    a config model refused, or a ValueError from an argument check (the API answers those 400;
    ``-v`` shows where it was raised)."""
    try:
        check_text_arguments(sys.argv[1:], os.environ)
        app()
    except (VigilError, ValidationError, ValueError) as exc:
        if not isinstance(exc, VigilError | ValidationError):
            logging.getLogger("vigil.cli").info("refused by an argument check", exc_info=exc)
        Console(stderr=True, highlight=False).print(error_line(exc), soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
