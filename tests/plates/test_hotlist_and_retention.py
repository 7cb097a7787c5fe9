"""Hotlists (accountability fields) and plate-read retention, on SQLite (the CSV import through
the hotlist service: ``test_hotlist_import.py``; at the command line: ``tests/cli/test_cli_hotlist.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.core.accountability import Authorisation
from vigil.core.errors import ConflictError, PolicyError
from vigil.events.plates import PlateReadEvent
from vigil.plates.hotlist import HotlistPlate
from vigil.store import Store
from vigil.store.plates import NewHotlistEntry

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _auth(**kw: object) -> Authorisation:
    base: dict[str, object] = {
        "legal_basis": "Stolen vehicle report SV-1",
        "authorised_by": "Insp. Rao",
        "entered_by": "PC Lee",
        "expires_at": NOW + timedelta(days=30),
    }
    base.update(kw)
    return Authorisation(**base)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'v.db'}")


def test_entries_need_their_accountability_fields(store: Store) -> None:
    with pytest.raises(PolicyError, match="legal_basis is required"):
        store.plates.add_entries([NewHotlistEntry("AB12CDE", _auth(legal_basis=""))], max_days=365, now=NOW)
    with pytest.raises(PolicyError, match="in the past"):
        store.plates.add_entries(
            [NewHotlistEntry("AB12CDE", _auth(expires_at=NOW - timedelta(days=1)))], max_days=365, now=NOW
        )
    (e,) = store.plates.add_entries([NewHotlistEntry("AB12CDE", _auth())], max_days=365, now=NOW)
    with pytest.raises(ConflictError, match="on the hotlist already"):
        store.plates.add_entries([NewHotlistEntry("AB12CDE", _auth())], max_days=365, now=NOW)
    assert store.plates.active_plates(now=NOW) == [HotlistPlate(e.entry_id, "AB12CDE")]
    # Expired entries stop matching at once, and are purged.
    assert store.plates.active_plates(now=NOW + timedelta(days=31)) == []
    assert store.plates.purge_expired(now=NOW + timedelta(days=31)) == 1
    assert store.plates.list_entries(include_expired=True) == []


def _read(plate: str, at: datetime, hit: bool = False) -> PlateReadEvent:
    return PlateReadEvent(camera_id="gate", occurred_at=at, plate=plate, confidence=0.9, n_reads=3, hit=hit)


def test_non_hit_reads_expire_hits_stay(store: Store) -> None:
    old = NOW - timedelta(hours=30)
    store.events.add_many(
        [_read("ABC123", old), _read("ABC123", NOW - timedelta(hours=1)), _read("XYZ9", old, hit=True)]
    )
    assert len(store.plates.search("ABC123", retention_hours=24, now=NOW)) == 1
    assert len(store.plates.search("XYZ9", retention_hours=24, now=NOW)) == 1
    assert store.plates.search("ABC123", retention_hours=24, now=NOW, since=NOW) == []
    gone = store.plates.purge_reads(retention_hours=24, now=NOW)
    assert [r.plate for r in gone] == ["ABC123"]
    assert store.plates.count_reads() == 2


def test_a_plate_read_in_a_case_on_legal_hold_is_kept(store: Store) -> None:
    from vigil.store.audit import AuditEntry

    old = NOW - timedelta(hours=30)
    kept, other = _read("HELD1", old), _read("GONE1", old)
    store.events.add_many([kept, other])
    cases = store.governance.cases
    audit = AuditEntry(actor="test", action="case.create")
    case = cases.create("hit and run", reason="warrant W-9", legal_hold=True, created_by="test", audit=audit)
    cases.add_item(case.case_id, item_type="plate_read", item_id=kept.event_id, camera_id="gate", added_by="test",
                   audit=AuditEntry(actor="test", action="case.add_item"))  # fmt: skip
    gone = store.plates.purge_reads(retention_hours=24, now=NOW)
    assert [r.plate for r in gone] == ["GONE1"]
    assert store.plates.get_read(kept.event_id).plate == "HELD1"


def _vigil(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VIGIL_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_cli_refuses_a_bad_plate_in_a_search(tmp_path: Path) -> None:
    """(Hotlist refusals at the command line: ``tests/cli/test_cli_hotlist.py``.)"""
    data = tmp_path / "data"
    search = ["plates", "search", "A B?", "--reason", "incident 42"]
    assert "illegal characters" in _one_error_line(_vigil(search, data))
