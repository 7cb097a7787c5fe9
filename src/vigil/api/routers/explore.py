"""Explore over HTTP: a thin door onto :mod:`vigil.services.explore` (kinds, reasons, scope, audit)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from vigil.api.deps import Ctx, CurrentPrincipal, ReasonQuery
from vigil.api.params import Instant
from vigil.api.routing import Example, endpoint
from vigil.services import explore as service
from vigil.services.explore import ExploreItem
from vigil.store.explore import EXPLORE_KINDS

router = APIRouter(tags=["events"])
Kind = Literal["track", "candidate", "plate", "crowd_alert"]


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _item(it: ExploreItem) -> dict[str, Any]:
    r = it.row
    return {
        "kind": r.kind,
        "id": r.item_id,
        "camera_id": r.camera_id,
        "camera": it.camera_name,
        "at": r.at.isoformat(),
        "title": it.title,
        "track_id": r.track_id,
        "thumb": r.thumb,
        "clip": r.clip,
        "personal": it.personal,
        "fields": {k: _json(v) for k, v in r.fields.items()},
    }


@endpoint(
    router,
    "GET",
    "/explore",
    action="tracks.read",
    scope="camera",
    example=Example(query={"camera_id": "{camera}", "kind": "track"}),
)
def explore(
    ctx: Ctx,
    principal: CurrentPrincipal,
    reason: ReasonQuery = None,
    kind: Annotated[list[Kind] | None, Query()] = None,
    camera_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    plate: Annotated[str | None, Query(min_length=1, max_length=24)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 60,
) -> dict[str, Any]:
    """Tracks, candidates, plate reads and raised crowd alerts, newest first, with camera names.
    Candidates and plate reads (personal data) only with a reason; a plate pattern takes ``*``
    and ``?``. Recorded once per search (``explore.search``)."""
    result = service.explore(
        ctx.services,
        principal,
        kinds=tuple(kind) if kind else EXPLORE_KINDS,
        camera_id=camera_id,
        since=since,
        until=until,
        plate=plate,
        reason=reason,
        limit=limit,
    )
    return {
        "items": [_item(i) for i in result.items],
        "kinds": list(result.kinds),
        "withheld_for_reason": list(result.withheld_for_reason),
        "not_allowed": list(result.not_allowed),
        "next_until": result.next_until.isoformat() if result.next_until else None,
    }


@endpoint(
    router,
    "GET",
    "/explore/{kind}/{item_id}",
    action="tracks.read",
    scope="camera",
    example=Example(path={"kind": "track", "item_id": "{track}"}),
)
def explore_detail(
    kind: Kind,
    item_id: Annotated[str, Path(min_length=1, max_length=128)],
    ctx: Ctx,
    principal: CurrentPrincipal,
    reason: ReasonQuery = None,
) -> dict[str, Any]:
    """One item with its clip, snapshot, track path and related events (``explore.view``)."""
    d = service.detail(ctx.services, principal, kind, item_id, reason=reason)
    return {
        "item": _item(d.item),
        "clip": None
        if d.clip is None
        else {
            "media": d.clip.media,
            "started_at": d.clip.started_at.isoformat(),
            "ended_at": d.clip.ended_at.isoformat(),
            "frames": d.clip.frames,
            "has_unredacted_copy": d.clip.media_kept is not None,
        },
        "snapshot": d.snapshot,
        "path": [list(p) for p in d.path],
        "related": [_item(r) for r in d.related],
        "related_withheld": d.related_withheld,
    }
