"""New-candidate notice on every page: a small summary each page polls (``static/alerts.js``).

The summary holds no personal data (a count, the newest candidate's id, camera name and time),
so polling it every second or two is not audited; opening the candidate is. Polling, rather
than the API's server-sent event stream, because that stream records one ``alerts.stream``
audit record per connection, and every page load would open one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from vigil.web.core import pages, signed_in

router = APIRouter(include_in_schema=False)

MAX_COUNTED = 1000


@router.get("/alerts/summary")
@pages
def summary(request: Request) -> Response:
    """``{"pending": N, "by_camera": {camera_id: N}, "newest": {"id", "camera", "at"} | null}``
    for the cameras in scope."""
    session = signed_in(request)
    session.require("candidates.read")
    ctx, me = session.ctx, session.principal
    names = {c.id: c.display_name for c in ctx.config.cameras}
    if me.cameras is None:
        pending = ctx.store.candidates.list(status="pending", limit=MAX_COUNTED)
    else:
        pending = [
            c for cam in sorted(me.cameras) for c in ctx.store.candidates.list(status="pending", camera_id=cam,
                                                                              limit=MAX_COUNTED)
        ]  # fmt: skip
    newest = max(pending, key=lambda c: c.occurred_at, default=None)
    by_camera: dict[str, int] = {}
    for c in pending:
        by_camera[c.camera_id] = by_camera.get(c.camera_id, 0) + 1
    return JSONResponse(
        {
            "pending": len(pending),
            "by_camera": by_camera,
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
