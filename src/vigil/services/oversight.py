"""Oversight: reading and verifying the audit log, and the transparency report.

Reading the log is itself recorded (``audit.read``), as is viewing the report (``report.view``);
verifying the chain reads only hashes and signatures, so it is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.core.clock import utcnow
from vigil.governance.audit import ChainVerdict
from vigil.governance.transparency import ReportContributor, TransparencyReport, build_report
from vigil.governance.witness import verify_store
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.services.rules import time_range
from vigil.store.audit import AuditRecord

REPORT_DAYS = 30
"""The transparency report's period when none is given: the last 30 days."""


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Records oldest first, and the offset of the next page (None on the last)."""

    items: tuple[AuditRecord, ...]
    limit: int
    offset: int
    next_offset: int | None


def audit_page(
    services: Services,
    actor: Actor,
    *,
    by: str | None = None,
    action: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> AuditPage:
    """A page of audit records filtered by actor (``by``), action, object and time; recorded."""
    recorder = services.recorder(actor)
    recorder.allow("audit.read", object_type="audit")
    time_range(since, until)
    records = services.store.governance.audit.list(
        actor=by, action=action, object_id=object_id, since=since, until=until, limit=limit, offset=offset
    )
    recorder.read("audit.read", object_type="audit", actor_filter=by, action_filter=action, results=len(records))
    return AuditPage(tuple(records), limit, offset, offset + limit if len(records) == limit else None)


def verify(services: Services, actor: Actor) -> ChainVerdict:
    """Check the hash chain, every record's signature and the signed head checkpoint."""
    services.recorder(actor).allow("audit.read", object_type="audit")
    return verify_store(services.store)


def transparency(
    services: Services,
    actor: Actor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    sections: dict[str, ReportContributor] | None = None,
) -> TransparencyReport:
    """Counts for a period (default: the last 30 days): publishable, no personal data; recorded."""
    recorder = services.recorder(actor)
    recorder.allow("reports.read", object_type="report", object_id="transparency")
    end = until or utcnow()
    start = since or end - timedelta(days=REPORT_DAYS)
    time_range(start, end)
    report = build_report(services.store, start, end, sections)
    recorder.read("report.view", object_type="report", object_id="transparency")
    return report
