"""``vigil retention run`` runs the retention service without the web app, and deletes what the
features' tasks say (non-hit plate reads past retention), recorded by count as system:retention."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil.config import VigilConfig
from vigil.events.plates import PlateReadEvent
from vigil.store import Store

RUN_AND_LIST_MODULES = """
import sys
from vigil.cli.main import main
sys.argv = ["vigil", "retention", "run", "--json", "--data-dir", sys.argv[1]]
try:
    main()
except SystemExit as exit:
    assert not exit.code, exit.code
print(sorted(m for m in sys.modules if m.split(".")[0] in ("fastapi", "starlette") or m.startswith("vigil.api")))
"""


def test_retention_run_deletes_by_count_without_importing_the_web_app(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cfg = VigilConfig(data_dir=data)
    old = datetime.now(UTC) - timedelta(hours=cfg.plates.retention_hours + 2)
    with Store.open(cfg.store_url) as store:
        store.events.add_many(
            [PlateReadEvent(camera_id="cam-a", occurred_at=old, plate="AB12CDE", confidence=0.9, n_reads=2)]
        )
    env = {**os.environ, "VIGIL_DATA_DIR": str(data)}
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, str(data)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report_line, modules_line = done.stdout.strip().splitlines()[-2:]
    assert json.loads(report_line)["deleted"]["plates.plate_reads"] == 1
    assert modules_line == "[]", f"retention imported the web app: {modules_line}"
    with Store.open(cfg.store_url) as store:
        assert store.plates.count_reads() == 0
        runs = [r for r in store.governance.audit.list(limit=100) if r.action == "retention.run"]
    plates = [r for r in runs if r.object_id == "plates"]
    assert [r.actor for r in plates] == ["system:retention"] and plates[0].detail["plate_reads"] == 1
    assert "AB12CDE" not in json.dumps([r.detail for r in runs])
