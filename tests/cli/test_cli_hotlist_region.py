"""``vigil hotlist add --region`` / the CSV ``region`` column and a candidate flagged
``other_region`` at the command line: the real app on SQLite (the refusal through a real
subprocess, for its one line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.cli.options import resolve_config
from vigil.events.candidates import CandidateRaised
from vigil.governance.auth import AuthService, principal_of
from vigil.store import Store

EXPIRY = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()


def _ok(args: list[str], data: Path, token: str | None = None) -> str:
    env = {"VIGIL_DATA_DIR": str(data)} | ({"VIGIL_TOKEN": token} if token else {})
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0 and result.exception is None, (result.stdout, result.exception)
    return result.stdout


def _add(plate: str, data: Path, *region: str) -> list[str]:
    base = ["hotlist", "add", plate, "--reason", "warrant W-7", "--authorised-by", "Insp. Rao"]
    return [*base, "--expires", EXPIRY, *region]


def _supervisor(data: Path) -> str:
    """A supervisor's API token (hotlist changes are made as a signed-in account)."""
    cfg = resolve_config(None, data)
    with Store.open(cfg.store_url) as store:
        auth = AuthService(store.governance, cfg.governance.auth)
        user = auth.add_user("moss", "correct horse battery", "supervisor", None, actor="test")
        return auth.issue_token(principal_of(user, "session"), "test", 1)[0]


def test_hotlist_entries_name_their_region_and_an_unknown_one_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = _supervisor(data)
    assert "region uk" in _ok(_add("AB12CDE", data, "--region", "UK"), data, token)
    csv_path = tmp_path / "stolen.csv"
    csv_path.write_text(
        f"plate,legal_basis,authorised_by,expires_at,region\nXY34FGH,Stolen report SV-2,Insp. Rao,{EXPIRY},eu\n"
        f"KL55ABC,Stolen report SV-3,Insp. Rao,{EXPIRY},atlantis\n"
    )
    _ok(["hotlist", "import", str(csv_path), "--partial"], data, token)
    listed = json.loads(_ok(["hotlist", "list", "--json"], data, token))
    assert {(e["plate"], e["region"]) for e in listed} == {("AB12CDE", "uk"), ("XY34FGH", "eu")}

    refused = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *_add("ZZ99ZZZ", data, "--region", "England")],
        capture_output=True,
        text=True,
        env=dict(os.environ, VIGIL_DATA_DIR=str(data), VIGIL_TOKEN=token),
        timeout=120,
        check=False,
    )
    lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert refused.returncode == 1 and len(lines) == 1, refused.stderr
    assert lines[0].startswith("error: plate region 'England' is not known; use one of br, eu, hk, uk, us")
    with Store.open(resolve_config(None, data).store_url) as store:
        assert "ZZ99ZZZ" not in {e.plate for e in store.plates.list_entries()}


def test_a_candidate_from_another_region_is_marked_in_the_list_and_shown(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cand = CandidateRaised(
        camera_id="gate",
        occurred_at=datetime.now(UTC),
        kind="plate",
        list_entry_id="hotlist-entry-1",
        score=0.97,
        observed="5UVR090",
        flags=("other_region",),
        detail="read as a plate of United States (region us; country 1.00), listed for uk",
    )
    cfg = resolve_config(None, data)
    with Store.open(cfg.store_url) as store:
        store.events.add_many([cand])
        auth = AuthService(store.governance, cfg.governance.auth)
        user = auth.add_user("pc-lee", "correct horse battery", "operator", None, actor="test")
        token = auth.issue_token(principal_of(user, "session"), "test", 1)[0]
    (listed,) = json.loads(_ok(["candidates", "list", "--kind", "plate", "--json"], data, token))["items"]
    assert listed["flags"] == ["other_region"]
    shown = json.loads(_ok(["candidates", "show", cand.event_id], data, token))
    assert shown["flags"] == ["other_region"] and "listed for uk" in shown["detail"]
