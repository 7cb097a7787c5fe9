"""New-candidate notice on every page: a small summary each page polls (``static/alerts.js``).

The summary holds no personal data (a count, the newest candidate's id, camera name and time),
so polling it every second or two is not audited; opening the candidate is. Polling, rather
than the API's server-sent event stream, because that stream records one ``alerts.stream``
audit record per connection, and every page load would open one.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from vigil.core.clock import utcnow
from vigil.web.core import pages, signed_in

router = APIRouter(include_in_schema=False)

MAX_COUNTED = 1000


@router.get("/alerts/summary")
@pages
def summary(request: Request) -> Response:
    """``{"pending": N, "by_camera": {camera_id: N}, "day_by_camera": {camera_id: N},
    "newest": {"id", "camera", "at"} | null}`` for the cameras in scope (``day_by_camera``:
    candidates of the last 24 hours, whatever their state)."""
    session = signed_in(request)
    session.require("candidates.read")
    ctx, me = session.ctx, session.principal
    names = {c.id: c.display_name for c in ctx.config.cameras}
    day_ago = utcnow() - timedelta(hours=24)
    scope = [None] if me.cameras is None else sorted(me.cameras)
    pending = [c for cam in scope for c in ctx.store.candidates.list(status="pending", camera_id=cam,
                                                                     limit=MAX_COUNTED)]  # fmt: skip
    day = [c for cam in scope for c in ctx.store.candidates.list(camera_id=cam, since=day_ago, limit=MAX_COUNTED)]
    newest = max(pending, key=lambda c: c.occurred_at, default=None)
    by_camera: dict[str, int] = {}
    for c in pending:
        by_camera[c.camera_id] = by_camera.get(c.camera_id, 0) + 1
    day_by_camera: dict[str, int] = {}
    for c in day:
        day_by_camera[c.camera_id] = day_by_camera.get(c.camera_id, 0) + 1
    return JSONResponse(
        {
            "pending": len(pending),
            "by_camera": by_camera,
            "day_by_camera": day_by_camera,
            "newest": None
            if newest is None
            else {
                "id": newest.candidate_id,
                "camera": names.get(newest.camera_id, newest.camera_id),
                "at": newest.occurred_at.isoformat(),
            },
        },
        headers={"Cache-Control": "no-store"},
    )
