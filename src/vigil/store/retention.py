"""Retention: delete expired core rows in one transaction with its audit record (counts only)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from vigil.store.audit import AuditEntry, append_audit
from vigil.store.auth import LoginAttemptRow
from vigil.store.candidates import CandidateRow
from vigil.store.cases import CaseItemRow, CaseRow
from vigil.store.clips import ClipRow
from vigil.store.crowd import CrowdAlertRow
from vigil.store.dead_letters import DeadLetterRow
from vigil.store.logins import delete_idle
from vigil.store.partitions import EVENTS, DropResult, any_of, drop_expired, is_partitioned, lock_holds, log_drops
from vigil.store.session import _transaction
from vigil.store.tables import EventRow, TrackRow


@dataclass(frozen=True, slots=True)
class PurgeCutoffs:
    """Rows older than these (aware datetimes) are deleted unless a case on legal hold names them."""

    events_before: datetime
    tracks_before: datetime
    candidates_before: datetime
    dead_letters_before: datetime
    login_attempts_before: datetime


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """Counts only (deletion is audited by count, never by content), plus the files to remove."""

    counts: dict[str, int]
    media_paths: tuple[str, ...]
    partitions_dropped: tuple[str, ...] = ()
    """PostgreSQL: day partitions of ``events`` dropped whole (their rows are in ``counts``)."""
    partitions_kept_for_holds: tuple[str, ...] = ()
    """Partitions old enough to drop kept because they hold a row under legal hold."""


class RetentionRepository:
    """Deletes expired core rows in one transaction with its audit record (counts only)."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def purge(self, cutoffs: PurgeCutoffs, *, actor: str) -> PurgeResult:
        held = (
            select(CaseItemRow.item_type, CaseItemRow.item_id)
            .join(CaseRow, CaseRow.case_id == CaseItemRow.case_id)
            .where(CaseRow.legal_hold.is_(True))
        )
        with _transaction(self._write_sessions, "applying retention") as session:
            partitioned = session.get_bind().dialect.name == "postgresql" and is_partitioned(session.connection())
            if partitioned:
                lock_holds(session.connection())  # no hold may appear between the check and the drop
            held_rows = session.execute(held).all()
            held_by_type: dict[str, set[str]] = {}
            for item_type, item_id in held_rows:
                held_by_type.setdefault(str(item_type), set()).add(str(item_id))
            # A plate read's event has the read's id: a held plate read keeps its event too.
            held_events = held_by_type.get("event", set()) | held_by_type.get("plate_read", set())
            held_tracks = held_by_type.get("track", set())
            held_candidates = held_by_type.get("candidate", set())
            media: list[str] = []
            dropped = DropResult((), 0, ())
            if partitioned:
                # Whole days first: a day's partition with no held row goes in one DROP; one that
                # holds a held event, candidate or a held track's event stays, and the row path
                # below deletes its other rows.
                def holds_any(conn: Any, partition: str) -> bool:
                    return any_of(conn, partition, "event_id", held_events | held_candidates) or any_of(
                        conn, partition, "track_id", held_tracks
                    )

                dropped = drop_expired(session.connection(), EVENTS, cutoffs.events_before, holds_any)

            tracks = session.execute(
                select(TrackRow.track_id, TrackRow.snapshot).where(TrackRow.last_seen < cutoffs.tracks_before)
            ).all()
            track_ids = [str(t) for t, _ in tracks if t not in held_tracks]
            media += [str(s) for t, s in tracks if t not in held_tracks and s]

            cands = session.execute(
                select(CandidateRow.candidate_id, CandidateRow.probe_media, CandidateRow.track_id).where(
                    CandidateRow.occurred_at < cutoffs.candidates_before
                )
            ).all()
            cand_ids = [str(c) for c, _, tr in cands if c not in held_candidates and tr not in held_tracks]
            media += [str(p) for c, p, tr in cands if c not in held_candidates and tr not in held_tracks and p]

            events = session.execute(
                select(EventRow.event_id, EventRow.track_id).where(EventRow.occurred_at < cutoffs.events_before)
            ).all()
            event_ids = [
                str(e)
                for e, tr in events
                if e not in held_events and e not in held_candidates and (tr is None or tr not in held_tracks)
            ]
            # A clip shares its subject's fate: the subject's cutoff, and its hold (the candidate,
            # the alert's event, or the track named in a case).
            latest_cutoff = max(cutoffs.candidates_before, cutoffs.events_before)
            clips = session.execute(
                select(
                    ClipRow.clip_id,
                    ClipRow.subject_type,
                    ClipRow.subject_id,
                    ClipRow.track_id,
                    ClipRow.media,
                    ClipRow.media_kept,
                    ClipRow.subject_at,
                ).where(ClipRow.subject_at < latest_cutoff)
            ).all()
            clip_ids: list[str] = []
            for clip_id, subject_type, subject_id, track, clip_media, kept_media, subject_at in clips:
                cutoff = cutoffs.candidates_before if subject_type == "candidate" else cutoffs.events_before
                on_hold = subject_id in held_candidates | held_events or bool(track and track in held_tracks)
                if subject_at >= cutoff or on_hold:
                    continue
                clip_ids.append(str(clip_id))
                media += [str(m) for m in (clip_media, kept_media) if m]
            counts = {
                "clips": _delete_in(session, ClipRow.clip_id, clip_ids),
                "tracks": _delete_in(session, TrackRow.track_id, track_ids),
                "candidates": _delete_in(session, CandidateRow.candidate_id, cand_ids),
                "events": dropped.rows + _delete_in(session, EventRow.event_id, event_ids),
                # A crowd alert is an event (held as one); its clip already follows this cutoff.
                "crowd_alerts": _rowcount(
                    session.execute(
                        delete(CrowdAlertRow).where(
                            CrowdAlertRow.at < cutoffs.events_before, CrowdAlertRow.event_id.not_in(sorted(held_events))
                        )
                    )
                ),
                "dead_letters": _rowcount(
                    session.execute(delete(DeadLetterRow).where(DeadLetterRow.created_at < cutoffs.dead_letters_before))
                ),
                "login_attempts": _rowcount(
                    session.execute(delete(LoginAttemptRow).where(LoginAttemptRow.at < cutoffs.login_attempts_before))
                ),
                "login_throttle": _rowcount(session.execute(delete_idle(cutoffs.login_attempts_before))),
                "media_files": len(media),
                "held_items": len(held_rows),
            }

            append_audit(session, AuditEntry(actor=actor, action="retention.run", detail=dict(counts)))
        log_drops("events", dropped.dropped, dropped.kept_for_holds)
        return PurgeResult(
            counts=counts,
            media_paths=tuple(media),
            partitions_dropped=dropped.dropped,
            partitions_kept_for_holds=dropped.kept_for_holds,
        )


def _delete_in(session: Session, column: Any, ids: builtins.list[str]) -> int:
    total = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        total += _rowcount(session.execute(delete(column.class_).where(column.in_(chunk))))
    return total


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
