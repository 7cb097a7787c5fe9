"""Oversight: reading and verifying the audit log, and the transparency report.

Reading the log is itself recorded (``audit.read``), as is viewing the report (``report.view``);
verifying the chain reads only hashes and signatures, so it is not.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection
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

ROUTINE_ACTIONS = ("media.view", "candidates.list")
"""Records written many times an hour in ordinary work (each image shown, each queue listing):
a reader of the log may see them counted per actor, camera and hour (:func:`routine_groups`)
rather than one row each. Presentation only: every record stays in the chain as written."""

MAX_EXPORT = 100_000
"""Most records one CSV export holds (narrow the filters for more)."""
EXPORT_BATCH = 10_000

CSV_COLUMNS = ("seq", "at", "actor", "action", "object_type", "object_id", "camera_id", "reason", "detail", "hash")


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Records (oldest or newest first, as asked), and the offset of the next page (None on the last)."""

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
    newest_first: bool = False,
    exclude_actions: Collection[str] = (),
) -> AuditPage:
    """A page of audit records filtered by actor (``by``), action, object and time, less
    ``exclude_actions`` (those a reader sees grouped instead); recorded."""
    recorder = services.recorder(actor)
    recorder.allow("audit.read", object_type="audit")
    time_range(since, until)
    records = services.store.governance.audit.list(
        actor=by,
        action=action,
        object_id=object_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
        newest_first=newest_first,
        exclude_actions=exclude_actions,
    )
    recorder.read("audit.read", object_type="audit", actor_filter=by, action_filter=action, results=len(records))
    return AuditPage(tuple(records), limit, offset, offset + limit if len(records) == limit else None)


@dataclass(frozen=True, slots=True)
class RoutineGroup:
    """Routine records of one action by one actor on one camera within one clock hour (UTC)."""

    action: str
    actor: str
    camera_id: str | None
    hour: datetime
    count: int
    first: datetime
    last: datetime


def routine_groups(
    services: Services,
    actor: Actor,
    *,
    by: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actions: Collection[str] = ROUTINE_ACTIONS,
) -> list[RoutineGroup]:
    """The routine records matching the filters counted per action, actor, camera and hour,
    newest hour first (read with the page they summarise, so not recorded a second time)."""
    services.recorder(actor).allow("audit.read", object_type="audit")
    time_range(since, until)
    groups: dict[tuple[str, str, str | None, datetime], list[datetime]] = {}
    for at, act, who, camera in services.store.governance.audit.moments(actions, actor=by, since=since, until=until):
        hour = at.replace(minute=0, second=0, microsecond=0)
        groups.setdefault((act, who, camera, hour), []).append(at)
    out = [RoutineGroup(a, w, c, h, len(ts), min(ts), max(ts)) for (a, w, c, h), ts in groups.items()]
    return sorted(out, key=lambda g: (g.hour, g.last), reverse=True)


def audit_csv(
    services: Services,
    actor: Actor,
    *,
    by: str | None = None,
    action: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[str, int]:
    """The matching records as CSV (newest first, every record, routine ones included) and how
    many; recorded as ``audit.export`` with the filters, so a copy leaving the system is known."""
    recorder = services.recorder(actor)
    recorder.allow("audit.read", object_type="audit")
    time_range(since, until)
    records: list[AuditRecord] = []
    before: int | None = None
    while len(records) < MAX_EXPORT:
        batch = services.store.governance.audit.list(
            actor=by, action=action, object_id=object_id, since=since, until=until, newest_first=True,
            limit=min(EXPORT_BATCH, MAX_EXPORT - len(records)), before_seq=before,
        )  # fmt: skip
        records += batch
        if len(batch) < EXPORT_BATCH:
            break
        before = batch[-1].seq
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in records:
        writer.writerow([
            r.seq, r.at.isoformat(), r.actor, r.action, r.object_type or "", r.object_id or "", r.camera_id or "",
            _safe_cell(r.reason or ""), _safe_cell(json.dumps(r.detail, sort_keys=True)), r.hash,
        ])  # fmt: skip
    recorder.read(
        "audit.export",
        object_type="audit",
        actor_filter=by,
        action_filter=action,
        object_filter=object_id,
        since=None if since is None else since.isoformat(),
        until=None if until is None else until.isoformat(),
        results=len(records),
        truncated=len(records) == MAX_EXPORT,
    )
    return out.getvalue(), len(records)


def _safe_cell(text: str) -> str:
    """A free-text cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


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
