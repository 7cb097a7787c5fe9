"""Hole 3: someone who can write to the database cannot rewrite the audit log unnoticed.

Each attack is made with plain SQL, as a database writer would, knowing the hash algorithm
(it is in the source): edit a record and re-hash the chain, delete and renumber, re-order,
forge a decision at the end, cut the newest records, empty the table, strip the signatures.
Every one must fail ``verify_chain`` and name the first broken record or the missing range.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from vigil.governance.audit import TrustedCheckpoint, verify_chain
from vigil.governance.witness import export_witness, read_witness
from vigil.store import Store
from vigil.store.audit import GENESIS_HASH, AuditEntry, chain_hash
from vigil.store.audit_keys import AuditSigner

N = 8


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "audit-signing.key"


@pytest.fixture
def signed_store(database_url: str, key_file: Path) -> Iterator[Store]:
    with Store.open(database_url, audit_key=key_file) as store:
        for i in range(1, N + 1):
            store.governance.audit.append(
                AuditEntry(actor=f"user:{i % 3}", action="candidate.decide", object_type="candidate",
                           object_id=f"c{i}", reason=f"reviewed footage {i}", detail={"decision": "confirm"})
            )  # fmt: skip
        yield store


def _verify(store: Store, signer: AuditSigner, *extra: TrustedCheckpoint):  # type: ignore[no-untyped-def]
    head = signer.read_head()
    checkpoints = [TrustedCheckpoint(head, "the head file")] if head is not None else []
    return verify_chain(store.governance.audit, signer.public_key, [*checkpoints, *extra])


def _rows(store: Store) -> list[dict[str, object]]:
    """The table as raw SQL rows, each with its time parsed (``_at``) as the hash needs it."""
    parsed = {r.seq: r.at for r in store.governance.audit.scan()}
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(text("SELECT * FROM audit_log ORDER BY seq")).mappings()]
    return [{**r, "_at": parsed[int(r["seq"])]} for r in rows]  # type: ignore[call-overload]


def _rehash(engine: Engine, rows: list[dict[str, object]]) -> None:
    """Rewrite the table as ``rows``, recomputing every hash from the genesis (the attacker's tool)."""
    prev = GENESIS_HASH
    fixed = []
    for seq, row in enumerate(rows, start=1):
        detail = row["detail"] if isinstance(row["detail"], dict) else json.loads(str(row["detail"]))
        entry = AuditEntry(actor=str(row["actor"]), action=str(row["action"]), object_type=row["object_type"],  # type: ignore[arg-type]
                           object_id=row["object_id"], camera_id=row["camera_id"], reason=row["reason"],  # type: ignore[arg-type]
                           detail=detail)  # fmt: skip
        digest = chain_hash(prev, seq, row["_at"], entry)  # type: ignore[arg-type]
        clean = {k: v for k, v in row.items() if k != "_at"}
        fixed.append({**clean, "seq": seq, "prev_hash": prev, "hash": digest, "detail": json.dumps(detail)})
        prev = digest
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
        for row in fixed:
            conn.execute(
                text("INSERT INTO audit_log (seq, at, actor, action, object_type, object_id, camera_id, reason, "
                     "detail, prev_hash, hash, key_id, sig) VALUES (:seq, :at, :actor, :action, :object_type, "
                     ":object_id, :camera_id, :reason, :detail, :prev_hash, :hash, :key_id, :sig)"),
                row,
            )  # fmt: skip


def test_an_untouched_log_verifies(signed_store: Store, key_file: Path) -> None:
    verdict = _verify(signed_store, AuditSigner(key_file))
    assert verdict.ok and verdict.records == N and verdict.unsigned_prefix == 0
    assert key_file.stat().st_mode & 0o777 == 0o600 and key_file.parent.stat().st_mode & 0o777 == 0o700
    # The key lives outside the database: nothing in it holds the private key.
    pem = key_file.read_text()
    assert not any(pem.splitlines()[1] in json.dumps(r, default=str) for r in _rows(signed_store))


def test_edited_and_rehashed(signed_store: Store, key_file: Path) -> None:
    rows = _rows(signed_store)
    rows[2]["reason"] = "nothing to see here"
    _rehash(signed_store.engine, rows)
    verdict = _verify(signed_store, AuditSigner(key_file))
    assert not verdict.ok and verdict.first_bad_seq == 3, verdict
    assert "signature" in (verdict.problem or "")


def test_deleted_and_renumbered(signed_store: Store, key_file: Path) -> None:
    rows = _rows(signed_store)
    del rows[1]
    _rehash(signed_store.engine, rows)
    verdict = _verify(signed_store, AuditSigner(key_file))
    assert not verdict.ok and verdict.first_bad_seq == 2, verdict


def test_reordered(signed_store: Store, key_file: Path) -> None:
    rows = _rows(signed_store)
    rows[3], rows[4] = rows[4], rows[3]
    _rehash(signed_store.engine, rows)
    verdict = _verify(signed_store, AuditSigner(key_file))
    assert not verdict.ok and verdict.first_bad_seq == 4, verdict


@pytest.mark.parametrize("sig", [None, "copied"])
def test_forged_decision_appended(signed_store: Store, key_file: Path, sig: str | None) -> None:
    rows = _rows(signed_store)
    forged = {**rows[-1], "object_id": "c-forged", "reason": "confirmed by the second reviewer",
              "sig": rows[-1]["sig"] if sig == "copied" else None}  # fmt: skip
    _rehash(signed_store.engine, [*rows, forged])
    verdict = _verify(signed_store, AuditSigner(key_file))
    assert not verdict.ok and verdict.first_bad_seq == N + 1, verdict


def test_cut_from_the_end(signed_store: Store, key_file: Path) -> None:
    with signed_store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq > 5"))
    verdict = _verify(signed_store, AuditSigner(key_file))
    assert not verdict.ok and verdict.missing == (6, N), verdict
    assert f"records 6..{N} are missing" in (verdict.problem or "")


def test_emptied(signed_store: Store, key_file: Path) -> None:
    with signed_store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    verdict = _verify(signed_store, AuditSigner(key_file))
    assert not verdict.ok and verdict.missing == (1, N), verdict
    # Even with no evidence at all, an empty log is a failure, never "intact: 0 records".
    bare = verify_chain(signed_store.governance.audit, AuditSigner(key_file).public_key, [])
    assert not bare.ok and "empty" in (bare.problem or "")


def test_signatures_stripped(signed_store: Store, key_file: Path) -> None:
    rows = _rows(signed_store)
    rows[0]["reason"] = "rewritten"
    _rehash(signed_store.engine, [{**r, "sig": None, "key_id": None} for r in rows])
    verdict = _verify(signed_store, AuditSigner(key_file))
    assert not verdict.ok, verdict


def test_witness_catches_a_host_attacker_who_resigns_with_a_new_key(
    signed_store: Store, key_file: Path, tmp_path: Path
) -> None:
    """The auditor's witness pins the public key and a checkpoint: someone who can also replace
    the key file and the head file on the host (and so re-sign a rewritten log) is still caught."""
    signer = AuditSigner(key_file)
    witness = tmp_path / "auditor" / "witness.json"
    export_witness(signer, signed_store.governance.audit, witness)
    # The attacker: cut the log, make a new key, re-sign what is left, rewrite the head file.
    with signed_store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq > 4"))
    shutil.rmtree(key_file.parent)
    forger = AuditSigner(key_file)
    rows = _rows(signed_store)
    with signed_store.engine.begin() as conn:
        for row in rows:
            cp = forger.sign(int(row["seq"]), str(row["hash"]))  # type: ignore[call-overload]
            conn.execute(text("UPDATE audit_log SET sig = :s, key_id = :k WHERE seq = :q"),
                         {"s": cp.sig, "k": cp.key_id, "q": row["seq"]})  # fmt: skip
            forger.advance_head(cp)
    assert _verify(signed_store, forger).ok  # the host alone can no longer tell
    pinned_key, checkpoints = read_witness(witness)
    verdict = verify_chain(signed_store.governance.audit, pinned_key, checkpoints)
    assert not verdict.ok and verdict.first_bad_seq == 1 and "signature" in (verdict.problem or ""), verdict


def test_cli_export_a_witness_and_verify_against_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vigil.cli.main import app

    runner = CliRunner()
    data = tmp_path / "data"
    empty = runner.invoke(app, ["audit", "verify", "--data-dir", str(data)])
    assert empty.exit_code == 2 and "empty" in empty.output, empty.output  # never "intact: 0 records"
    with Store.open(f"sqlite:///{data / 'vigil.db'}") as store:
        for i in range(5):
            store.governance.audit.append(AuditEntry(actor="user:a", action="events.search", reason=f"case {i}"))
    witness = tmp_path / "auditor" / "witness.json"
    exported = runner.invoke(app, ["audit", "checkpoint", "export", "--out", str(witness), "--data-dir", str(data)])
    assert exported.exit_code == 0 and "record 5" in exported.output, exported.output
    ok = runner.invoke(app, ["audit", "verify", "--witness", str(witness), "--data-dir", str(data), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["ok"] is True, ok.output
    # A database writer cuts two records and the host's head file goes with them: the witness remains.
    (data / "keys" / "audit-head.json").unlink()
    with Store.open(f"sqlite:///{data / 'vigil.db'}") as store, store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq > 3"))
    cut = runner.invoke(app, ["audit", "verify", "--witness", str(witness), "--data-dir", str(data), "--json"])
    verdict = json.loads(cut.output)
    assert cut.exit_code == 2 and verdict["missing"] == [4, 5] and "records 4..5 are missing" in verdict["problem"]
