"""``vigil analyze --watchlist / --plates`` searches footage for listed people or vehicles: it
used to record whatever name ``--by`` typed (or the OS account). Now it needs a signed-in
reviewer and a reason, refuses anyone else before any analysis, and records the refusal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vigil.cli.options import resolve_config
from vigil.governance.auth import AuthService, principal_of
from vigil.store import Store


def _token(data: Path, username: str, role: str) -> str:
    cfg = resolve_config(None, data)
    with Store.open(cfg.store_url) as store:
        auth = AuthService(store.governance, cfg.governance.auth)
        user = auth.add_user(username, "correct horse battery", role, None, actor="test")
        return auth.issue_token(principal_of(user, "session"), "test", 1)[0]


def _analyze(data: Path, token: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VIGIL_DATA_DIR=str(data), XDG_CONFIG_HOME=str(data.parent / "xdg"))
    env.pop("VIGIL_TOKEN", None)
    if token is not None:
        env["VIGIL_TOKEN"] = token
    command = [sys.executable, "-m", "vigil.cli.main", "analyze", str(data.parent / "no-such.mp4"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_a_search_of_a_recording_needs_a_signed_in_reviewer_and_a_reason(tmp_path: Path) -> None:
    data = tmp_path / "data"
    viewer = _token(data, "vic", "viewer")
    operator = _token(data, "olu", "operator")

    typed = _analyze(data, None, "--watchlist", "--by", "alice", "--reason", "case 7")
    assert typed.returncode == 2 and "No such option: --by" in typed.stderr
    anon = _analyze(data, None, "--watchlist", "--reason", "case 7")
    assert (anon.returncode, anon.stderr.strip()) == (1, "error: sign in first: vigil login, or set VIGIL_TOKEN")
    refused = _analyze(data, viewer, "--plates", "--reason", "case 7")
    assert refused.returncode == 1 and "role 'viewer' may not recordings.search" in refused.stderr
    unreasoned = _analyze(data, operator, "--watchlist")
    assert unreasoned.returncode == 1 and "needs a reason" in unreasoned.stderr

    with Store.open(resolve_config(None, data).store_url) as store:
        [denied] = store.governance.audit.list(action="access.denied")
        assert (denied.actor, denied.detail["attempted"], denied.detail["lists"]) == (
            "vic",
            "recordings.search",
            ["hotlist"],
        )
        # Nothing was searched, so no search is on record.
        assert store.governance.audit.list(action="recording.search") == []
