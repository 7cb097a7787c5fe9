"""Hole 14: a corrupt page in the middle of the SQLite file is noticed by `vigil status` and at
start-up (SQLite's quick check), in one line."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.events import samples
from vigil.store import Store
from vigil.store.integrity import quick_check

runner = CliRunner()


def _real_database(data_dir: Path) -> Path:
    """A Vigil database with a few hundred tracks and health rows, checkpointed into one file."""
    db = data_dir / "vigil.db"
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with Store.open(f"sqlite:///{db}") as store:
        for i in range(300):
            store.events.add_many(
                samples.track_lifecycle(
                    camera_id=f"cam-{i % 5}", track_id=f"cam-{i % 5}-run-{i}", start=t0 + timedelta(seconds=i)
                )
            )
        store.health.upsert(samples.camera_health(camera_id="cam-0"))
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def _corrupt_middle_page(db: Path) -> int:
    """Overwrite one page in the middle of the file (not the header page) with garbage."""
    with sqlite3.connect(db) as conn:
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        (n_pages,) = conn.execute("PRAGMA page_count").fetchone()
    page = n_pages // 2
    with db.open("r+b") as fh:
        fh.seek(page * page_size + 8)  # keep the page-type byte: a b-tree page that lies
        fh.write(random.Random(14).randbytes(page_size - 16))  # seeded: the same damage every run
    return page


def test_quick_check_passes_a_sound_file_and_names_a_corrupt_one(tmp_path: Path) -> None:
    db = _real_database(tmp_path / "data")
    ok = quick_check(f"sqlite:///{db}")
    assert ok is not None and ok.ok and ok.problems == ()
    _corrupt_middle_page(db)
    bad = quick_check(f"sqlite:///{db}")
    assert bad is not None and not bad.ok
    assert bad.problems and "\n" not in bad.summary()


def test_status_and_startup_say_the_database_is_corrupt(tmp_path: Path, people_clip: Path) -> None:
    data = tmp_path / "data"
    db = _real_database(data)
    sound = runner.invoke(app, ["status", "--data-dir", str(data)])
    assert sound.exit_code == 0, sound.output
    assert "quick check ok" in sound.output

    _corrupt_middle_page(db)
    result = runner.invoke(app, ["status", "--data-dir", str(data)])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if "corrupt" in line]
    assert len(lines) == 1 and str(db) in lines[0], result.output

    # Start-up refuses to write events into a damaged file, in one line, before any analysis.
    env = dict(os.environ, VIGIL_DATA_DIR=str(data))
    run = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", "analyze", str(people_clip)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 1
    err = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "corrupt" in err[0] and "quick check" in err[0], run.stderr


def test_postgresql_has_no_sqlite_quick_check() -> None:
    assert quick_check("postgresql+psycopg://nobody@127.0.0.1:1/none") is None


@pytest.mark.parametrize("missing", ["nothing-here.db"])
def test_a_missing_file_is_not_reported_corrupt(tmp_path: Path, missing: str) -> None:
    report = quick_check(f"sqlite:///{tmp_path / missing}")
    assert report is not None and report.ok
