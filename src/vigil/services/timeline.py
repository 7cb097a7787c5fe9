"""Subject timeline: where one watchlist subject was seen, across cameras, oldest first.

A timeline follows one person, so it needs the ``watchlist.timeline`` role, a camera in scope
(camera-scoped accounts must name one) and a reason, and is recorded as ``subject.timeline``
with one detail shape (``results``, ``since``, ``until``, ``truncated``) whichever door asked.
Only pending and confirmed sightings are shown: a rejected candidate was not the subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from vigil.core.errors import InputError, NotFoundError
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.services.rules import need_reason, search_camera, time_range
from vigil.store.candidates import CandidateRecord

ACTION = "watchlist.timeline"
RECORDED_AS = "subject.timeline"
SHOWN: tuple[Literal["pending", "confirmed"], ...] = ("pending", "confirmed")
MAX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Timeline:
    """The sightings (oldest first), whether the subject is still enrolled, the camera filter,
    and whether more matched than ``limit``."""

    subject_id: str
    enrolled: bool
    camera_id: str | None
    sightings: tuple[CandidateRecord, ...]
    truncated: bool


def timeline(
    services: Services,
    actor: Actor,
    subject_id: str,
    *,
    reason: str | None,
    camera_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1000,
) -> Timeline:
    """Pending and confirmed sightings of ``subject_id``, oldest first.

    Raises:
        AccessDeniedError: the role may not, or ``camera_id`` is out of scope (recorded).
        CameraRequiredError: a camera-scoped actor named no camera.
        ReasonRequiredError: no reason, or too short a one.
        InputError: a bound without a time zone, an empty window, or ``limit`` outside 1..10000.
    """
    recorder = services.recorder(actor)
    camera = search_camera(recorder, ACTION, camera_id, object_type="face_subject", object_id=subject_id)
    why = need_reason(services.config, reason, "a subject timeline")
    time_range(since, until)
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit {limit} is outside 1..{MAX_LIMIT}")
    found: list[CandidateRecord] = []
    for status in SHOWN:
        found += services.store.candidates.list(
            status=status,
            kind="face",
            camera_id=camera,
            list_entry_id=subject_id,
            since=since,
            until=until,
            newest_first=False,
            limit=limit + 1,
        )
    found.sort(key=lambda c: (c.occurred_at, c.candidate_id))
    seen = [c for c in found if actor.sees(c.camera_id)]
    try:
        services.store.faces.get(subject_id)
        enrolled = True
    except NotFoundError:
        enrolled = False
    result = Timeline(subject_id, enrolled, camera, tuple(seen[:limit]), len(seen) > limit)
    recorder.read(
        RECORDED_AS,
        object_type="face_subject",
        object_id=subject_id,
        camera_id=camera,
        reason=why,
        results=len(result.sightings),
        truncated=result.truncated,
        since=None if since is None else since.isoformat(),
        until=None if until is None else until.isoformat(),
    )
    return result
