"""The command line as a signed-in person uses it: a user account made in the deployment's
store, its API token in ``VIGIL_TOKEN`` (as ``vigil login`` would leave it), and the real
``vigil`` app run in-process (as ``vigil.cli.main.main`` runs it) or as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.cli.options import resolve_config
from vigil.core.errors import VigilError
from vigil.governance.auth import AuthService, principal_of
from vigil.store import Store
from vigil.store.audit import AuditRecord

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def account(data_dir: Path, username: str, role: str = "supervisor") -> str:
    """Make a user account in the deployment at ``data_dir``; its API token (got as a password
    sign-in would: a token may not mint tokens)."""
    cfg = resolve_config(None, data_dir)
    with Store.for_config(cfg) as store:
        auth = AuthService(store.governance, cfg.governance.auth)
        user = auth.add_user(username, PASSWORD, role, None, actor="test")
        return auth.issue_token(principal_of(user, "session"), "test", 1)[0]


def vigil_as(token: str | None, args: list[str], data_dir: Path) -> Ran:
    """``vigil`` in this process, signed in with ``token``; a Vigil error is exit 1 with its
    line, as ``main()`` prints it."""
    env = {"VIGIL_DATA_DIR": str(data_dir), "VIGIL_TOKEN": token or ""}
    result = CliRunner().invoke(app, args, env=env)
    if isinstance(result.exception, VigilError):
        return Ran(1, result.stdout, f"error: {result.exception}\n")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def vigil_process(token: str | None, args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    """``vigil`` as a real subprocess, signed in with ``token``."""
    env = dict(os.environ, VIGIL_DATA_DIR=str(data_dir), VIGIL_TOKEN=token or "")
    env.pop("VIGIL_TOKEN_FILE", None)
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *args], capture_output=True, text=True, env=env, timeout=120,
        check=False,
    )  # fmt: skip


def ok(result: Ran | subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def error_line(result: Ran | subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def audit(data_dir: Path, action: str) -> list[AuditRecord]:
    with Store.for_config(resolve_config(None, data_dir)) as store:
        return store.governance.audit.list(action=action, limit=1000)


def by_cli(record: AuditRecord, username: str) -> None:
    """``record`` is ``username``'s, made at the command line (with the OS account beside it)."""
    assert record.actor == username
    assert record.detail["via"] == "cli"
    assert record.detail["os_user"]
