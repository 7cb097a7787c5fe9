"""Snapshots and crops: only files a record points at, redacted unless a supervisor gives a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from vigil.api.deps import Audit, Ctx, CurrentPrincipal, ReasonQuery, need_reason
from vigil.api.errors import ApiError
from vigil.api.routing import Example, endpoint
from vigil.core.errors import NotFoundError
from vigil.governance.redaction import redact_jpeg
from vigil.governance.roles import require

router = APIRouter(prefix="/media", tags=["media"])


@endpoint(
    router,
    "GET",
    "/{rel_path:path}",
    action="media.read",
    scope="camera",
    example=Example(path={"rel_path": "{snapshot}"}),
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The image (redacted unless asked otherwise)."}},
)
def get_media(
    rel_path: Annotated[str, Path(min_length=1, max_length=512)],
    ctx: Ctx,
    principal: CurrentPrincipal,
    audit: Audit,
    unredacted: Annotated[bool, Query(description="Supervisors only, with a reason; audited.")] = False,
    reason: ReasonQuery = None,
) -> Response:
    """A media file. Person snapshots are blurred (faces and plates, or the whole crop where their
    positions are unknown); a candidate's probe and reference images are shown to reviewers, since
    judging the match needs them."""
    try:
        ctx.media.path_for(rel_path)
    except ValueError as exc:
        raise ApiError(400, "invalid_path", "media path must be relative, without '..' or backslashes") from exc
    owner = ctx.store.governance.media_index.owner(rel_path)
    if owner is None:
        raise NotFoundError("no such media file")
    camera_id, kind = owner
    require(principal, "media.read", camera_id)
    if kind in ("probe", "reference"):
        require(principal, "candidates.read", camera_id)
    why: str | None = None
    if unredacted:
        require(principal, "media.unredacted", camera_id)
        why = need_reason(ctx, reason, "an unredacted view")
    try:
        data = ctx.media.path_for(rel_path).read_bytes()
    except OSError as exc:
        raise NotFoundError("the media file is gone (retention may have removed it)") from exc
    show_as_is = unredacted or kind in ("probe", "reference")
    body = data if show_as_is else redact_jpeg(data, ctx.redaction.regions(rel_path))
    audit.record(
        "media.view_unredacted" if unredacted else "media.view",
        object_type="media",
        object_id=rel_path,
        camera_id=camera_id,
        reason=why,
        kind=kind,
        redacted=not show_as_is,
    )
    return Response(body, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
