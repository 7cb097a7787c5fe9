"""Fold events into the ``tracks`` and ``camera_health`` tables, inside the caller's transaction.

Only events that were newly stored are folded, so redelivery never double-counts. Events may
arrive out of order (retries, several workers): times are merged with min/max, and the
``track.ended`` summary, which the tracker computed from every frame, wins over running totals.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.events import CameraHealth, TrackEnded, TrackEvent
from vigil.store.tables import CameraHealthRow, TrackRow


def fold_tracks(session: Session, events: Sequence[TrackEvent]) -> None:
    """Create or update one ``tracks`` row per track id in ``events``."""
    if not events:
        return
    ids = {e.track_id for e in events}
    # FOR UPDATE: two indexers folding the same track serialise on PostgreSQL (no-op on SQLite,
    # whose writers are serialised anyway).
    rows = {
        row.track_id: row
        for row in session.scalars(select(TrackRow).where(TrackRow.track_id.in_(ids)).with_for_update())
    }
    for event in sorted(events, key=lambda e: e.occurred_at):
        row = rows.get(event.track_id)
        if row is None:
            row = _new_track(event)
            session.add(row)
            rows[event.track_id] = row
        else:
            _merge_track(row, event)


def _new_track(event: TrackEvent) -> TrackRow:
    if isinstance(event, TrackEnded):
        return TrackRow(
            track_id=event.track_id,
            camera_id=event.camera_id,
            class_name=event.class_name,
            first_seen=event.first_seen,
            last_seen=event.last_seen,
            n_observations=event.n_observations,
            best_confidence=event.best_confidence,
            snapshot=event.snapshot,
            ended=True,
        )
    return TrackRow(
        track_id=event.track_id,
        camera_id=event.camera_id,
        class_name=event.class_name,
        first_seen=event.occurred_at,
        last_seen=event.occurred_at,
        n_observations=1,
        best_confidence=event.confidence,
        snapshot=None,
        ended=False,
    )


def _merge_track(row: TrackRow, event: TrackEvent) -> None:
    if isinstance(event, TrackEnded):
        row.class_name = event.class_name
        row.first_seen = event.first_seen
        row.last_seen = event.last_seen
        row.n_observations = event.n_observations
        row.best_confidence = event.best_confidence
        row.snapshot = event.snapshot
        row.ended = True
        return
    if row.ended:
        return  # a late update: the ended summary already covers it
    row.class_name = event.class_name
    row.first_seen = min(row.first_seen, event.occurred_at)
    row.last_seen = max(row.last_seen, event.occurred_at)
    row.n_observations += 1
    row.best_confidence = max(row.best_confidence, event.confidence)


def fold_health(session: Session, events: Sequence[CameraHealth]) -> None:
    """Keep the newest ``camera.health`` snapshot per camera (older ones never overwrite)."""
    if not events:
        return
    ids = {e.camera_id for e in events}
    rows = {
        row.camera_id: row
        for row in session.scalars(select(CameraHealthRow).where(CameraHealthRow.camera_id.in_(ids)).with_for_update())
    }
    for event in events:
        row = rows.get(event.camera_id)
        if row is None:
            row = CameraHealthRow(camera_id=event.camera_id, updated_at=event.occurred_at)
            session.add(row)
            rows[event.camera_id] = row
        elif event.occurred_at < row.updated_at:
            continue
        row.updated_at = event.occurred_at
        row.event_id = event.event_id
        row.frames_in = event.frames_in
        row.frames_analysed = event.frames_analysed
        row.frames_dropped = event.frames_dropped
        row.reconnects = event.reconnects
        row.analysed_fps = event.analysed_fps
        row.last_error = event.last_error
        row.state = event.state
        row.cpu_share = event.cpu_share
