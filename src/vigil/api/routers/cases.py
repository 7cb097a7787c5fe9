"""Cases over HTTP: a thin door onto :mod:`vigil.services.cases` (scope, reasons and audit live there)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, UploadFile

from vigil.api.deps import Ctx, CurrentPrincipal
from vigil.api.errors import ApiError
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import CaseExportOut, CaseIn, CaseItemIn, CaseOut, ExportIn, HoldIn
from vigil.services import cases
from vigil.store.cases import CaseRecord

router = APIRouter(prefix="/cases", tags=["cases"])
CaseIdPath = Annotated[str, Path(min_length=1, max_length=64)]
REASON = "matrix test reason"


def _out(case: CaseRecord) -> CaseOut:
    return CaseOut.model_validate(case, from_attributes=True)


@endpoint(
    router,
    "POST",
    "",
    action="cases.manage",
    scope="global",
    status_code=201,
    example=Example(json={"name": "matrix case", "reason": REASON}, ok=(201,)),
)
def create_case(body: CaseIn, ctx: Ctx, principal: CurrentPrincipal) -> CaseOut:
    """Open a case (with its legal basis as the reason); ``legal_hold`` suspends retention for its items."""
    return _out(cases.create(ctx.services, principal, body.name, reason=body.reason, legal_hold=body.legal_hold))


@endpoint(router, "GET", "", action="cases.read", scope="global")
def list_cases(
    ctx: Ctx,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[CaseOut]:
    """Cases newest first: only those whose every item is on a camera in your scope."""
    return [_out(c) for c in cases.list_cases(ctx.services, principal, limit=limit, offset=offset)]


@endpoint(router, "GET", "/{case_id}", action="cases.read", scope="global", example=Example(path={"case_id": "{case}"}))
def get_case(case_id: CaseIdPath, ctx: Ctx, principal: CurrentPrincipal) -> CaseOut:
    return _out(cases.show(ctx.services, principal, case_id))


@endpoint(
    router,
    "POST",
    "/{case_id}/items",
    action="cases.manage",
    scope="camera",
    example=Example(path={"case_id": "{case}"}, json={"item_type": "track", "item_id": "{track}"}, ok=(200, 409)),
)
def add_case_item(case_id: CaseIdPath, body: CaseItemIn, ctx: Ctx, principal: CurrentPrincipal) -> CaseOut:
    """Add an event, track, candidate or plate read (in your camera scope) to the case."""
    return _out(cases.add_item(ctx.services, principal, case_id, body.item_type, body.item_id))


@endpoint(
    router,
    "POST",
    "/{case_id}/hold",
    action="cases.manage",
    scope="global",
    example=Example(path={"case_id": "{case}"}, json={"legal_hold": True, "reason": REASON}),
)
def set_hold(case_id: CaseIdPath, body: HoldIn, ctx: Ctx, principal: CurrentPrincipal) -> CaseOut:
    """Place or lift a legal hold (retention skips every item of a held case)."""
    return _out(cases.set_hold(ctx.services, principal, case_id, legal_hold=body.legal_hold, reason=body.reason))


@endpoint(
    router,
    "POST",
    "/{case_id}/attachments",
    action="cases.manage",
    scope="global",
    example=Example(path={"case_id": "{case}"}, files={"file": ("warrant.pdf", "%PDF-1.4 matrix", "application/pdf")}),
)
async def add_attachment(case_id: CaseIdPath, file: UploadFile, ctx: Ctx, principal: CurrentPrincipal) -> CaseOut:
    """Attach a document (PDF, JPEG or PNG, checked by content) such as the warrant behind the case."""
    limit = ctx.config.governance.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "payload_too_large", f"attachments are limited to {limit} bytes")
    return _out(cases.attach(ctx.services, principal, case_id, file.filename, data))


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
def export_case(case_id: CaseIdPath, body: ExportIn, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    """A zip: events as JSON, media (redacted unless ``unredacted`` by a supervisor), attachments,
    the audit extract for the case, and a manifest with the SHA-256 of every file."""
    package = cases.export(ctx.services, principal, case_id, reason=body.reason, unredacted=body.unredacted)
    return Response(
        package.data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{package.filename}"',
            "X-Export-Files": str(package.files),
            "X-Manifest-SHA256": package.manifest_sha256,
        },
    )


@endpoint(
    router,
    "GET",
    "/{case_id}/exports",
    action="cases.read",
    scope="global",
    example=Example(path={"case_id": "{case}"}),
)
def list_exports(case_id: CaseIdPath, ctx: Ctx, principal: CurrentPrincipal) -> list[CaseExportOut]:
    """The case's export history, newest first: who, when, why, redacted or not, and the
    manifest's SHA-256 (kept in the audit log; the package itself is not stored)."""
    return [
        CaseExportOut.model_validate(e, from_attributes=True) for e in cases.exports(ctx.services, principal, case_id)
    ]
