"""Retention: expired rows and files are gone; items of a case on legal hold remain."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from api_support import T0, seed_camera

from vigil.config.governance import RetentionConfig
from vigil.governance.retention import run_retention
from vigil.store import MediaStore, Store
from vigil.store.audit import AuditEntry
from vigil.store.candidates import CandidateRow
from vigil.store.tables import EventRow, TrackRow


def _count(store: Store, table: type) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def test_expired_data_is_deleted_and_held_items_remain(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    media = MediaStore(tmp_path / "media")
    old = seed_camera(store, media.root, "old-cam", T0 - timedelta(days=400))
    held = seed_camera(store, media.root, "held-cam", T0 - timedelta(days=400))
    fresh = seed_camera(store, media.root, "new-cam", T0)
    actor = AuditEntry(actor="sup", action="case.create")
    case = store.governance.cases.create("hold", reason="warrant", legal_hold=True, created_by="sup", audit=actor)
    for item_type, item_id in (("track", held.track), ("candidate", held.candidate)):
        store.governance.cases.add_item(
            case.case_id, item_type=item_type, item_id=item_id, camera_id="held-cam", added_by="sup", audit=actor
        )

    report = run_retention(store, media, RetentionConfig(events_days=30, tracks_days=30, candidates_days=30), now=T0)

    assert store.tracks.get(old.track) is None
    assert store.events.get(old.event) is None
    assert not (media.root / old.snapshot).exists() and not (media.root / old.probe).exists()
    for kept in (held, fresh):
        assert store.tracks.get(kept.track) is not None
        assert store.events.get(kept.event) is not None
        assert store.candidates.get(kept.candidate).candidate_id == kept.candidate
        assert (media.root / kept.snapshot).exists() and (media.root / kept.probe).exists()
    assert (_count(store, TrackRow), _count(store, CandidateRow), _count(store, EventRow)) == (2, 2, 6)
    assert report.counts["tracks"] == 1 and report.counts["candidates"] == 1 and report.counts["events"] == 3
    [record] = store.governance.audit.list(action="retention.run")
    assert record.detail["events"] == 3 and old.track not in str(record.detail)  # counts, never content

    # Lifting the hold lets the next run delete the held items too.
    store.governance.cases.set_hold(case.case_id, legal_hold=False, audit=actor)
    run_retention(store, media, RetentionConfig(events_days=30, tracks_days=30, candidates_days=30), now=T0)
    assert store.tracks.get(held.track) is None and not (media.root / held.snapshot).exists()
