"""``vigil hotlist`` as a signed-in user: the hotlist service behind the command line leaves the
same records as the API (the account, never a typed name, with ``via: cli``), refuses without a
sign-in or a reason and writes nothing then, and imports a CSV all or nothing (hole 15: a
duplicate row is named with the line it duplicates; ``--partial`` skips it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_support import account, audit, by_cli, error_line, ok, vigil_as, vigil_process

from vigil.cli.options import resolve_config
from vigil.store import Store


def _expiry(days: int = 10) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def _add(token: str, plate: str, data: Path) -> str:
    out = ok(
        vigil_as(
            token,
            [
                "hotlist",
                "add",
                plate,
                "--reason",
                "warrant W-7",
                "--authorised-by",
                "Insp. Rao",
                "--expires",
                _expiry(),
            ],
            data,
        )
    )
    return out.split(" as ", 1)[1].split()[0]


def test_hotlist_changes_and_listing_are_audited_with_the_signed_in_account(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lee = account(data, "lee")
    moss = account(data, "moss")
    entry_id = _add(lee, "AB12CDE", data)
    (added,) = audit(data, "hotlist.add")
    by_cli(added, "lee")
    assert added.object_id == entry_id and added.reason == "warrant W-7"
    assert added.detail["plate"] == "AB12CDE" and added.detail["authorised_by"] == "Insp. Rao"
    assert added.detail["expires_at"].startswith(_expiry())

    csv_path = tmp_path / "stolen.csv"
    csv_path.write_text(
        "plate,legal_basis,authorised_by,expires_at\n"
        f"XY34FGH,Stolen report SV-2,Insp. Rao,{_expiry()}\n"
        f"BAD#1,Stolen report SV-3,Insp. Rao,{_expiry()}\n"
        f"xy-34 fgh,Stolen report SV-4,Insp. Rao,{_expiry()}\n"
    )
    refused = error_line(vigil_process(moss, ["hotlist", "import", str(csv_path)], data))
    assert "2 bad row(s), nothing imported" in refused and "line 4: plate XY34FGH duplicates line 2" in refused
    assert audit(data, "hotlist.import") == []
    ran = vigil_as(moss, ["hotlist", "import", str(csv_path), "--partial"], data)
    assert "imported 1 entry, skipped 2" in ok(ran)
    assert "skipped line 4: plate XY34FGH duplicates line 2" in ran.stderr
    (imported,) = audit(data, "hotlist.import")
    by_cli(imported, "moss")
    assert imported.detail["plate"] == "XY34FGH" and imported.reason == "Stolen report SV-2"
    (skipped,) = audit(data, "hotlist.import_skipped")
    assert skipped.detail["rows"] == [3, 4]

    listed = json.loads(ok(vigil_as(moss, ["hotlist", "list", "--json"], data)))
    (listing,) = audit(data, "hotlist.list")
    by_cli(listing, "moss")
    assert listing.detail["results"] == len(listed) == 2

    ok(vigil_as(moss, ["hotlist", "remove", entry_id, "--reason", "warrant W-7 withdrawn"], data))
    (removed,) = audit(data, "hotlist.remove")
    by_cli(removed, "moss")
    assert removed.object_id == entry_id and removed.reason == "warrant W-7 withdrawn"
    assert removed.detail["plate"] == "AB12CDE"

    ok(vigil_as(moss, ["hotlist", "purge-expired"], data))
    (purged,) = audit(data, "hotlist.purge_expired")
    assert purged.detail["entries"] == 0

    verified = vigil_as(moss, ["audit", "verify"], data)
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout + verified.stderr


def test_no_sign_in_no_reason_or_no_role_removes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    moss = account(data, "moss")
    viewer = account(data, "vic", "viewer")
    entry_id = _add(moss, "AB12CDE", data)
    line = error_line(vigil_process(moss, ["hotlist", "remove", entry_id, "--reason", " ok "], data))
    assert "reason" in line and "characters" in line
    line = error_line(vigil_process(None, ["hotlist", "remove", entry_id, "--reason", "warrant withdrawn"], data))
    assert line == "error: sign in first: vigil login, or set VIGIL_TOKEN"
    line = error_line(vigil_as(viewer, ["hotlist", "remove", entry_id, "--reason", "warrant withdrawn"], data))
    assert "may not hotlist.manage" in line
    assert audit(data, "hotlist.remove") == []
    (denied,) = audit(data, "access.denied")
    by_cli(denied, "vic")
    assert denied.detail["attempted"] == "hotlist.manage" and denied.object_id == entry_id
    with Store.for_config(resolve_config(None, data)) as store:
        assert [e.entry_id for e in store.plates.list_entries()] == [entry_id]


def test_bad_plates_and_a_missing_basis_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lee = account(data, "lee")
    add = ["hotlist", "add", "AB$1", "--reason", "warrant W-9", "--authorised-by", "Sgt Moss", "--expires"]
    assert "illegal characters" in error_line(vigil_process(lee, [*add, "2099-01-01"], data))
    add = ["hotlist", "add", "AB12", "--reason", "", "--authorised-by", "Sgt Moss", "--expires", _expiry(3)]
    assert "legal_basis is required" in error_line(vigil_as(lee, add, data))
    assert audit(data, "hotlist.add") == []
