"""The audit log, its verification, the transparency report and policy changes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from vigil.api.deps import Ctx, CurrentPrincipal
from vigil.api.params import Instant
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import AuditOut, AuditPage, PolicyIn, PolicyOut, ReportOut, VerifyOut
from vigil.services import oversight, policy
from vigil.store.policies import FACE_THRESHOLD

router = APIRouter(tags=["oversight"])


@endpoint(router, "GET", "/audit", action="audit.read", scope="global")
def list_audit(
    ctx: Ctx,
    principal: CurrentPrincipal,
    actor: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    object_id: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    order: Literal["oldest", "newest"] = "oldest",
) -> AuditPage:
    """Audit records, oldest first unless ``order=newest`` (reading the log is itself recorded)."""
    page = oversight.audit_page(
        ctx.services,
        principal,
        by=actor,
        action=action,
        object_id=object_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
        newest_first=order == "newest",
    )
    return AuditPage(
        items=[AuditOut.model_validate(r, from_attributes=True) for r in page.items],
        limit=page.limit,
        offset=page.offset,
        next_offset=page.next_offset,
    )


@endpoint(
    router,
    "GET",
    "/audit/export.csv",
    action="audit.read",
    scope="global",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The matching records, newest first."}},
)
def export_audit(
    ctx: Ctx,
    principal: CurrentPrincipal,
    actor: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    object_id: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
) -> Response:
    """The matching audit records as CSV, newest first (at most 100,000); recorded as ``audit.export``."""
    text, _ = oversight.audit_csv(
        ctx.services, principal, by=actor, action=action, object_id=object_id, since=since, until=until
    )
    return Response(text, media_type="text/csv; charset=utf-8")


@endpoint(router, "GET", "/audit/verify", action="audit.read", scope="global")
def verify_audit(ctx: Ctx, principal: CurrentPrincipal) -> VerifyOut:
    """Check the hash chain, every record's signature and the signed head checkpoint: intact, or
    the first record edited, forged, deleted or reordered, or the range cut from the end."""
    v = oversight.verify(ctx.services, principal)
    return VerifyOut(
        ok=v.ok, records=v.records, head_hash=v.head_hash, first_bad_seq=v.first_bad_seq, problem=v.problem
    )


@endpoint(router, "GET", "/reports/transparency", action="reports.read", scope="global")
def transparency_report(
    ctx: Ctx, principal: CurrentPrincipal, since: Instant | None = None, until: Instant | None = None
) -> ReportOut:
    """Counts for a period (default: the last 30 days) — publishable, no personal data."""
    report = oversight.transparency(ctx.services, principal, since=since, until=until, sections=ctx.report_sections)
    return ReportOut.model_validate(report, from_attributes=True)


@endpoint(router, "GET", "/policies", action="policy.read", scope="global")
def list_policies(ctx: Ctx, principal: CurrentPrincipal) -> list[PolicyOut]:
    """The policy values set (only policies something reads are accepted: see ``PUT``)."""
    return [PolicyOut.model_validate(p, from_attributes=True) for p in policy.policies(ctx.services, principal)]


@endpoint(
    router,
    "PUT",
    "/policies/{key}",
    action="policy.write",
    scope="global",
    example=Example(path={"key": FACE_THRESHOLD}, json={"value": 0.5, "reason": "matrix test change"}),
)
def set_policy(
    key: Annotated[str, Path(min_length=1, max_length=128)],
    body: PolicyIn,
    ctx: Ctx,
    principal: CurrentPrincipal,
) -> PolicyOut:
    """Change a policy that drives behaviour (today ``faces.threshold``: the face matcher's
    threshold, in force at once and on every worker). A value outside the allowed range (below
    the deployment's floor, above 1) is refused (422) with the range, and the refusal is
    audited; a change is audited with the old and new value in the same transaction."""
    record = policy.set_policy(ctx.services, principal, key, body.value, body.reason)
    return PolicyOut.model_validate(record, from_attributes=True)
