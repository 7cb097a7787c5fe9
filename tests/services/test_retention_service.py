"""``vigil retention run`` runs the retention service without the web app, and deletes what the
features' tasks say (non-hit plate reads past retention, crowd aggregates past theirs), recorded by
count as system:retention."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from vigil.config import VigilConfig
from vigil.events.crowd import CrowdAlert, CrowdHeatmap, CrowdZoneCount, ZoneCount
from vigil.events.plates import PlateReadEvent
from vigil.services import retention
from vigil.store import Store
from vigil.store.audit import AuditEntry

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


def test_crowd_aggregates_and_alerts_past_their_retention_go_held_and_recent_ones_stay(tmp_path: Path) -> None:
    # The embedded store (SQLite, one table per kind): the same task `vigil retention run` runs.
    cfg = VigilConfig(data_dir=tmp_path / "data", crowd={"retention_days": 30})
    now = datetime.now(UTC)

    def sample(age: timedelta) -> CrowdZoneCount:
        total = ZoneCount(zone_id="*", count=7, detection_count=7, method="detection")
        zone = total.model_copy(update={"zone_id": "z1"})
        return CrowdZoneCount(camera_id="cam-a", occurred_at=now - age, total=total, zones=(zone,))

    def grid(age: timedelta) -> CrowdHeatmap:
        end = now - age
        return CrowdHeatmap(
            camera_id="cam-a",
            occurred_at=end,
            period_start=end - timedelta(minutes=5),
            cols=2,
            rows=1,
            frames=3,
            frame_width=64,
            frame_height=36,
            cells=(1, 2),
        )

    def alert(age: timedelta) -> CrowdAlert:
        at = now - age
        return CrowdAlert(
            camera_id="cam-a",
            occurred_at=at,
            kind="over_capacity",
            subject_type="zone",
            subject_id="z1",
            state="raised",
            value=70,
            threshold=60,
            unit="people",
            since=at - timedelta(seconds=10),
        )

    old, held, recent = sample(timedelta(days=31)), sample(timedelta(days=40)), sample(timedelta(days=29))
    old_grid, recent_grid = grid(timedelta(days=31)), grid(timedelta(days=1))
    # Alerts follow governance.retention.events_days (default 30), like their clips.
    old_alert, held_alert, recent_alert = (alert(timedelta(days=d)) for d in (31, 45, 29))
    with Store.open(cfg.store_url) as store:
        store.events.add_many([old, held, recent, old_grid, recent_grid, old_alert, held_alert, recent_alert])
        audit = AuditEntry(actor="sup", action="case.create")
        case = store.governance.cases.create("crowd", reason="r", legal_hold=True, created_by="sup", audit=audit)
        for item in (held, held_alert):
            store.governance.cases.add_item(
                case.case_id, item_type="event", item_id=item.event_id, camera_id="cam-a", added_by="sup", audit=audit
            )
        report = retention.run(cfg, store, now=now)
        with store.engine.connect() as conn:
            counts = set(conn.execute(text("SELECT event_id FROM crowd_counts")).scalars())
            grids = set(conn.execute(text("SELECT event_id FROM crowd_heatmaps")).scalars())
            alerts = set(conn.execute(text("SELECT event_id FROM crowd_alerts")).scalars())
        [task] = [r for r in store.governance.audit.list(limit=100) if r.object_id == "crowd"]
    assert counts == {held.event_id, recent.event_id}
    assert grids == {recent_grid.event_id}
    assert alerts == {held_alert.event_id, recent_alert.event_id} and report.counts["crowd_alerts"] == 1
    assert report.counts["crowd.crowd_counts"] == 2 and report.counts["crowd.crowd_heatmaps"] == 1
    assert report.counts["crowd.crowd_partitions_dropped"] == 0  # SQLite: one table, rows only
    assert task.actor == "system:retention" and task.detail["crowd_counts"] == 2
