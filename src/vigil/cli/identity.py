"""Who is at the command line: the user account behind an API token, never a typed name.

Every CLI command that decides, changes or reads personal data asks :func:`cli_actor` for its
:data:`~vigil.services.actor.Actor`. The token comes from ``VIGIL_TOKEN`` or, failing that, from
the file ``vigil login`` writes (one per deployment, readable by its owner only, under
``$XDG_CONFIG_HOME/vigil/tokens`` or ``~/.config/vigil/tokens``; ``VIGIL_TOKEN_FILE`` names
another file). The token is checked against the store exactly as the API checks a bearer token
(unknown, revoked, expired and disabled accounts are refused), and the actor is recorded with
``via: cli`` and the operating-system account beside the user account.

An operating-system account can hold only one identity at a time, so one shell user cannot
play two people: two confirmations need two accounts' tokens, each got with that account's
password.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from vigil.cli.audit import os_account
from vigil.cli.options import resolve_config
from vigil.config import VigilConfig
from vigil.core.errors import AuthenticationError, InputError
from vigil.governance.auth import AuthService
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.store.facade import Store

TOKEN_ENV = "VIGIL_TOKEN"
TOKEN_FILE_ENV = "VIGIL_TOKEN_FILE"
SIGN_IN_FIRST = "sign in first: vigil login, or set VIGIL_TOKEN"
CLI_VIA = "cli"


def config_home() -> Path:
    """``$XDG_CONFIG_HOME/vigil``, or ``~/.config/vigil``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "vigil"


def token_file(config: VigilConfig) -> Path:
    """Where ``vigil login`` keeps this deployment's token for this operating-system account.

    One file per deployment (named by a hash of its store URL, which may hold a password), so a
    token signed in to one deployment is never offered to another.
    """
    explicit = os.environ.get(TOKEN_FILE_ENV)
    if explicit:
        return Path(explicit)
    key = hashlib.sha256(config.store_url.encode()).hexdigest()[:16]
    return config_home() / "tokens" / f"{key}.json"


def save_token(config: VigilConfig, token: str, username: str) -> Path:
    """Write the token file (mode 0600, created so: never readable by others, even briefly)."""
    path = token_file(config)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    payload = json.dumps({"token": token, "username": username, "data_dir": str(config.data_dir)})
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(payload + "\n")
    os.replace(tmp, path)
    return path


def forget_token(config: VigilConfig) -> bool:
    """Delete the token file; True if there was one."""
    path = token_file(config)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def saved_token(config: VigilConfig) -> str | None:
    """``VIGIL_TOKEN``, else the token in this deployment's token file, else None.

    Raises:
        InputError: the token file is unreadable, not JSON, or readable by others.
    """
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return from_env
    path = token_file(config)
    if not path.exists():
        return None
    if path.stat().st_mode & 0o077:
        # Someone else could have read (or planted) it: refuse rather than act as its owner.
        raise InputError(
            f"{path} is readable by other accounts (mode {path.stat().st_mode & 0o777:o}); {SIGN_IN_FIRST}"
        )
    try:
        token = json.loads(path.read_text()).get("token")
    except (OSError, ValueError, AttributeError) as exc:
        raise InputError(f"{path} is not a token file written by vigil login ({exc}); {SIGN_IN_FIRST}") from exc
    return token if isinstance(token, str) and token else None


def actor_of_token(auth: AuthService, token: str) -> Actor:
    """The CLI actor of ``token`` (``via: cli``, with the operating-system account).

    Raises:
        AuthenticationError: unknown, malformed, revoked or expired token, or a disabled account;
            one line that says to sign in.
    """
    try:
        principal = auth.token(token)
    except AuthenticationError as exc:
        raise AuthenticationError(f"{SIGN_IN_FIRST} ({exc})", exc.code) from exc
    return replace(principal, via=CLI_VIA, os_user=os_account()[:100])


def cli_actor_of(config: VigilConfig, store: Store) -> Actor:
    """The signed-in actor, for a command that has a config and an open store."""
    token = saved_token(config)
    if token is None:
        raise AuthenticationError(SIGN_IN_FIRST, "unauthenticated")
    return actor_of_token(AuthService(store.governance, config.governance.auth), token)


def cli_actor(services: Services) -> Actor:
    """The signed-in actor for a CLI command: from ``VIGIL_TOKEN`` or the ``vigil login`` file.

    Raises:
        AuthenticationError: no token, or one the store refuses (revoked, expired, unknown,
            disabled account): "sign in first: vigil login, or set VIGIL_TOKEN (why)".
        InputError: a token file readable by other accounts, or not one ``vigil login`` wrote.
    """
    token = saved_token(services.config)
    if token is None:
        raise AuthenticationError(SIGN_IN_FIRST, "unauthenticated")
    return actor_of_token(services.auth, token)


@contextmanager
def signed_in(config: Path | None, data_dir: Path | None) -> Iterator[tuple[Services, Actor]]:
    """The deployment's services (store open, with its audit key) and the signed-in actor.

    ``with signed_in(config, data_dir) as (services, actor): candidates.confirm(services, actor, ...)``
    — the actor is checked before the command does anything.
    """
    cfg = resolve_config(config, data_dir)
    with Store.for_config(cfg) as store:
        services = Services.build(cfg, store)
        yield services, cli_actor(services)
