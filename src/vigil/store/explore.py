"""What the explore page lists: tracks, candidates, plate reads and raised crowd alerts, newest
first, in one time-ordered list (each query bounded, merged here)."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from vigil.store.candidates import CandidateRow
from vigil.store.clips import ClipRow
from vigil.store.crowd import CrowdAlertRow
from vigil.store.plates import PlateReadRow
from vigil.store.session import _check_aware, _transaction
from vigil.store.tables import TrackRow

ExploreKind = Literal["track", "candidate", "plate", "crowd_alert"]
EXPLORE_KINDS: tuple[ExploreKind, ...] = ("track", "candidate", "plate", "crowd_alert")


@dataclass(frozen=True, slots=True)
class ExploreRow:
    """One thing that happened, as the explore page lists it."""

    kind: ExploreKind
    item_id: str
    camera_id: str
    at: datetime
    track_id: str | None
    thumb: str | None
    clip: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExploreQuery:
    kinds: Collection[ExploreKind]
    cameras: Collection[str] | None
    """Cameras to search; None: every camera."""
    since: datetime | None = None
    until: datetime | None = None
    plate_like: str | None = None
    """SQL LIKE pattern over plate reads and plate candidates' reads (``%``, ``_``)."""
    plate_reads_after: datetime | None = None
    """Non-hit plate reads older than this are past retention and never listed."""
    limit: int = 60


def _bounded(stmt: Select[Any], column: Any, q: ExploreQuery, camera: Any) -> Select[Any]:
    if q.cameras is not None:
        stmt = stmt.where(camera.in_(list(q.cameras)))
    if q.since is not None:
        stmt = stmt.where(column >= q.since)
    if q.until is not None:
        stmt = stmt.where(column < q.until)
    return stmt.order_by(column.desc()).limit(q.limit)


class ExploreRepository:
    """One list across the feature tables, for :mod:`vigil.services.explore`."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def find(self, q: ExploreQuery) -> builtins.list[ExploreRow]:
        _check_aware(since=q.since, until=q.until)
        if not 1 <= q.limit <= 1000:
            raise ValueError(f"limit must be in 1..1000, got {q.limit}")
        rows: list[ExploreRow] = []
        with _transaction(self._sessions, "exploring events") as session:
            if "track" in q.kinds and q.plate_like is None:
                stmt = _bounded(
                    select(TrackRow).where(TrackRow.ended.is_(True)), TrackRow.first_seen, q, TrackRow.camera_id
                )
                for t in session.scalars(stmt):
                    rows.append(
                        ExploreRow(
                            "track",
                            t.track_id,
                            t.camera_id,
                            t.first_seen,
                            t.track_id,
                            t.snapshot,
                            fields={
                                "class_name": t.class_name,
                                "last_seen": t.last_seen,
                                "observations": t.n_observations,
                            },
                        )
                    )
            if "candidate" in q.kinds:
                stmt = select(CandidateRow)
                if q.plate_like is not None:
                    stmt = stmt.where(CandidateRow.kind == "plate", CandidateRow.observed.like(q.plate_like))
                stmt = _bounded(stmt, CandidateRow.occurred_at, q, CandidateRow.camera_id)
                for c in session.scalars(stmt):
                    rows.append(
                        ExploreRow(
                            "candidate",
                            c.candidate_id,
                            c.camera_id,
                            c.occurred_at,
                            c.track_id,
                            c.probe_media,
                            fields={
                                "candidate_kind": c.kind,
                                "status": c.status,
                                "list_entry_id": c.list_entry_id,
                                "observed": c.observed,
                                "score": c.score,
                                "flags": list(c.flags or ()),
                            },
                        )
                    )
            if "plate" in q.kinds:
                stmt = select(PlateReadRow)
                if q.plate_like is not None:
                    stmt = stmt.where(PlateReadRow.plate.like(q.plate_like))
                if q.plate_reads_after is not None:
                    stmt = stmt.where(PlateReadRow.hit.is_(True) | (PlateReadRow.occurred_at >= q.plate_reads_after))
                stmt = _bounded(stmt, PlateReadRow.occurred_at, q, PlateReadRow.camera_id)
                for r in session.scalars(stmt):
                    rows.append(
                        ExploreRow(
                            "plate",
                            r.read_id,
                            r.camera_id,
                            r.occurred_at,
                            r.track_id,
                            r.crop,
                            fields={"plate": r.plate, "confidence": r.confidence, "region": r.region, "hit": r.hit},
                        )
                    )
            if "crowd_alert" in q.kinds and q.plate_like is None:
                stmt = _bounded(
                    select(CrowdAlertRow).where(CrowdAlertRow.state == "raised"),
                    CrowdAlertRow.at,
                    q,
                    CrowdAlertRow.camera_id,
                )
                for a in session.scalars(stmt):
                    rows.append(
                        ExploreRow(
                            "crowd_alert",
                            a.event_id,
                            a.camera_id,
                            a.at,
                            None,
                            None,
                            fields={
                                "alert_kind": a.kind,
                                "subject_type": a.subject_type,
                                "subject_id": a.subject_id,
                                "value": a.value,
                                "threshold": a.threshold,
                                "unit": a.unit,
                            },
                        )
                    )
            rows.sort(key=lambda r: r.at, reverse=True)
            rows = rows[: q.limit]
            ids = [r.item_id for r in rows if r.kind in ("candidate", "crowd_alert")]
            clips = (
                {c.subject_id: c.media for c in session.scalars(select(ClipRow).where(ClipRow.subject_id.in_(ids)))}
                if ids
                else {}
            )
        return [
            ExploreRow(r.kind, r.item_id, r.camera_id, r.at, r.track_id, r.thumb, clips.get(r.item_id), r.fields)
            if r.item_id in clips
            else r
            for r in rows
        ]

    def track_path(self, track_id: str, limit: int = 500) -> builtins.list[tuple[datetime, float, float, float, float]]:
        """``(at, x1, y1, x2, y2)`` of a track's stored observations, oldest first."""
        from vigil.store.tables import EventRow

        with _transaction(self._sessions, "reading a track's path") as session:
            rows = session.execute(
                select(EventRow.occurred_at, EventRow.payload)
                .where(
                    EventRow.track_id == track_id, EventRow.type.in_(("track.started", "track.updated", "track.ended"))
                )
                .order_by(EventRow.occurred_at)
                .limit(limit)
            ).all()
        out: list[tuple[datetime, float, float, float, float]] = []
        for at, payload in rows:
            box = (payload or {}).get("box") or {}
            try:
                out.append((at, float(box["x1"]), float(box["y1"]), float(box["x2"]), float(box["y2"])))
            except (KeyError, TypeError, ValueError):
                continue
        return out

    def related(self, track_id: str) -> builtins.list[ExploreRow]:
        """Candidates and plate reads of a track, newest first."""
        with _transaction(self._sessions, "reading a track's related events") as session:
            cands = session.scalars(select(CandidateRow).where(CandidateRow.track_id == track_id)).all()
            reads = session.scalars(select(PlateReadRow).where(PlateReadRow.track_id == track_id)).all()
            out = [
                ExploreRow("candidate", c.candidate_id, c.camera_id, c.occurred_at, c.track_id, c.probe_media,
                           fields={"candidate_kind": c.kind, "status": c.status, "observed": c.observed})
                for c in cands
            ] + [
                ExploreRow("plate", r.read_id, r.camera_id, r.occurred_at, r.track_id, r.crop,
                           fields={"plate": r.plate, "confidence": r.confidence, "hit": r.hit})
                for r in reads
            ]  # fmt: skip
        return sorted(out, key=lambda r: r.at, reverse=True)
