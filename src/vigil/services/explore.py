"""Explore: what happened, as people think of it — tracks, candidates, plate reads and crowd
alerts — with camera names, thumbnails, clips and a detail page for each.

Routine reads show no personal data and need no reason: tracks (their snapshots have every
face blurred) and crowd alerts (counts). Candidates (who a watchlist entry is, a plate) and
plate reads are personal data: they are listed only when the search gives a reason, which is
asked once per search and carried to the detail pages opened from it. Every search is
recorded once (``explore.search``: filters, kinds, counts, the reason if given), every detail
page once (``explore.view``); refusals as ``access.denied``. Each kind needs its own read
right (``tracks.read``, ``candidates.read``, ``plates.search``, ``crowd.read``): kinds a role
may not read are left out, and said so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vigil.core.clock import utcnow
from vigil.core.errors import AccessDeniedError, InputError, NotFoundError
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.services.rules import need_reason, optional_reason, time_range
from vigil.store.clips import ClipRecord
from vigil.store.explore import EXPLORE_KINDS, ExploreKind, ExploreQuery, ExploreRow

KIND_ACTION: dict[ExploreKind, str] = {
    "track": "tracks.read",
    "candidate": "candidates.read",
    "plate": "plates.search",
    "crowd_alert": "crowd.read",
}
PERSONAL: frozenset[ExploreKind] = frozenset({"candidate", "plate"})
KIND_LABEL: dict[ExploreKind, str] = {
    "track": "Tracks",
    "candidate": "Candidates",
    "plate": "Plate reads",
    "crowd_alert": "Crowd alerts",
}
_PLATE_PATTERN = re.compile(r"^[A-Z0-9*?]{1,16}$")


def plate_like(pattern: str) -> str:
    """A plate pattern (letters, digits, ``*`` any run, ``?`` one character; spaces and dashes
    ignored) as a SQL LIKE pattern.

    Raises:
        InputError: other characters, or longer than 16.
    """
    text = re.sub(r"[\s-]", "", pattern).upper()
    if not _PLATE_PATTERN.match(text):
        raise InputError("plate: letters and digits, * for any run and ? for one character (at most 16)")
    return text.replace("*", "%").replace("?", "_")


@dataclass(frozen=True, slots=True)
class ExploreItem:
    """One listed thing, with its camera's name and a title in words."""

    row: ExploreRow
    camera_name: str
    title: str

    @property
    def kind(self) -> ExploreKind:
        return self.row.kind

    @property
    def personal(self) -> bool:
        return self.row.kind in PERSONAL


@dataclass(frozen=True, slots=True)
class ExploreResult:
    """A search's items, newest first, and what was left out and why."""

    items: tuple[ExploreItem, ...]
    kinds: tuple[ExploreKind, ...]
    withheld_for_reason: tuple[ExploreKind, ...] = ()
    """Personal kinds asked for without a reason (give one to list them)."""
    not_allowed: tuple[ExploreKind, ...] = ()
    """Kinds this role may not read."""
    reason: str | None = None
    next_until: datetime | None = None
    """The time of the oldest item when the page is full: ask again with ``until`` = this for older ones."""


def _title(row: ExploreRow) -> str:
    f = row.fields
    if row.kind == "track":
        return str(f.get("class_name", "object")).capitalize()
    if row.kind == "candidate":
        if f.get("candidate_kind") == "plate":
            return f"Plate candidate {f.get('observed') or ''}".rstrip()
        return "Face candidate"
    if row.kind == "plate":
        return f"Plate {f.get('plate')}" + (" (hotlist hit)" if f.get("hit") else "")
    words = str(f.get("alert_kind", "alert")).replace("_", " ")
    return f"{words.capitalize()}: {f.get('subject_type')} {f.get('subject_id')}"


def _names(services: Services) -> dict[str, str]:
    return {c.id: c.display_name for c in services.config.cameras}


def explore(
    services: Services,
    actor: Actor,
    *,
    kinds: tuple[ExploreKind, ...] = EXPLORE_KINDS,
    camera_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    plate: str | None = None,
    reason: str | None = None,
    limit: int = 60,
) -> ExploreResult:
    """Tracks, candidates, plate reads and raised crowd alerts in the actor's scope, newest first.

    Raises:
        AccessDeniedError: the role may read none of the kinds asked for, or ``camera_id`` is out
            of scope (recorded).
        ReasonRequiredError: a plate pattern (personal data) without a reason.
        InputError: a bad plate pattern or time window.
    """
    recorder = services.recorder(actor)
    asked = tuple(k for k in EXPLORE_KINDS if k in kinds) or EXPLORE_KINDS
    allowed = tuple(k for k in asked if actor.can(KIND_ACTION[k]))
    if not allowed:
        recorder.allow(KIND_ACTION[asked[0]], camera_id=camera_id, object_type="explore")
        raise AccessDeniedError("not allowed")  # pragma: no cover - allow() raised
    if camera_id is not None:
        recorder.allow(KIND_ACTION[allowed[0]], camera_id=camera_id, object_type="explore")
    time_range(since, until)
    like = None
    why = optional_reason(reason)
    if plate and plate.strip():
        like = plate_like(plate)
        why = need_reason(services.config, reason, "a plate search")
        allowed = tuple(k for k in allowed if k in ("candidate", "plate"))
    elif why is not None:
        why = need_reason(services.config, reason, "a search that shows personal data")
    searched = tuple(k for k in allowed if k not in PERSONAL or why is not None)
    withheld = tuple(k for k in allowed if k not in searched)
    cameras = [camera_id] if camera_id is not None else (list(actor.cameras) if actor.cameras is not None else None)
    retention = services.config.plates.retention_hours
    rows = services.store.explore.find(
        ExploreQuery(
            kinds=searched,
            cameras=cameras,
            since=since,
            until=until,
            plate_like=like,
            plate_reads_after=utcnow() - timedelta(hours=retention),
            limit=limit,
        )
    ) if searched else []  # fmt: skip
    names = _names(services)
    items = tuple(ExploreItem(r, names.get(r.camera_id, r.camera_id), _title(r)) for r in rows)
    recorder.read(
        "explore.search",
        object_type="events",
        camera_id=camera_id,
        reason=why,
        filters={
            "kinds": list(searched),
            "since": since and since.isoformat(),
            "until": until and until.isoformat(),
            "plate": plate or None,
        },
        results=len(items),
    )
    return ExploreResult(
        items=items,
        kinds=searched,
        withheld_for_reason=withheld,
        not_allowed=tuple(k for k in asked if k not in allowed),
        reason=why,
        next_until=items[-1].row.at if items and len(items) == limit else None,
    )


@dataclass(frozen=True, slots=True)
class ExploreDetail:
    """One track, candidate, plate read or crowd alert, with what belongs to it."""

    item: ExploreItem
    clip: ClipRecord | None
    snapshot: str | None
    path: tuple[tuple[float, float], ...] = ()
    """The track's box centres over time, in frame pixels."""
    frame_size: tuple[float, float] = (0.0, 0.0)
    related: tuple[ExploreItem, ...] = ()
    related_withheld: int = 0
    facts: dict[str, Any] = field(default_factory=dict)


def detail(
    services: Services, actor: Actor, kind: ExploreKind, item_id: str, *, reason: str | None = None
) -> ExploreDetail:
    """One item in the actor's scope; personal kinds need the search's reason. Recorded as
    ``explore.view``.

    Raises:
        NotFoundError: no such item (or retention removed it).
        AccessDeniedError: the role or camera scope does not allow it (recorded).
        ReasonRequiredError: a candidate or plate read without a reason.
    """
    if kind not in KIND_ACTION:
        raise NotFoundError(f"no such kind {kind!r}")
    recorder = services.recorder(actor)
    store = services.store
    names = _names(services)
    row = _find(services, kind, item_id)
    recorder.allow(KIND_ACTION[kind], camera_id=row.camera_id, object_type=kind, object_id=item_id)
    why = need_reason(services.config, reason, "opening personal data") if kind in PERSONAL else optional_reason(reason)
    item = ExploreItem(row, names.get(row.camera_id, row.camera_id), _title(row))
    clip = store.clips.for_subjects([item_id]).get(item_id)
    snapshot = row.thumb
    path: tuple[tuple[float, float], ...] = ()
    size = (0.0, 0.0)
    related: list[ExploreItem] = []
    withheld = 0
    track_id = row.track_id
    if track_id is not None:
        track = store.tracks.get(track_id)
        if track is not None and kind == "track":
            snapshot = track.snapshot
        boxes = store.explore.track_path(track_id)
        path = tuple(((x1 + x2) / 2, (y1 + y2) / 2) for _, x1, y1, x2, y2 in boxes)
        if boxes:
            size = (max(b[3] for b in boxes), max(b[4] for b in boxes))
        for r in store.explore.related(track_id):
            if r.item_id == item_id:
                continue
            if r.kind in PERSONAL and (why is None or not actor.can(KIND_ACTION[r.kind])):
                withheld += 1
                continue
            related.append(ExploreItem(r, names.get(r.camera_id, r.camera_id), _title(r)))
        if clip is None and kind == "track":
            clips = store.clips.for_track(track_id)
            clip = clips[0] if clips else None
        if kind != "track" and track is not None:
            related.append(
                ExploreItem(
                    ExploreRow("track", track.track_id, track.camera_id, track.first_seen, track.track_id,
                               track.snapshot, fields={"class_name": track.class_name}),
                    names.get(track.camera_id, track.camera_id),
                    f"Track of the {track.class_name}",
                )
            )  # fmt: skip
    recorder.read("explore.view", object_type=kind, object_id=item_id, camera_id=row.camera_id, reason=why)
    return ExploreDetail(item, clip, snapshot, path, size, tuple(related), withheld, dict(row.fields))


def _find(services: Services, kind: ExploreKind, item_id: str) -> ExploreRow:
    store = services.store
    if kind == "track":
        t = store.tracks.get(item_id)
        if t is None:
            raise NotFoundError(f"no track {item_id!r}")
        return ExploreRow("track", t.track_id, t.camera_id, t.first_seen, t.track_id, t.snapshot,
                          fields={"class_name": t.class_name, "last_seen": t.last_seen,
                                  "observations": t.n_observations, "best_confidence": t.best_confidence})  # fmt: skip
    if kind == "candidate":
        c = store.candidates.get(item_id)
        return ExploreRow("candidate", c.candidate_id, c.camera_id, c.occurred_at, c.track_id, c.probe_media,
                          fields={"candidate_kind": c.kind, "status": c.status, "list_entry_id": c.list_entry_id,
                                  "observed": c.observed, "score": c.score, "flags": list(c.flags)})  # fmt: skip
    if kind == "plate":
        r = store.plates.get_read(item_id)
        facts = {"plate": r.plate, "confidence": r.confidence, "region": r.region, "hit": r.hit}
        return ExploreRow("plate", r.read_id, r.camera_id, r.occurred_at, r.track_id, r.crop, fields=facts)
    event = store.events.get(item_id)
    if event is None or event.type != "crowd.alert":
        raise NotFoundError(f"no crowd alert {item_id!r}")
    data = event.model_dump()
    return ExploreRow("crowd_alert", item_id, event.camera_id, event.occurred_at, None, None,
                      fields={"alert_kind": data["kind"], "subject_type": data["subject_type"],
                              "subject_id": data["subject_id"], "value": data["value"],
                              "threshold": data["threshold"], "unit": data["unit"]})  # fmt: skip


def clip_for(services: Services, actor: Actor, subject_id: str) -> ClipRecord:
    """The clip of a candidate or crowd alert, if the actor may see its camera's footage (the
    media endpoint audits the viewing itself).

    Raises:
        NotFoundError: no clip (none was kept, it is still being encoded, or retention removed it).
        AccessDeniedError: out of scope (recorded).
    """
    clip = services.store.clips.for_subjects([subject_id]).get(subject_id)
    if clip is None:
        raise NotFoundError("no clip for this event (none kept yet, or retention removed it)")
    services.recorder(actor).allow("media.read", camera_id=clip.camera_id, object_type="clip", object_id=subject_id)
    return clip
