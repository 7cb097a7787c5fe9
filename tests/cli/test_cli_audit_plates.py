"""The command line leaves the same audit trail as the API for plate searches, plate-read
purges and candidate reviews (hotlists: ``test_cli_hotlist.py``): the real ``vigil`` app on SQLite (in-process, as
``vigil.cli.main.main`` runs it; one refusal also through a real subprocess, for its one-line
error), each record read back from the hash-chained audit log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.cli.options import resolve_config
from vigil.core.errors import VigilError
from vigil.events.candidates import CandidateRaised
from vigil.events.plates import PlateReadEvent
from vigil.governance.auth import AuthService, principal_of
from vigil.store import Store
from vigil.store.audit import AuditRecord


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _vigil(args: list[str], data_dir: Path) -> Ran:
    """Run the ``vigil`` app in this process; a Vigil error is exit 1 with its line, as ``main()`` prints it."""
    result = CliRunner().invoke(app, args, env={"VIGIL_DATA_DIR": str(data_dir)})
    if isinstance(result.exception, VigilError):
        return Ran(1, result.stdout, f"error: {result.exception}\n")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def _vigil_process(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VIGIL_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _ok(result: Ran) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _error_line(result: Ran | subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _store(data_dir: Path) -> Store:
    return Store.open(resolve_config(None, data_dir).store_url)


def _audit(data_dir: Path, action: str) -> list[AuditRecord]:
    with _store(data_dir) as store:
        return store.governance.audit.list(action=action, limit=1000)


def _expiry(days: int = 10) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def _is_cli(record: AuditRecord, name: str) -> None:
    assert record.actor == f"cli:{name}"
    assert record.detail["via"] == "cli"
    assert record.detail["os_user"]


def test_a_plate_search_needs_an_account_and_a_reason_and_is_audited_with_the_plate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    now = datetime.now(UTC)
    with _store(data) as store:
        store.events.add_many(
            [
                PlateReadEvent(
                    camera_id="gate", occurred_at=now - timedelta(hours=1), plate="ABC123", confidence=0.9, n_reads=3
                )
            ]
        )
    nobody = _error_line(_vigil(["plates", "search", "ABC123", "--reason", "incident 42"], data))
    assert "sign in first" in nobody
    token = _reviewer_token(data, "pc-lee")
    line = _error_line(_vigil_as(token, ["plates", "search", "ABC123", "--reason", ""], data))
    assert "a plate search needs a reason" in line
    assert _audit(data, "plates.search") == []

    found = json.loads(
        _ok(_vigil_as(token, ["plates", "search", "abc-123", "--reason", "incident 42", "--json"], data))
    )
    assert [r["plate"] for r in found] == ["ABC123"]
    (search,) = _audit(data, "plates.search")
    assert search.actor == "pc-lee" and search.detail["via"] == "cli" and search.detail["os_user"]
    assert search.object_type == "plate" and search.object_id == "ABC123"
    assert search.reason == "incident 42" and search.detail["results"] == 1


def test_a_purge_of_plate_reads_by_hand_is_audited_by_count_like_retention(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = datetime.now(UTC) - timedelta(hours=48)
    with _store(data) as store:
        store.events.add_many(
            [
                PlateReadEvent(camera_id="gate", occurred_at=old, plate=plate, confidence=0.9, n_reads=3)
                for plate in ("ABC123", "XYZ789")
            ]
        )
    _ok(_vigil(["plates", "purge"], data))
    (run,) = _audit(data, "retention.run")
    assert run.object_id == "plates" and run.detail["plate_reads"] == 2 and run.detail["plate_crops"] == 0
    assert "ABC123" not in json.dumps(run.detail)  # counts, never plates
    # The retention job run by hand: no typed name, the OS account beside it.
    assert run.actor == "system:retention" and run.detail["via"] == "cli" and run.detail["os_user"]


def _vigil_as(token: str, args: list[str], data_dir: Path) -> Ran:
    """``vigil`` signed in with ``token`` (``VIGIL_TOKEN``), as a reviewer's shell would be."""
    result = CliRunner().invoke(app, args, env={"VIGIL_DATA_DIR": str(data_dir), "VIGIL_TOKEN": token})
    if isinstance(result.exception, VigilError):
        return Ran(1, result.stdout, f"error: {result.exception}\n")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def _reviewer_token(data_dir: Path, username: str) -> str:
    """A user account and an API token for it, as `vigil login` would get with the password."""
    cfg = resolve_config(None, data_dir)
    with Store.open(cfg.store_url) as store:
        auth = AuthService(store.governance, cfg.governance.auth)
        user = auth.add_user(username, "correct horse battery", "operator", None, actor="test")
        return auth.issue_token(principal_of(user, "session"), "test", 1)[0]


@pytest.mark.parametrize("decision", ["confirm", "reject"])
def test_candidate_reviews_from_the_cli_are_audited_with_the_decision(tmp_path: Path, decision: str) -> None:
    data = tmp_path / "data"
    cand = CandidateRaised(
        camera_id="gate",
        occurred_at=datetime.now(UTC),
        kind="plate",
        list_entry_id="hotlist-entry-1",
        score=0.97,
        observed="AB12CDE",
    )
    with _store(data) as store:
        store.events.add_many([cand])
    cid = cand.event_id
    lee, moss = _reviewer_token(data, "pc-lee"), _reviewer_token(data, "sgt-moss")

    _ok(_vigil_as(lee, ["candidates", "list", "--kind", "plate", "--json"], data))
    (listing,) = _audit(data, "candidates.list")
    assert listing.detail["results"] == 1 and listing.detail["status"] == "pending"
    assert listing.actor == "pc-lee" and listing.detail["via"] == "cli"
    _ok(_vigil_as(lee, ["candidates", "show", cid], data))
    (view,) = _audit(data, "candidate.view")
    assert view.object_id == cid and view.camera_id == "gate"

    args = ["candidates", decision, cid]
    if decision == "reject":
        args += ["--reason", "the crop shows AB12CDF"]
    _ok(_vigil_as(moss, args, data))
    (decided,) = _audit(data, "candidate.decide")
    assert decided.actor == "sgt-moss" and decided.detail["via"] == "cli" and decided.detail["os_user"]
    assert decided.object_id == cid and decided.camera_id == "gate"
    assert decided.detail["decision"] == decision
    assert decided.detail["status"] == ("confirmed" if decision == "confirm" else "rejected")
    assert decided.reason == (None if decision == "confirm" else "the crop shows AB12CDF")

    # A refused decision (the same person confirming twice, or deciding a closed candidate)
    # writes no audit record: decision and record are one transaction.
    again = _vigil_as(moss, ["candidates", "confirm", cid], data)
    assert again.returncode != 0
    assert len(_audit(data, "candidate.decide")) == 1
