"""Cases: group evidence, put it on legal hold, attach documents, export a case package."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, UploadFile

from vigil.api.deps import Audit, Ctx, CurrentPrincipal
from vigil.api.errors import ApiError
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import CaseIn, CaseItemIn, CaseOut, ExportIn, HoldIn
from vigil.core.errors import NotFoundError, PolicyError
from vigil.core.ids import new_id
from vigil.governance.export import build_case_package
from vigil.governance.roles import Principal, require
from vigil.store.cases import CaseRecord

router = APIRouter(prefix="/cases", tags=["cases"])
CaseIdPath = Annotated[str, Path(min_length=1, max_length=64)]
REASON = "matrix test reason"

# Attachments (warrants, authorisations): the type is checked by content, not by name.
_MAGIC = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def _out(case: CaseRecord) -> CaseOut:
    return CaseOut.model_validate(case, from_attributes=True)


def _check_items_in_scope(principal: Principal, case: CaseRecord) -> None:
    for item in case.items:
        if not principal.sees(item.camera_id):
            require(principal, "cases.read", item.camera_id)


@endpoint(
    router,
    "POST",
    "",
    action="cases.manage",
    scope="global",
    status_code=201,
    example=Example(json={"name": "matrix case", "reason": REASON}, ok=(201,)),
)
def create_case(body: CaseIn, ctx: Ctx, principal: CurrentPrincipal, audit: Audit) -> CaseOut:
    """Open a case (with its legal basis as the reason); ``legal_hold`` suspends retention for its items."""
    case = ctx.store.governance.cases.create(
        body.name,
        reason=body.reason,
        legal_hold=body.legal_hold,
        created_by=principal.username,
        audit=audit.entry("case.create", object_type="case", reason=body.reason, legal_hold=body.legal_hold),
    )
    return _out(case)


@endpoint(router, "GET", "", action="cases.read", scope="global")
def list_cases(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[CaseOut]:
    return [_out(c) for c in ctx.store.governance.cases.list(limit=limit, offset=offset)]


@endpoint(router, "GET", "/{case_id}", action="cases.read", scope="global", example=Example(path={"case_id": "{case}"}))
def get_case(case_id: CaseIdPath, ctx: Ctx, principal: CurrentPrincipal, audit: Audit) -> CaseOut:
    case = ctx.store.governance.cases.get(case_id)
    _check_items_in_scope(principal, case)
    audit.record("case.view", object_type="case", object_id=case_id)
    return _out(case)


@endpoint(
    router,
    "POST",
    "/{case_id}/items",
    action="cases.manage",
    scope="camera",
    example=Example(path={"case_id": "{case}"}, json={"item_type": "track", "item_id": "{track}"}, ok=(200, 409)),
)
def add_case_item(
    case_id: CaseIdPath, body: CaseItemIn, ctx: Ctx, principal: CurrentPrincipal, audit: Audit
) -> CaseOut:
    """Add an event, track or candidate (in your camera scope) to the case."""
    camera_id: str | None
    if body.item_type == "event":
        event = ctx.store.events.get(body.item_id)
        if event is None:
            raise NotFoundError(f"no event {body.item_id!r}")
        camera_id = event.camera_id
    elif body.item_type == "track":
        track = ctx.store.tracks.get(body.item_id)
        if track is None:
            raise NotFoundError(f"no track {body.item_id!r}")
        camera_id = track.camera_id
    else:
        camera_id = ctx.store.candidates.get(body.item_id).camera_id
    require(principal, "cases.manage", camera_id)
    case = ctx.store.governance.cases.add_item(
        case_id,
        item_type=body.item_type,
        item_id=body.item_id,
        camera_id=camera_id,
        added_by=principal.username,
        audit=audit.entry(
            "case.add_item", object_type=body.item_type, object_id=body.item_id, camera_id=camera_id, case=case_id
        ),
    )
    return _out(case)


@endpoint(
    router,
    "POST",
    "/{case_id}/hold",
    action="cases.manage",
    scope="global",
    example=Example(path={"case_id": "{case}"}, json={"legal_hold": True, "reason": REASON}),
)
def set_hold(case_id: CaseIdPath, body: HoldIn, ctx: Ctx, audit: Audit) -> CaseOut:
    """Place or lift a legal hold (retention skips every item of a held case)."""
    case = ctx.store.governance.cases.set_hold(
        case_id,
        legal_hold=body.legal_hold,
        audit=audit.entry(
            "case.hold", object_type="case", object_id=case_id, reason=body.reason, legal_hold=body.legal_hold
        ),
    )
    return _out(case)


@endpoint(
    router,
    "POST",
    "/{case_id}/attachments",
    action="cases.manage",
    scope="global",
    example=Example(path={"case_id": "{case}"}, files={"file": ("warrant.pdf", "%PDF-1.4 matrix", "application/pdf")}),
)
async def add_attachment(case_id: CaseIdPath, file: UploadFile, ctx: Ctx, audit: Audit) -> CaseOut:
    """Attach a document (PDF, JPEG or PNG, checked by content) such as the warrant behind the case."""
    limit = ctx.config.governance.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "payload_too_large", f"attachments are limited to {limit} bytes")
    kind = next((ct for ct, magic in _MAGIC.items() if data.startswith(magic)), None)
    if kind is None:
        raise ApiError(400, "invalid_upload", "the attachment is not a PDF, JPEG or PNG file")
    name = _SAFE_NAME.sub("_", (file.filename or "attachment").rsplit("/", 1)[-1]).lstrip(".")[:80] or "attachment"
    rel = f"cases/{_SAFE_NAME.sub('_', case_id)}/{new_id()}-{name}"
    ctx.store.governance.cases.get(case_id)
    path = ctx.media.path_for(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        case = ctx.store.governance.cases.add_item(
            case_id,
            item_type="attachment",
            item_id=rel,
            camera_id=None,
            added_by=audit.principal.username,
            audit=audit.entry("case.attach", object_type="attachment", object_id=rel, case=case_id, content_type=kind),
        )
    except BaseException:
        path.unlink(missing_ok=True)  # nothing half-written
        raise
    return _out(case)


@endpoint(
    router,
    "POST",
    "/{case_id}/export",
    action="exports.create",
    scope="global",
    example=Example(path={"case_id": "{case}"}, json={"reason": REASON}),
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "The case package."}},
)
def export_case(case_id: CaseIdPath, body: ExportIn, ctx: Ctx, principal: CurrentPrincipal, audit: Audit) -> Response:
    """A zip: events as JSON, media (redacted unless ``unredacted`` by a supervisor), attachments,
    the audit extract for the case, and a manifest with the SHA-256 of every file."""
    case = ctx.store.governance.cases.get(case_id)
    for item in case.items:
        require(principal, "exports.create", item.camera_id)
    if body.unredacted:
        require(principal, "exports.unredacted")
    if len(body.reason.strip()) < ctx.config.governance.min_reason_chars:
        raise PolicyError("an export needs a reason")
    package = build_case_package(
        case, ctx.store, ctx.media, ctx.redaction, unredacted=body.unredacted, exported_by=principal.username
    )
    audit.record(
        "export.create",
        object_type="case",
        object_id=case_id,
        reason=body.reason.strip(),
        redacted=not body.unredacted,
        files=package.files,
        manifest_sha256=package.manifest_sha256,
    )
    return Response(
        package.data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="case-{_SAFE_NAME.sub("_", case_id)}.zip"'},
    )
