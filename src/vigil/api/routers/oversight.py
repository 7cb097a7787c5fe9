"""The audit log, its verification, the transparency report and policy changes."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from vigil.api.deps import Audit, Ctx, CurrentPrincipal
from vigil.api.params import Instant
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import AuditOut, AuditPage, PolicyIn, PolicyOut, ReportOut, VerifyOut
from vigil.core.clock import utcnow
from vigil.core.errors import PolicyError
from vigil.governance.roles import require
from vigil.governance.transparency import build_report
from vigil.governance.witness import verify_store

router = APIRouter(tags=["oversight"])
POLICY_KEY = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+){0,5}$"


@endpoint(router, "GET", "/audit", action="audit.read", scope="global")
def list_audit(
    ctx: Ctx,
    audit: Audit,
    actor: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    object_id: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AuditPage:
    """Audit records, oldest first (reading the log is itself recorded)."""
    records = ctx.store.governance.audit.list(
        actor=actor, action=action, object_id=object_id, since=since, until=until, limit=limit, offset=offset
    )
    audit.record("audit.read", object_type="audit", actor_filter=actor, action_filter=action, results=len(records))
    return AuditPage(
        items=[AuditOut.model_validate(r, from_attributes=True) for r in records],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if len(records) == limit else None,
    )


@endpoint(router, "GET", "/audit/verify", action="audit.read", scope="global")
def verify_audit(ctx: Ctx) -> VerifyOut:
    """Check the hash chain, every record's signature and the signed head checkpoint: intact, or
    the first record edited, forged, deleted or reordered, or the range cut from the end."""
    v = verify_store(ctx.store)
    return VerifyOut(
        ok=v.ok, records=v.records, head_hash=v.head_hash, first_bad_seq=v.first_bad_seq, problem=v.problem
    )


@endpoint(router, "GET", "/reports/transparency", action="reports.read", scope="global")
def transparency_report(
    ctx: Ctx, audit: Audit, since: Instant | None = None, until: Instant | None = None
) -> ReportOut:
    """Counts for a period (default: the last 30 days) — publishable, no personal data."""
    end = until or utcnow()
    start = since or end - timedelta(days=30)
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("since and until need a time zone")
    if start >= end:
        raise ValueError("since must be before until")
    report = build_report(ctx.store, start, end, ctx.report_sections)
    audit.record("report.view", object_type="report", object_id="transparency")
    return ReportOut.model_validate(report, from_attributes=True)


@endpoint(router, "GET", "/policies", action="policy.read", scope="global")
def list_policies(ctx: Ctx) -> list[PolicyOut]:
    return [PolicyOut.model_validate(p, from_attributes=True) for p in ctx.store.governance.policies.list()]


@endpoint(
    router,
    "PUT",
    "/policies/{key}",
    action="policy.write",
    scope="global",
    example=Example(path={"key": "alerts.note"}, json={"value": "matrix", "reason": "matrix test change"}),
)
def set_policy(
    key: Annotated[str, Path(min_length=1, max_length=128)],
    body: PolicyIn,
    ctx: Ctx,
    principal: CurrentPrincipal,
    audit: Audit,
) -> PolicyOut:
    """Change a policy value (audited with the old and new value). Setting a ``*.threshold`` below
    the deployment's floor needs a supervisor."""
    if not re.fullmatch(POLICY_KEY, key):
        raise ValueError(f"policy key {key!r} must look like 'section.name' (lower case, digits, '_')")
    reason = body.reason.strip()
    if len(reason) < ctx.config.governance.min_reason_chars:
        raise PolicyError(
            f"a policy change needs a reason of at least {ctx.config.governance.min_reason_chars} characters"
        )
    floor = ctx.config.governance.threshold_floor
    value = body.value
    if key.endswith(".threshold"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise PolicyError(f"{key} must be a number")
        if value < floor:
            require(principal, "policy.below_floor")
    old = ctx.store.governance.policies.get(key)
    record = ctx.store.governance.policies.set(
        key,
        value,
        updated_by=principal.username,
        audit=audit.entry(
            "policy.change",
            object_type="policy",
            object_id=key,
            reason=reason,
            old=None if old is None else old.value,
            new=value,
            below_floor=key.endswith(".threshold") and isinstance(value, int | float) and value < floor,
        ),
    )
    return PolicyOut.model_validate(record, from_attributes=True)
