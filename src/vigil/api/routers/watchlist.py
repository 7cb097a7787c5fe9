"""The face watchlist over HTTP: list, show, enrol, remove, purge; subject timelines.

Reads of the watchlist are for footage roles (``watchlist.read``); reference images are blurred
unless a supervisor asks for them unredacted with a reason. Enrolment and removal
(``watchlist.manage``: supervisors, admins) write their audit record in the same transaction as
the change. Every refusal is a 4xx with ``{"error", "message"}`` and nothing written.

Also here: the faces section of the transparency report (:func:`faces_report_section`); the
retention of expired subjects is :class:`vigil.services.retention.WatchlistRetention`.
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from pathlib import Path as FsPath
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from pydantic import BaseModel, Field

from vigil.api.context import ApiContext
from vigil.api.deps import Audit, Ctx, CurrentPrincipal, ReasonQuery, need_reason
from vigil.api.errors import ApiError
from vigil.api.params import Instant
from vigil.api.routing import Example, endpoint
from vigil.core.clock import utcnow
from vigil.core.errors import ImageRefusedError, ModelMissingError, NotFoundError
from vigil.governance.redaction import redact_jpeg
from vigil.governance.roles import require
from vigil.governance.transparency import ReportContributor
from vigil.http.uploads import save_uploads
from vigil.services import Services, watchlist
from vigil.services import timeline as subject_timeline
from vigil.services.watchlist import Enrolment, ReferenceImage
from vigil.store.facade import Store
from vigil.store.faces import SUBJECT_ID_MAX, SubjectRecord

router = APIRouter(prefix="/faces", tags=["faces"])
SubjectPath = Annotated[str, Path(min_length=1, max_length=SUBJECT_ID_MAX)]
EXAMPLE_SUBJECT = "subject-1"
"""Seeded by ``tests/api/api_support.py`` (with candidates at both cameras)."""
EXAMPLE_REMOVABLE = "subject-2"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_SUBJECT_ID = re.compile(r"[^./\\\x00][^/\\\x00]{0,127}")


# -- bodies ------------------------------------------------------------------------------------


class ReferenceOut(BaseModel):
    index: int
    reference_id: str
    provenance: str
    source_name: str
    embedder: str
    face_px: float
    image_url: str = Field(description="Redacted unless ?unredacted=true&reason=… by a supervisor.")


class SubjectOut(BaseModel):
    subject_id: str
    display_name: str
    legal_basis: str
    authorised_by: str
    enrolled_by: str
    enrolled_at: datetime
    expires_at: datetime
    expired: bool
    references: list[ReferenceOut]


class WatchlistState(BaseModel):
    """The cap and the calibrated false-match rate, shown together: false alerts grow with size."""

    size: int
    cap: int
    threshold: float
    calibrated: bool
    false_match_rate: float | None = Field(description="Per comparison, measured at the active threshold.")
    false_match_rate_per_search: float | None = Field(
        description="Chance that one probe falsely matches some subject: 1 - (1 - FMR)^size."
    )


class WatchlistPage(BaseModel):
    items: list[SubjectOut]
    limit: int
    offset: int
    next_offset: int | None
    watchlist: WatchlistState


class EnrolOut(BaseModel):
    subject: SubjectOut
    watchlist: WatchlistState


class RemovedOut(BaseModel):
    subject_id: str
    reference_images: int


class PurgeIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


class PurgedOut(BaseModel):
    subjects: int
    reference_images: int
    subject_ids: list[str]


class SightingOut(BaseModel):
    candidate_id: str
    camera_id: str
    occurred_at: datetime
    status: Literal["pending", "confirmed"]
    actionable: bool
    score: float
    threshold: float | None
    false_match_rate: float | None
    flags: list[str]
    detail: str | None


class TimelineOut(BaseModel):
    subject_id: str
    enrolled: bool
    camera_id: str | None
    items: list[SightingOut]
    truncated: bool


# -- helpers -----------------------------------------------------------------------------------


def _subject_out(s: SubjectRecord, now: datetime) -> SubjectOut:
    base = f"/api/faces/watchlist/{quote(s.subject_id, safe='')}/images"
    return SubjectOut(
        subject_id=s.subject_id,
        display_name=s.display_name,
        legal_basis=s.legal_basis,
        authorised_by=s.authorised_by,
        enrolled_by=s.enrolled_by,
        enrolled_at=s.enrolled_at,
        expires_at=s.expires_at,
        expired=s.expired(now),
        references=[
            ReferenceOut(
                index=i,
                reference_id=r.reference_id,
                provenance=r.provenance,
                source_name=r.source_name,
                embedder=r.embedder,
                face_px=round(r.face_px, 1),
                image_url=f"{base}/{i}",
            )
            for i, r in enumerate(s.references)
        ],
    )


def watchlist_state(services: Services) -> WatchlistState:
    return WatchlistState.model_validate(watchlist.state(services), from_attributes=True)


def _image_error(message: str) -> ApiError:
    """A refused reference image as a 400 with a specific code (for forms to show)."""
    lower = message.lower()
    code = (
        "image_too_large"
        if "above the limit" in lower
        else "several_faces"
        if "usable faces found" in lower
        else "no_usable_face"
        if "no usable face" in lower
        else "no_face"
        if "no face found" in lower
        else "invalid_upload"
    )
    return ApiError(400, code, message)


def _saved(ctx: ApiContext, uploads: list[UploadFile], workdir: FsPath) -> list[ReferenceImage]:
    limit = ctx.config.governance.max_upload_bytes
    return [ReferenceImage(name, path) for name, path in save_uploads(uploads, limit, workdir)]


# -- watchlist ---------------------------------------------------------------------------------


@endpoint(router, "GET", "/watchlist", action="watchlist.read", scope="global")
def list_watchlist(
    ctx: Ctx,
    principal: CurrentPrincipal,
    include_expired: bool = True,
    expiring_within_days: Annotated[
        float | None, Query(gt=0, le=3650, description="Only unexpired entries expiring within this many days.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> WatchlistPage:
    """Enrolled subjects (by id) with their accountability fields, the cap and the calibrated
    false-match rate. ``expiring_within_days`` lists the entries about to expire, soonest first."""
    page = watchlist.subjects(
        ctx.services, principal, include_expired=include_expired, expiring_within_days=expiring_within_days,
        limit=limit, offset=offset,
    )  # fmt: skip
    now = utcnow()
    return WatchlistPage(
        items=[_subject_out(s, now) for s in page.items],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if offset + limit < page.total else None,
        watchlist=watchlist_state(ctx.services),
    )


@endpoint(
    router,
    "POST",
    "/watchlist",
    action="watchlist.manage",
    scope="global",
    status_code=201,
    example=Example(
        files={"images": ("not-a-photo.jpg", "matrix: not an image", "image/jpeg")},
        json=None,
        ok=(400,),
    ),
)
def enrol(
    ctx: Ctx,
    principal: CurrentPrincipal,
    images: Annotated[list[UploadFile], File(description="Reference image(s): exactly one usable face each.")],
    subject_id: Annotated[str, Form(min_length=1, max_length=SUBJECT_ID_MAX)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    legal_basis: Annotated[str, Form(max_length=2000, description="Legal basis or authorisation reference.")] = "",
    authorised_by: Annotated[str, Form(max_length=128)] = "",
    expires: Annotated[str, Form(max_length=40, description="YYYY-MM-DD (end of day, UTC) or ISO date-time.")] = "",
    provenance: Annotated[
        list[str] | None, Form(description="Where each image came from (one, or one per image).")
    ] = None,
) -> EnrolOut:
    """Enrol a subject; you are recorded as the person who enrolled it. Every image must show
    exactly one usable face, or nothing is enrolled. The enrolment and its audit record are one
    transaction."""
    enrolment = Enrolment(subject_id, display_name, legal_basis, authorised_by, expires, tuple(provenance or ()))
    with tempfile.TemporaryDirectory(prefix="vigil-enrol-") as tmp:
        saved = _saved(ctx, images, FsPath(tmp))
        try:
            record = watchlist.enrol(ctx.services, principal, enrolment, saved)
        except ImageRefusedError as exc:
            raise _image_error(str(exc)) from exc
        except ModelMissingError as exc:
            raise ApiError(503, "models_unavailable", str(exc).splitlines()[0]) from exc
    return EnrolOut(subject=_subject_out(record, utcnow()), watchlist=watchlist_state(ctx.services))


@endpoint(
    router,
    "POST",
    "/watchlist/purge-expired",
    action="watchlist.manage",
    scope="global",
    example=Example(json={"reason": "matrix purge"}),
)
def purge_expired(ctx: Ctx, principal: CurrentPrincipal, body: PurgeIn | None = None) -> PurgedOut:
    """Delete every expired subject's images and embeddings (each removal audited with it)."""
    purged = watchlist.purge_expired(ctx.services, principal, body.reason if body else None)
    return PurgedOut(
        subjects=len(purged.subject_ids), reference_images=purged.reference_images, subject_ids=purged.subject_ids
    )


@endpoint(
    router,
    "GET",
    "/watchlist/{subject_id}",
    action="watchlist.read",
    scope="global",
    example=Example(path={"subject_id": EXAMPLE_SUBJECT}),
)
def show(subject_id: SubjectPath, ctx: Ctx, principal: CurrentPrincipal) -> SubjectOut:
    """Everything recorded about one subject (no embeddings)."""
    return _subject_out(watchlist.show(ctx.services, principal, subject_id), utcnow())


@endpoint(
    router,
    "GET",
    "/watchlist/{subject_id}/images/{index}",
    action="watchlist.read",
    scope="global",
    example=Example(path={"subject_id": EXAMPLE_SUBJECT, "index": "0"}),
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The reference image (blurred unless asked)."}},
)
def reference_image(
    subject_id: SubjectPath,
    index: Annotated[int, Path(ge=0, le=1000)],
    ctx: Ctx,
    principal: CurrentPrincipal,
    audit: Audit,
    unredacted: Annotated[bool, Query(description="Supervisors only, with a reason; audited.")] = False,
    reason: ReasonQuery = None,
) -> Response:
    """A reference image: personal data, so blurred for everyone without the unredact privilege."""
    record = ctx.store.faces.get(subject_id)
    if index >= len(record.references):
        raise NotFoundError(f"subject {subject_id!r} has {len(record.references)} reference image(s)")
    why: str | None = None
    if unredacted:
        require(principal, "media.unredacted")
        why = need_reason(ctx, reason, "an unredacted view")
    ref = record.references[index]
    try:
        data = ctx.media.path_for(ref.media_path).read_bytes()
    except (OSError, ValueError) as exc:
        raise NotFoundError("the reference image is gone") from exc
    body = data if unredacted else redact_jpeg(data, None)
    audit.record(
        "media.view_unredacted" if unredacted else "media.view",
        object_type="face_reference",
        object_id=ref.reference_id,
        reason=why,
        subject=subject_id,
        redacted=not unredacted,
    )
    return Response(body, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@endpoint(
    router,
    "DELETE",
    "/watchlist/{subject_id}",
    action="watchlist.manage",
    scope="global",
    example=Example(path={"subject_id": EXAMPLE_REMOVABLE}, query={"reason": "matrix removal"}),
)
def remove(subject_id: SubjectPath, ctx: Ctx, principal: CurrentPrincipal, reason: ReasonQuery = None) -> RemovedOut:
    """Remove a subject with its reference images and embeddings (a reason is required)."""
    record = watchlist.remove(ctx.services, principal, subject_id, reason)
    return RemovedOut(subject_id=record.subject_id, reference_images=len(record.references))


# -- subject timeline --------------------------------------------------------------------------


@endpoint(
    router,
    "GET",
    "/subjects/{subject_id}/timeline",
    action="watchlist.timeline",
    scope="camera",
    example=Example(path={"subject_id": EXAMPLE_SUBJECT}, query={"camera_id": "{camera}", "reason": "matrix timeline"}),
)
def timeline(
    subject_id: SubjectPath,
    ctx: Ctx,
    principal: CurrentPrincipal,
    camera_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    reason: ReasonQuery = None,
) -> TimelineOut:
    """Pending and confirmed sightings of a subject, oldest first (a reason is required: this
    follows one person across cameras). Scoped users must name a camera."""
    found = subject_timeline.timeline(
        ctx.services, principal, subject_id, reason=reason, camera_id=camera_id, since=since, until=until, limit=limit
    )
    return TimelineOut(
        subject_id=found.subject_id,
        enrolled=found.enrolled,
        camera_id=found.camera_id,
        items=[
            SightingOut(
                candidate_id=c.candidate_id,
                camera_id=c.camera_id,
                occurred_at=c.occurred_at,
                status="confirmed" if c.status == "confirmed" else "pending",
                actionable=c.actionable,
                score=c.score,
                threshold=c.threshold,
                false_match_rate=c.false_match_rate,
                flags=list(c.flags),
                detail=c.detail,
            )
            for c in found.sightings
        ],
        truncated=found.truncated,
    )


# -- governance hooks --------------------------------------------------------------------------


def faces_report_section(ctx: ApiContext) -> ReportContributor:
    """The faces section of the transparency report: watchlist size and cap, the calibrated
    false-match rate, and face candidates confirmed/rejected in the period (counts only)."""
    cfg = ctx.config

    def section(store: Store, since: datetime, until: datetime) -> dict[str, float | int]:
        state = watchlist.state_of(store, cfg)
        cands = store.governance.reports.counts(since, until)["candidates"]
        actions = store.governance.audit.counts_by_action(since=since, until=until)
        out: dict[str, float | int] = {
            "watchlist_size": state.size,
            "watchlist_cap": state.cap,
            "threshold": state.threshold,
            "calibrated": int(state.calibrated),
            "candidates_confirmed": cands.get("face:confirmed", 0),
            "candidates_rejected": cands.get("face:rejected", 0),
            "candidates_pending": cands.get("face:pending", 0),
            "enrolments": actions.get("watchlist.enrol", 0),
            "removals": actions.get("watchlist.remove", 0) + actions.get("watchlist.purge_expired", 0),
        }
        if state.false_match_rate is not None and state.false_match_rate_per_search is not None:
            out["calibrated_false_match_rate"] = state.false_match_rate
            out["false_match_rate_per_search"] = state.false_match_rate_per_search
        return out

    return section


def router_factory() -> APIRouter:
    """The watchlist router (for ``FEATURE_ROUTERS``)."""
    return router
