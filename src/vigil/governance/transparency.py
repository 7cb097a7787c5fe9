"""The transparency report: what the system did in a period, publishable without personal data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from vigil.store.facade import Store

ReportContributor = Callable[[Store, datetime, datetime], dict[str, float | int]]
"""A feature's section of the report (e.g. faces: watchlist size, calibrated false-match rate)."""

ACCESS_ACTIONS = (
    "events.search",
    "tracks.search",
    "media.view",
    "media.view_unredacted",
    "export.create",
    "candidate.decide",
    "policy.change",
    "login",
    "login.failed",
)


@dataclass(frozen=True, slots=True)
class TransparencyReport:
    since: datetime
    until: datetime
    active_cameras: int
    events_by_type: dict[str, int]
    tracks_by_class: dict[str, int]
    candidates: dict[str, int]
    confirmed: int
    rejected: int
    pending: int
    false_alert_rate: float | None
    accesses: dict[str, int]
    retention_deleted: dict[str, int]
    sections: dict[str, dict[str, float | int]] = field(default_factory=dict)


def build_report(
    store: Store, since: datetime, until: datetime, contributors: dict[str, ReportContributor] | None = None
) -> TransparencyReport:
    """Aggregate counts for [since, until). The false-alert rate is rejected / decided candidates."""
    counts = store.governance.reports.counts(since, until)
    cands = counts["candidates"]
    by_status = {
        s: sum(n for k, n in cands.items() if k.endswith(f":{s}")) for s in ("confirmed", "rejected", "pending")
    }
    decided = by_status["confirmed"] + by_status["rejected"]
    actions = store.governance.audit.counts_by_action(since=since, until=until)
    deleted: dict[str, int] = {}
    offset = 0
    while True:
        page = store.governance.audit.list(action="retention.run", since=since, until=until, limit=500, offset=offset)
        for record in page:
            for k, v in record.detail.items():
                if isinstance(v, int) and k not in ("held_items", "media_files"):
                    deleted[k] = deleted.get(k, 0) + v
        if len(page) < 500:
            break
        offset += 500
    return TransparencyReport(
        since=since,
        until=until,
        active_cameras=counts["cameras"]["active"],
        events_by_type=counts["events"],
        tracks_by_class=counts["tracks"],
        candidates=cands,
        confirmed=by_status["confirmed"],
        rejected=by_status["rejected"],
        pending=by_status["pending"],
        false_alert_rate=None if decided == 0 else by_status["rejected"] / decided,
        accesses={a: actions.get(a, 0) for a in ACCESS_ACTIONS},
        retention_deleted=deleted,
        sections={name: fn(store, since, until) for name, fn in (contributors or {}).items()},
    )
