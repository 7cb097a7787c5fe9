"""One stored image, large: redacted for everyone, unredacted for a supervisor who gives a reason.

The page only decides which URL the image comes from; the media endpoint of the API checks
the role, camera scope and reason again and writes the audit record (``media.view`` or
``media.view_unredacted`` with the reason), so the rule lives in one place.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from vigil.core.errors import InputError, NotFoundError
from vigil.governance.plate_regions import what_is_blurred
from vigil.services.rules import need_reason
from vigil.web.core import pages, render, signed_in

router = APIRouter(include_in_schema=False)

KIND_LABEL = {
    "snapshot": "Person snapshot",
    "probe": "Probe crop",
    "reference": "Enrolled reference",
    "clip": "Event clip",
    "clip_kept": "Event clip",
}


@router.get("/media/view")
@pages
def view_media(request: Request, path: str = "", unredacted: bool = False, reason: str = "") -> Response:
    session = signed_in(request)
    ctx = session.ctx
    try:
        ctx.media.path_for(path)
    except ValueError as exc:
        raise InputError("path: a media path relative to the media root, without '..'") from exc
    owner = ctx.store.governance.media_index.owner(path)
    if owner is None:
        raise NotFoundError("no such media file")
    camera_id, kind = owner
    session.require("media.read", camera_id)
    can_unredact = session.principal.can("media.unredacted") and session.principal.sees(camera_id)
    src = "/api/media/" + quote(path)
    why: str | None = None
    if unredacted:
        session.require("media.unredacted", camera_id)
        why = need_reason(ctx.config, reason, "an unredacted view")
        src += "?" + urlencode({"unredacted": "true", "reason": why})
    names = {c.id: c.display_name for c in ctx.config.cameras}
    return render(
        request,
        "media_view.html",
        session,
        path=path,
        src=src,
        kind=KIND_LABEL.get(kind, kind),
        camera=names.get(camera_id, camera_id),
        unredacted=why is not None,
        reason=why or "",
        can_unredact=can_unredact,
        clear_for_review=kind in ("probe", "reference"),
        is_clip=kind in ("clip", "clip_kept"),
        blurred=what_is_blurred(ctx.config, camera_id),
        min_reason=ctx.config.governance.min_reason_chars,
    )
