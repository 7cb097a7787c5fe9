"""Live view: a grid of every camera in scope and a page per camera, near-live.

Each tile is an ``<img>`` that ``live.js`` refreshes from ``/live/{camera}/frame.jpg`` (short
polling of one JPEG: plain HTTP, no stream to hold open per tile, so a grid of 16 cameras does
not exhaust the browser's six connections per host). The frame, its redaction and the watch
records are :class:`vigil.services.live.LiveView`'s.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from vigil.config.camera import CAMERA_ID_PATTERN
from vigil.core.errors import NotFoundError
from vigil.governance.plate_regions import what_is_blurred
from vigil.services.live import WATCH, LiveView
from vigil.services.recorder import Recorder
from vigil.web.core import WebSession, pages, render, signed_in

router = APIRouter(include_in_schema=False)


def _live(session: WebSession) -> LiveView:
    live = session.ctx.live
    if live is None:  # pragma: no cover - ApiContext.build always makes one
        raise NotFoundError("the live view is not set up in this server")
    return live


def _camera(session: WebSession, camera_id: str) -> str:
    """The camera's display name, once the viewer may watch it (a refusal is recorded)."""
    if not re.fullmatch(CAMERA_ID_PATTERN, camera_id):  # never a stranger's text in the audit log
        raise NotFoundError(f"no camera {camera_id[:64]!r}: camera ids are lower case letters, digits, '-' and '_'")
    Recorder(session.ctx.store, session.principal).allow("media.read", camera_id=camera_id, object_type="camera",
                                                         object_id=camera_id, asked=WATCH)  # fmt: skip
    for cam in session.ctx.config.cameras:
        if cam.id == camera_id:
            return cam.display_name
    raise NotFoundError(f"no camera {camera_id!r}")


@router.get("/live")
@pages
def grid(request: Request) -> Response:
    """Every enabled camera in the viewer's scope."""
    session = signed_in(request)
    session.require("media.read")
    me = session.principal
    cfg = session.ctx.config
    cameras = [(c.id, c.display_name, what_is_blurred(cfg, c.id)) for c in cfg.cameras if c.enabled and me.sees(c.id)]
    return render(request, "live.html", session, cameras=cameras, running=_live(session).running,
                  clear=me.can("media.unredacted"))  # fmt: skip


@router.get("/live/{camera_id}")
@pages
def camera(request: Request, camera_id: str) -> Response:
    session = signed_in(request)
    name = _camera(session, camera_id)
    return render(request, "live_camera.html", session, camera_id=camera_id, name=name,
                  running=_live(session).running, clear=session.principal.can("media.unredacted"),
                  blurred=what_is_blurred(session.ctx.config, camera_id))  # fmt: skip


@router.get("/live/{camera_id}/frame.jpg")
@pages
def frame(request: Request, camera_id: str, w: int | None = Query(None, ge=1, le=8192)) -> Response:
    """The camera's newest analysed frame (204 while there is none), at most ``w`` pixels wide
    (the width the page shows it at; rounded up to a served width, see
    :func:`vigil.services.live.served_width`); ``X-Frame-Seq`` counts frames, ``X-Frame-Age``
    is its age in seconds."""
    session = signed_in(request)
    _camera(session, camera_id)
    got = _live(session).frame(session.principal, camera_id, w)
    if got is None:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return Response(
        got.jpeg,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Frame-Seq": str(got.seq), "X-Frame-Age": f"{got.age_s:.2f}"},
    )
