"""Reading the audit log: newest first, routine records counted per person, camera and hour, and
the CSV export paging back through the chain in batches (every record once, newest first)."""

from __future__ import annotations

import csv
import io

import pytest
from api_support import Env

from vigil.governance.auth import principal_of
from vigil.governance.witness import verify_store
from vigil.services import oversight
from vigil.store.audit import AuditEntry


def _auditor(env: Env) -> object:
    user = env.store.governance.users.by_username("auditor-a")
    assert user is not None
    return principal_of(user, "session")


def test_csv_pages_back_through_the_chain_and_groups_count_routine_views(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(25):
        env.store.governance.audit.append(
            AuditEntry(actor="op-x", action="media.view", object_type="media", object_id=f"m{i}", camera_id="cam-a")
        )
    env.store.governance.audit.append(AuditEntry(actor="op-x", action="case.view", object_id="c1"))
    reader = _auditor(env)
    monkeypatch.setattr(oversight, "EXPORT_BATCH", 10)  # three batches for 26 records
    text, n = oversight.audit_csv(env.ctx.services, reader, by="op-x")  # type: ignore[arg-type]
    rows = list(csv.reader(io.StringIO(text)))[1:]
    seqs = [int(r[0]) for r in rows]
    assert n == 26 and len(set(seqs)) == 26 and seqs == sorted(seqs, reverse=True)
    assert rows[0][3] == "case.view"  # newest first
    (record,) = env.store.governance.audit.list(action="audit.export")
    assert record.detail["actor_filter"] == "op-x" and record.detail["results"] == 26

    groups = oversight.routine_groups(env.ctx.services, reader, by="op-x")  # type: ignore[arg-type]
    assert [(g.action, g.actor, g.camera_id, g.count) for g in groups] == [("media.view", "op-x", "cam-a", 25)]
    page = oversight.audit_page(env.ctx.services, reader, by="op-x", newest_first=True,  # type: ignore[arg-type]
                                exclude_actions=oversight.ROUTINE_ACTIONS)  # fmt: skip
    assert [r.action for r in page.items] == ["case.view"]
    assert verify_store(env.store).ok


def test_a_formula_in_a_reason_is_not_run_by_a_spreadsheet(env: Env) -> None:
    env.store.governance.audit.append(AuditEntry(actor="op-y", action="case.create", reason='=HYPERLINK("x")'))
    text, _ = oversight.audit_csv(env.ctx.services, _auditor(env), by="op-y")  # type: ignore[arg-type]
    (row,) = list(csv.reader(io.StringIO(text)))[1:]
    assert row[7] == '\'=HYPERLINK("x")'
