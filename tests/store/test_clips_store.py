"""Clips in the store on both engines: a ``clip.recorded`` event (single or bulk path) becomes one
``clips`` row, found by subject, track and either media path; stored twice, it is one row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigil.events import ClipRecorded
from vigil.store.facade import Store

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _clip(subject: str, track: str | None) -> ClipRecorded:
    return ClipRecorded(
        camera_id="door",
        occurred_at=T0,
        subject_type="candidate",
        subject_id=subject,
        subject_at=T0 + timedelta(seconds=5),
        track_id=track,
        media=f"clips/door/2026-12-06/{subject}.mp4",
        media_kept=f"clips/door/2026-12-06/{subject}.kept.mp4" if track else None,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=10),
        frames=50,
        width=768,
        height=432,
    )


def test_clip_events_fold_into_the_clips_table(store: Store) -> None:
    one, two = _clip("c-1", "door-r-1"), _clip("c-2", None)
    assert store.events.add_many([one]) == 1
    assert [e.event_id for e in store.events.add_batch([one, two])] == [two.event_id]  # bulk path on PostgreSQL
    found = store.clips.for_subjects(["c-1", "c-2", "c-3"])
    assert set(found) == {"c-1", "c-2"}
    assert found["c-1"].duration_s == 10.0 and found["c-1"].frames == 50
    assert store.clips.for_track("door-r-1")[0].clip_id == one.event_id
    assert store.clips.by_media("clips/door/2026-12-06/c-1.kept.mp4") == found["c-1"]
    assert store.governance.media_index.owner(one.media) == ("door", "clip")
    assert store.governance.media_index.owner(str(one.media_kept)) == ("door", "clip_kept")
