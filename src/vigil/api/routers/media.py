"""Snapshots and crops: only files a record points at, redacted unless a supervisor gives a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from vigil.api.deps import Audit, Ctx, CurrentPrincipal, ReasonQuery, need_reason
from vigil.api.errors import ApiError
from vigil.api.routing import Example, endpoint
from vigil.core.errors import NotFoundError
from vigil.governance.redaction import for_camera, redact_for_viewing
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
    responses={
        200: {
            "content": {"image/jpeg": {}, "video/mp4": {}},
            "description": "The image or clip (redacted unless asked otherwise).",
        }
    },
)
def get_media(
    rel_path: Annotated[str, Path(min_length=1, max_length=512)],
    ctx: Ctx,
    principal: CurrentPrincipal,
    audit: Audit,
    unredacted: Annotated[bool, Query(description="Supervisors only, with a reason; audited.")] = False,
    reason: ReasonQuery = None,
) -> Response:
    """A media file. Person snapshots show the scene with every face blurred by region: as
    stored (redacted at write time), or, for the track of a candidate (kept clear for review),
    redacted by the same redactor as it is served (the whole image where it cannot be built).
    A candidate's probe and reference images are shown to reviewers, since judging the match
    needs them. A clip (``video/mp4``) was written with every face blurred and is served as
    stored; ``unredacted=true`` serves the copy that keeps a face candidate's own face."""
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
    if kind == "clip_kept" and not unredacted:
        raise ApiError(403, "unredacted_only", "this copy keeps a face: ask for the clip unredacted, with a reason")
    if unredacted:
        require(principal, "media.unredacted", camera_id)
        why = need_reason(ctx, reason, "an unredacted view")
    if kind in ("clip", "clip_kept"):
        return _clip(ctx, audit, rel_path, camera_id, unredacted=unredacted, why=why)
    path = ctx.media.path_for(rel_path)
    try:
        data = path.read_bytes()
        stat = path.stat()
    except OSError as exc:
        raise NotFoundError("the media file is gone (retention may have removed it)") from exc
    show_as_is = unredacted or kind in ("probe", "reference")
    regions = None if show_as_is else ctx.redaction.regions(rel_path)
    if show_as_is or (not regions and not ctx.store.governance.media_index.kept_faces(rel_path)):
        # Written with every face blurred by the deployment's redactor: served as stored.
        body = data
    else:
        # A candidate's own track kept its faces for review (or a feature registered regions):
        # the same redactor runs as it is served, once per file version (ViewCache).
        body = ctx.services.viewed.get(
            (rel_path, stat.st_size, stat.st_mtime_ns),
            lambda: redact_for_viewing(data, for_camera(ctx.media.redactor, camera_id), regions),
        )
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


def _clip(ctx: Ctx, audit: Audit, rel_path: str, camera_id: str, *, unredacted: bool, why: str | None) -> Response:
    """A clip as stored: the copy with every face blurred, or (unredacted) the one that keeps
    the face candidate's own face, where there is one."""
    clip = ctx.store.clips.by_media(rel_path)
    if clip is None:
        raise NotFoundError("no such clip")
    served = clip.media_kept if unredacted and clip.media_kept else clip.media
    try:
        body = ctx.media.path_for(served).read_bytes()
    except OSError as exc:
        raise NotFoundError("the clip is gone (retention may have removed it)") from exc
    audit.record(
        "media.view_unredacted" if unredacted else "media.view",
        object_type="media",
        object_id=served,
        camera_id=camera_id,
        reason=why,
        kind="clip",
        subject=clip.subject_id,
        redacted=served == clip.media,
    )
    return Response(body, media_type="video/mp4", headers={"Cache-Control": "no-store"})
