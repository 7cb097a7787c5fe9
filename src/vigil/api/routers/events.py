"""Events and tracks over HTTP: a thin door onto :mod:`vigil.services.events` (reasons, scope, audit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from vigil.api.deps import Ctx, CurrentPrincipal, ReasonQuery
from vigil.api.params import Instant
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import EventPage, TrackOut, TrackPage
from vigil.services import events
from vigil.store.records import TrackRecord

router = APIRouter(tags=["events"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
CameraQuery = Annotated[str | None, Query(min_length=1, max_length=128)]
IdPath = Annotated[str, Path(min_length=1, max_length=128)]
SEARCH_REASON = {"reason": "matrix test search"}


@endpoint(
    router,
    "GET",
    "/events",
    action="events.read",
    scope="camera",
    example=Example(query={"camera_id": "{camera}", **SEARCH_REASON}),
)
def search_events(
    ctx: Ctx,
    principal: CurrentPrincipal,
    reason: ReasonQuery = None,
    camera_id: CameraQuery = None,
    type: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> EventPage:
    """Events by time range (``since`` inclusive, ``until`` exclusive, with a time zone), camera and type."""
    page = events.search(
        ctx.services,
        principal,
        reason=reason,
        camera_id=camera_id,
        type=type,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return EventPage(
        items=[e.model_dump(mode="json") for e in page.items],
        limit=page.limit,
        offset=page.offset,
        next_offset=page.next_offset,
    )


@endpoint(
    router,
    "GET",
    "/events/{event_id}",
    action="events.read",
    scope="camera",
    example=Example(path={"event_id": "{event}"}),
)
def get_event(event_id: IdPath, ctx: Ctx, principal: CurrentPrincipal) -> dict[str, object]:
    return events.one(ctx.services, principal, event_id).model_dump(mode="json")


def _track(t: TrackRecord) -> TrackOut:
    return TrackOut(
        track_id=t.track_id,
        camera_id=t.camera_id,
        class_name=t.class_name,
        first_seen=t.first_seen,
        last_seen=t.last_seen,
        n_observations=t.n_observations,
        best_confidence=t.best_confidence,
        snapshot=t.snapshot,
        ended=t.ended,
    )


@endpoint(
    router,
    "GET",
    "/tracks",
    action="tracks.read",
    scope="camera",
    example=Example(query={"camera_id": "{camera}", **SEARCH_REASON}),
)
def search_tracks(
    ctx: Ctx,
    principal: CurrentPrincipal,
    reason: ReasonQuery = None,
    camera_id: CameraQuery = None,
    class_name: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    since: Instant | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> TrackPage:
    page = events.tracks(
        ctx.services,
        principal,
        reason=reason,
        camera_id=camera_id,
        class_name=class_name,
        since=since,
        limit=limit,
        offset=offset,
    )
    return TrackPage(
        items=[_track(t) for t in page.items], limit=page.limit, offset=page.offset, next_offset=page.next_offset
    )


@endpoint(
    router,
    "GET",
    "/tracks/{track_id}",
    action="tracks.read",
    scope="camera",
    example=Example(path={"track_id": "{track}"}),
)
def get_track(track_id: IdPath, ctx: Ctx, principal: CurrentPrincipal) -> TrackOut:
    return _track(events.track(ctx.services, principal, track_id))
