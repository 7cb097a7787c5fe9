"""The hash chain: intact after many writers; every edit, deletion or reordering is named."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.governance.witness import verify_store
from vigil.store import Store
from vigil.store.audit import AuditEntry


def _fill(store: Store, n: int = 8) -> None:
    for i in range(n):
        store.governance.audit.append(
            AuditEntry(actor=f"user{i % 3}", action="events.search", object_id=f"obj-{i}", reason="r", detail={"n": i})
        )


def _sql(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for s in statements:
            conn.execute(text(s))


TAMPERING: list[tuple[str, Callable[[Engine], None], int, str]] = [
    ("edited reason", lambda e: _sql(e, "UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 4"), 4, "edited"),
    ("edited actor", lambda e: _sql(e, "UPDATE audit_log SET actor = 'someone else' WHERE seq = 6"), 6, "edited"),
    ("deleted", lambda e: _sql(e, "DELETE FROM audit_log WHERE seq = 3"), 3, "missing"),
    (
        "deleted and renumbered",
        lambda e: _sql(e, "DELETE FROM audit_log WHERE seq = 3", "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3"),
        3,
        "edited or moved",
    ),
    (
        "reordered",
        lambda e: _sql(
            e,
            "UPDATE audit_log SET seq = 100 WHERE seq = 5",
            "UPDATE audit_log SET seq = 5 WHERE seq = 6",
            "UPDATE audit_log SET seq = 6 WHERE seq = 100",
        ),
        5,
        "edited or moved",
    ),
    (
        "rewritten with a fresh hash",
        # Change the first hex digit, whatever it was (a fixed 'f' is a no-op 1 time in 16).
        lambda e: _sql(
            e,
            "UPDATE audit_log SET hash = CASE WHEN substr(hash, 1, 1) = 'f' THEN 'e' ELSE 'f' END"
            " || substr(hash, 2) WHERE seq = 2",
        ),
        2,
        "edited",
    ),
]


def _cli(tmp_path: Path, url: str, *args: str) -> tuple[int, str]:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "store": {"url": url}}))
    result = CliRunner().invoke(app, [*args, "--config", str(cfg)])
    return result.exit_code, result.output


def test_intact_chain_verifies(db_url: str, tmp_path: Path) -> None:
    with Store.open(db_url) as store:
        _fill(store)
        verdict = verify_store(store)
    assert verdict.ok and verdict.records == 8 and verdict.first_bad_seq is None
    code, out = _cli(tmp_path, db_url, "audit", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_concurrent_writers_keep_one_chain(db_url: str) -> None:
    with Store.open(db_url) as store:
        threads = [threading.Thread(target=_fill, args=(store, 10)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        verdict = verify_store(store)
    assert verdict.ok and verdict.records == 40


@pytest.mark.parametrize(("name", "tamper", "bad_seq", "words"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_verify_names_the_first_tampered_record(
    db_url: str, tmp_path: Path, name: str, tamper: Callable[[Engine], None], bad_seq: int, words: str
) -> None:
    with Store.open(db_url) as store:
        _fill(store)
        tamper(store.engine)
        verdict = verify_store(store)
    assert not verdict.ok
    assert verdict.first_bad_seq == bad_seq, verdict
    assert words in (verdict.problem or "")
    code, out = _cli(tmp_path, db_url, "audit", "verify")
    assert code == 2 and f"record {bad_seq}" in out
