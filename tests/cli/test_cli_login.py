"""How the command line signs in, through real ``vigil`` subprocesses on a fresh SQLite store:
the first admin is bootstrapped (and audited as such), everything after needs a user account's
token (``vigil login`` with a password, or ``VIGIL_TOKEN``), the token file is private, and a
revoked token stops working at once."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.cli.options import resolve_config
from vigil.store import Store

PASSWORD = "correct horse battery"


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, VIGIL_DATA_DIR=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    for name in ("VIGIL_TOKEN", "VIGIL_TOKEN_FILE"):
        env.pop(name, None)
    return env


def vigil(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def audit(env: dict[str, str], action: str) -> list[tuple[str, dict[str, object]]]:
    with Store.open(resolve_config(None, Path(env["VIGIL_DATA_DIR"])).store_url) as store:
        return [(r.actor, r.detail) for r in store.governance.audit.list(action=action, limit=100)]


def test_bootstrap_then_nothing_without_signing_in(home: dict[str, str]) -> None:
    first = vigil(home, "users", "add", "root", "--role", "admin", "--password", PASSWORD)
    assert first.returncode == 0, first.stderr
    [(actor, detail)] = audit(home, "user.create")
    assert actor == "system:bootstrap" and detail["bootstrap"] is True and detail["os_user"]

    # With an admin in place, the shell alone is nobody: not even another admin can be added.
    for args in (("users", "add", "mallory", "--role", "admin"), ("users", "list"), ("whoami",)):
        assert one_error(vigil(home, *args)) == "error: sign in first: vigil login, or set VIGIL_TOKEN"
    assert [a for a, _ in audit(home, "user.create")] == ["system:bootstrap"]


def test_login_keeps_a_private_token_that_logout_revokes(home: dict[str, str], tmp_path: Path) -> None:
    assert vigil(home, "users", "add", "root", "--role", "admin", "--password", PASSWORD).returncode == 0
    wrong = vigil(home, "login", "-u", "root", "--password-stdin", stdin="not the password\n")
    assert one_error(wrong) == "error: wrong user name or password"

    signed = vigil(home, "login", "-u", "root", "--password-stdin", stdin=PASSWORD + "\n")
    assert signed.returncode == 0, signed.stderr
    [token_file] = (tmp_path / "xdg" / "vigil" / "tokens").iterdir()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    who = vigil(home, "whoami")
    assert who.returncode == 0 and who.stdout.startswith("root (admin; all cameras)"), who.stderr
    # The sign-in was a password check, audited like the web one, and issued a bounded token.
    assert [a for a, _ in audit(home, "token.create")] == ["root"]
    assert audit(home, "token.create")[0][1]["days"] == 1.0

    added = vigil(home, "users", "add", "alice", "--role", "operator", "--password", PASSWORD)
    assert added.returncode == 0, added.stderr
    created = sorted((a, d["via"]) for a, d in audit(home, "user.create"))
    assert created == [("root", "cli"), ("system:bootstrap", "cli")]

    token = json.loads(token_file.read_text())["token"]
    token_file.chmod(0o644)  # someone else could read (or have planted) it
    assert "readable by other accounts" in one_error(vigil(home, "whoami"))
    token_file.chmod(0o600)

    out = vigil(home, "logout")
    assert out.returncode == 0 and "token revoked" in out.stdout, out.stderr
    assert not token_file.exists()
    # The same secret, now offered through the environment, is refused at once.
    line = one_error(vigil(dict(home, VIGIL_TOKEN=token), "whoami"))
    assert line == "error: sign in first: vigil login, or set VIGIL_TOKEN (this API token was revoked)"
    assert [a for a, _ in audit(home, "token.revoke")] == ["root"]


def test_login_with_an_existing_token_from_stdin(home: dict[str, str], tmp_path: Path) -> None:
    assert vigil(home, "users", "add", "root", "--role", "admin", "--password", PASSWORD).returncode == 0
    bad = vigil(home, "login", "--with-token", stdin="vgl_forged\n")
    assert one_error(bad) == "error: sign in first: vigil login, or set VIGIL_TOKEN (unknown API token)"
    assert vigil(home, "login", "-u", "root", "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    [token_file] = (tmp_path / "xdg" / "vigil" / "tokens").iterdir()
    token = json.loads(token_file.read_text())["token"]
    token_file.unlink()
    kept = vigil(home, "login", "--with-token", stdin=token + "\n")
    assert kept.returncode == 0 and "signed in as root" in kept.stdout, kept.stderr
    listed = vigil(home, "tokens", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(t["username"], t["active"]) for t in json.loads(listed.stdout)] == [("root", True)]
