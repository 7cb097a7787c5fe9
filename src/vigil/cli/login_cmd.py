"""``vigil login``, ``vigil logout`` and ``vigil whoami``: how the command line signs in.

``vigil login`` checks a user's password (through the same lockout as the web sign-in) and
keeps an API token for this deployment in a file only this operating-system account can read;
``--with-token`` keeps an existing token instead (read from standard input, so it is never on
the command line where ``ps`` shows it). Commands that decide or change something then act as
that account (:mod:`vigil.cli.identity`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from vigil.cli.audit import os_account
from vigil.cli.identity import actor_of_token, cli_actor_of, forget_token, save_token, token_file
from vigil.cli.options import ConfigOption, DataDirOption, resolve_config
from vigil.core.clock import utcnow
from vigil.core.errors import InputError
from vigil.governance.auth import AuthService
from vigil.services import users
from vigil.services.context import Services
from vigil.store.facade import Store

console = Console()

DEFAULT_LOGIN_DAYS = 1.0
"""A command-line sign-in lasts a working day by default, like a browser session."""


def login(
    username: str | None = typer.Option(None, "--username", "-u", help="Your user name (asked for when left out)."),
    with_token: bool = typer.Option(
        False, "--with-token", help="Read an existing API token from standard input instead of signing in."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (scripts) instead of asking."
    ),
    days: float = typer.Option(
        DEFAULT_LOGIN_DAYS, "--days", help="How long the sign-in lasts (at most governance.auth.token_max_days)."
    ),
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Sign in as a user account: asks for the password (or reads a token with --with-token) and
    keeps a token only you can read; decisions and changes from this shell are then yours."""
    cfg = resolve_config(config, data_dir)
    with Store.for_config(cfg) as store:
        auth = AuthService(store.governance, cfg.governance.auth)
        if with_token:
            token = sys.stdin.readline().strip()
            if not token:
                raise InputError("--with-token reads an API token from standard input; got nothing")
            actor = actor_of_token(auth, token)
        else:
            name = username or typer.prompt("user name")
            password = (
                sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("password", hide_input=True)
            )
            account = os_account()
            token, _ = auth.sign_in_token(
                name, password, f"cli:{account}"[:64], name=f"vigil login ({account})", days=days
            )
            actor = actor_of_token(auth, token)
    path = save_token(cfg, token, actor.username)
    console.print(
        f"signed in as {actor.username} ({actor.role}); token kept in {path}", highlight=False, soft_wrap=True
    )


def logout(
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Revoke the token `vigil login` kept and delete its file."""
    cfg = resolve_config(config, data_dir)
    path = token_file(cfg)
    token = None
    if path.exists():
        token = json.loads(path.read_text()).get("token") if path.stat().st_mode & 0o077 == 0 else None
    revoked = ""
    if isinstance(token, str):
        with Store.for_config(cfg) as store:
            services = Services.build(cfg, store)
            record = services.auth.token_record(token)
            if record is not None and record.revoked_at is None and record.expires_at > utcnow():
                users.revoke_token(services, actor_of_token(services.auth, token), record.token_id)
                revoked = "token revoked; "
    had_file = forget_token(cfg)
    console.print(f"{revoked}{'signed out' if had_file else 'no saved sign-in for this deployment'}")


def whoami(
    config: Path | None = ConfigOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """The account this shell acts as (from VIGIL_TOKEN or `vigil login`)."""
    cfg = resolve_config(config, data_dir)
    with Store.for_config(cfg) as store:
        actor = cli_actor_of(cfg, store)
    scope = "all cameras" if actor.cameras is None else ", ".join(sorted(actor.cameras))
    console.print(f"{actor.username} ({actor.role}; {scope}); os account {actor.os_user}", highlight=False)


def register(root: typer.Typer) -> None:
    root.command("login")(login)
    root.command("logout")(logout)
    root.command("whoami")(whoami)
