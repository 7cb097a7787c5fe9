"""Event and track search: stored events and tracks by camera, type and time, for whoever may read them.

Events are footage metadata (tracks of people and vehicles), so a search needs the
``events.read`` role, a camera in scope (camera-scoped accounts must name one) and a reason, and
is recorded as ``events.search`` with its filters and the number of results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigil.core.errors import NotFoundError
from vigil.events import AnyEvent
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.services.rules import need_reason, search_camera, time_range
from vigil.store.records import TrackRecord


@dataclass(frozen=True, slots=True)
class EventPage:
    """Events newest first, and the offset of the next page (None on the last)."""

    items: tuple[AnyEvent, ...]
    limit: int
    offset: int
    next_offset: int | None


def search(
    services: Services,
    actor: Actor,
    *,
    reason: str | None,
    camera_id: str | None = None,
    type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> EventPage:
    """Events by time range (``since`` inclusive, ``until`` exclusive), camera and type, newest first.

    Raises:
        AccessDeniedError: the role may not read events, or ``camera_id`` is out of scope (recorded).
        CameraRequiredError: a camera-scoped actor named no camera.
        ReasonRequiredError: no reason, or too short a one.
    """
    recorder = services.recorder(actor)
    camera = search_camera(recorder, "events.read", camera_id, object_type="events")
    why = need_reason(services.config, reason, "an event search")
    time_range(since, until)
    items = services.store.events.search(
        camera_id=camera, type=type, since=since, until=until, limit=limit, offset=offset, newest_first=True
    )
    recorder.read(
        "events.search",
        object_type="events",
        camera_id=camera,
        reason=why,
        filters={"type": type, "since": since and since.isoformat(), "until": until and until.isoformat()},
        results=len(items),
    )
    return EventPage(tuple(items), limit, offset, offset + limit if len(items) == limit else None)


def one(services: Services, actor: Actor, event_id: str) -> AnyEvent:
    """One event in the actor's scope (recorded as ``event.view``).

    Raises:
        NotFoundError: no such event.
        AccessDeniedError: its camera is out of scope (recorded).
    """
    event = services.store.events.get(event_id)
    if event is None:
        raise NotFoundError(f"no event {event_id!r}")
    recorder = services.recorder(actor)
    recorder.allow("events.read", camera_id=event.camera_id, object_type="event", object_id=event_id)
    recorder.read("event.view", object_type="event", object_id=event_id, camera_id=event.camera_id)
    return event


@dataclass(frozen=True, slots=True)
class TrackPage:
    """Tracks newest first, and the offset of the next page (None on the last)."""

    items: tuple[TrackRecord, ...]
    limit: int
    offset: int
    next_offset: int | None


def tracks(
    services: Services,
    actor: Actor,
    *,
    reason: str | None,
    camera_id: str | None = None,
    class_name: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> TrackPage:
    """Tracks (people, vehicles) by camera, class and start time, newest first; as
    :func:`search`, it needs a camera in scope and a reason, and is recorded (``tracks.search``)."""
    recorder = services.recorder(actor)
    camera = search_camera(recorder, "tracks.read", camera_id, object_type="tracks")
    why = need_reason(services.config, reason, "a track search")
    time_range(since, None)
    found = services.store.tracks.list(
        camera_id=camera, class_name=class_name, since=since, limit=limit, offset=offset, newest_first=True
    )
    recorder.read(
        "tracks.search", object_type="tracks", camera_id=camera, reason=why, class_name=class_name, results=len(found)
    )
    return TrackPage(tuple(found), limit, offset, offset + limit if len(found) == limit else None)


def track(services: Services, actor: Actor, track_id: str) -> TrackRecord:
    """One track in the actor's scope (recorded as ``track.view``).

    Raises:
        NotFoundError: no such track.
        AccessDeniedError: its camera is out of scope (recorded).
    """
    found = services.store.tracks.get(track_id)
    if found is None:
        raise NotFoundError(f"no track {track_id!r}")
    recorder = services.recorder(actor)
    recorder.allow("tracks.read", camera_id=found.camera_id, object_type="track", object_id=track_id)
    recorder.read("track.view", object_type="track", object_id=track_id, camera_id=found.camera_id)
    return found
