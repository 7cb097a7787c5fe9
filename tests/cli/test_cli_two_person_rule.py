"""Hole 2: one shell user met the two-person rule by typing two names.

Attacked as an outsider would, through real ``vigil`` subprocesses on one SQLite store: before
the fix, ``vigil candidates confirm ID --by alice`` then ``--by bob`` from one OS account made a
face candidate actionable. Now the option does not exist, a shell without a token cannot decide,
two tokens of one account are one person, a viewer's token cannot decide (and the attempt is
recorded), and only two different accounts confirm.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vigil.cli.options import resolve_config
from vigil.config import VigilConfig
from vigil.config.governance import AuthConfig, GovernanceConfig
from vigil.events.candidates import CandidateRaised
from vigil.governance.auth import AuthService, principal_of
from vigil.store import Store

PASSWORD = "correct horse battery"


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Path, str, dict[str, list[str]]]:
    """A store with one pending face candidate and accounts alice, bob (operators) and vic
    (viewer); alice has two tokens, as if she signed in on two machines."""
    data = tmp_path / "data"
    cfg = resolve_config(None, data)
    cfg = cfg.model_copy(
        update={"governance": GovernanceConfig(auth=AuthConfig(argon2_time_cost=1, argon2_memory_kib=1024))}
    )
    raised = CandidateRaised(
        camera_id="gate", occurred_at=datetime.now(UTC), kind="face", list_entry_id="subject-1", score=0.91
    )
    tokens: dict[str, list[str]] = {}
    with Store.open(cfg.store_url) as store:
        store.events.add_many([raised])
        auth = AuthService(store.governance, cfg.governance.auth)
        for name, role, n in (("alice", "operator", 2), ("bob", "operator", 1), ("vic", "viewer", 1)):
            user = auth.add_user(name, PASSWORD, role, None, actor="test")
            tokens[name] = [auth.issue_token(principal_of(user, "session"), f"t{i}", 1)[0] for i in range(n)]
    return data, raised.event_id, tokens


def vigil(data: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VIGIL_DATA_DIR=str(data), XDG_CONFIG_HOME=str(data.parent / "xdg"))
    env.pop("VIGIL_TOKEN", None)
    env.pop("VIGIL_TOKEN_FILE", None)
    if token is not None:
        env["VIGIL_TOKEN"] = token
    command = [sys.executable, "-m", "vigil.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def state(data: Path, cid: str) -> tuple[str, list[str]]:
    cfg: VigilConfig = resolve_config(None, data)
    with Store.open(cfg.store_url) as store:
        c = store.candidates.get(cid)
        return c.status, [d.actor for d in c.decisions]


def denials(data: Path) -> list[tuple[str, str, str | None]]:
    with Store.open(resolve_config(None, data).store_url) as store:
        return [
            (r.actor, r.detail["attempted"], r.object_id)
            for r in store.governance.audit.list(action="access.denied", limit=100)
        ]


def test_one_shell_user_cannot_play_two_people(deployment: tuple[Path, str, dict[str, list[str]]]) -> None:
    data, cid, tokens = deployment

    # The attack that worked: two typed names from one OS account. The option is gone.
    for name in ("alice", "bob"):
        typed = vigil(data, "candidates", "confirm", cid, "--by", name)
        assert typed.returncode == 2 and "No such option: --by" in typed.stderr, typed.stderr
    # Without a token the shell is nobody, and nobody decides.
    anon = vigil(data, "candidates", "confirm", cid)
    assert (anon.returncode, anon.stderr.strip()) == (1, "error: sign in first: vigil login, or set VIGIL_TOKEN")
    assert state(data, cid) == ("pending", [])

    # A viewer's token cannot decide; the attempt is on record.
    viewer = vigil(data, "candidates", "confirm", cid, token=tokens["vic"][0])
    assert viewer.returncode == 1 and "role 'viewer' may not candidates.decide" in viewer.stderr
    assert denials(data) == [("vic", "candidates.decide", cid)]

    # Two tokens of one account are one person.
    first = vigil(data, "candidates", "confirm", cid, token=tokens["alice"][0])
    assert first.returncode == 0 and "confirmation 1 of 2" in first.stdout, first.stderr
    again = vigil(data, "candidates", "confirm", cid, token=tokens["alice"][1])
    assert again.returncode == 1 and "alice has already confirmed" in again.stderr, again.stderr
    assert state(data, cid) == ("pending", ["alice"])

    # A second, different account makes it actionable.
    second = vigil(data, "candidates", "confirm", cid, token=tokens["bob"][0])
    assert second.returncode == 0 and f"candidate {cid}: confirmed (as bob)" in second.stdout, second.stderr
    assert state(data, cid) == ("confirmed", ["alice", "bob"])
    with Store.open(resolve_config(None, data).store_url) as store:
        decided = store.governance.audit.list(action="candidate.decide", limit=10)
    assert [(r.actor, r.detail["via"], r.detail["status"], r.detail["confirmations"]) for r in decided] == [
        ("alice", "cli", "pending", 1),
        ("bob", "cli", "confirmed", 2),
    ]
