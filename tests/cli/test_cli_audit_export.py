"""``vigil audit export --csv``: the web UI's CSV export (``services.oversight.audit_csv``) at the
command line, for a signed-in account with ``audit.read``, filtered, newest first, and recorded as
``audit.export``; a role without the right is refused and the refusal recorded."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cli_support import account, audit, by_cli, error_line, ok, vigil_as

from vigil.services.oversight import CSV_COLUMNS


def test_audit_export_writes_the_filtered_log_as_csv(tmp_path: Path) -> None:
    data = tmp_path / "data"
    auditor = account(data, "auditor-1", "auditor")
    account(data, "viewer-1", "viewer")
    out = tmp_path / "audit.csv"
    ok(vigil_as(auditor, ["audit", "export", "--csv", str(out)], data))
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    seqs = [int(r[0]) for r in rows[1:]]
    assert len(seqs) >= 2 and seqs == sorted(seqs, reverse=True)  # newest first
    (record,) = audit(data, "audit.export")
    by_cli(record, "auditor-1")
    assert record.detail["results"] == len(seqs)

    # Filtered by action, to standard output; the first export is now in the log too.
    shown = ok(vigil_as(auditor, ["audit", "export", "--csv", "-", "--action", "audit.export"], data))
    rows = list(csv.reader(io.StringIO(shown)))
    assert [r[3] for r in rows[1:]] == ["audit.export"] and rows[1][2] == "auditor-1"
    assert "exists" in error_line(vigil_as(auditor, ["audit", "export", "--csv", str(out)], data))
    assert "ISO 8601" in error_line(vigil_as(auditor, ["audit", "export", "--csv", "-", "--since", "May"], data))


def test_a_role_without_audit_read_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    viewer = account(data, "viewer-1", "viewer")
    result = vigil_as(viewer, ["audit", "export", "--csv", str(tmp_path / "a.csv")], data)
    assert result.returncode != 0 and not (tmp_path / "a.csv").exists()
    denied = audit(data, "access.denied")
    assert denied and denied[-1].actor == "viewer-1"
