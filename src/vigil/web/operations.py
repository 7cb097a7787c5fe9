"""Operators' pages: the candidate review queue, event search, subject timelines, plates, crowd."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from vigil.core.clock import utcnow
from vigil.core.errors import InputError, NotFoundError
from vigil.core.instants import check_instant
from vigil.services import candidates, plate_search
from vigil.services import events as event_search
from vigil.services import timeline as subject_timeline
from vigil.services.candidates import CandidateView, Decision
from vigil.web.cases import cases_to_add_to
from vigil.web.charts import PlanPoint, Series, heatmap, site_plan, time_series
from vigil.web.core import (
    CROWD_READ,
    PLATES_SEARCH,
    WATCHLIST_TIMELINE,
    WebSession,
    fmr_words,
    pages,
    render,
    signed_in,
)

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]
Status = Literal["pending", "confirmed", "rejected"]
EARTH_KM = 6371.0


def parse_when(text: str | None, what: str) -> datetime | None:
    """A ``datetime-local`` value (read as UTC) or an ISO date-time with its zone."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{what}: {text!r} is not a date and time") from exc
    return check_instant(value if value.tzinfo is not None else value.replace(tzinfo=UTC), what)


@dataclass(frozen=True, slots=True)
class EventRows:
    """A page of events as the template shows them (JSON values: times as ISO text)."""

    items: list[dict[str, Any]]
    limit: int
    offset: int
    next_offset: int | None


def default_camera(session: WebSession, camera_id: str | None) -> str | None:
    """The camera filter a scoped user must give: theirs if they have only some cameras."""
    if camera_id:
        return camera_id
    cams = session.principal.cameras
    return None if cams is None else (sorted(cams)[0] if cams else None)


def camera_choices(session: WebSession) -> list[tuple[str, str]]:
    names = {c.id: c.display_name for c in session.ctx.config.cameras}
    for h in session.ctx.store.health.list():
        names.setdefault(h.camera_id, h.camera_id)
    return [(cid, name) for cid, name in sorted(names.items()) if session.principal.sees(cid)]


# -- review -------------------------------------------------------------------------------------


def _queue(session: WebSession, status: Status, camera: str | None) -> list[CandidateView]:
    """The queue (newest first; listing it is audited as ``candidates.list``)."""
    return candidates.list_candidates(session.ctx.services, session.principal, status=status, camera_id=camera,
                                      limit=200).items  # fmt: skip


def camera_names(session: WebSession) -> dict[str, str]:
    return {c.id: c.display_name for c in session.ctx.config.cameras}


@router.get("/review")
@pages
def review(
    request: Request, status: Status = "pending", camera_id: str | None = None, id: str | None = None
) -> Response:
    """The queue beside the candidate being judged (each list and view audited by the API's code)."""
    session = signed_in(request)
    session.require("candidates.read")
    ctx, me = session.ctx, session.principal
    camera = default_camera(session, camera_id)
    items = _queue(session, status, camera)
    ids = [c.candidate_id for c in items]
    current_id = id or (ids[0] if ids else None)
    current: CandidateView | None = None
    subject: Any = None
    vehicle: str | None = None
    if current_id is not None:
        current = candidates.show(ctx.services, me, current_id)
        try:
            if current.kind == "face":
                subject = ctx.store.faces.get(current.list_entry_id)
            else:
                subject = ctx.store.plates.get_entry(current.list_entry_id)
        except NotFoundError:
            subject = None  # removed or purged since: the candidate still shows what it holds
        if current.kind == "plate" and current.track_id:
            track = ctx.store.tracks.get(current.track_id)
            vehicle = None if track is None else track.snapshot
    pos = ids.index(current_id) if current_id in ids else -1
    prev_id = ids[pos - 1] if pos > 0 else None
    next_id = ids[pos + 1] if 0 <= pos < len(ids) - 1 else None
    required = 0 if current is None else current.required_confirmations
    confirmers = [] if current is None else [d.actor for d in current.decisions if d.decision == "confirm"]
    face = current is not None and current.kind == "face"
    return render(
        request,
        "review.html",
        session,
        items=items,
        status=status,
        camera_id=camera or "",
        cameras=camera_choices(session),
        names=camera_names(session),
        current=current,
        subject=subject,
        vehicle=vehicle,
        prev_id=prev_id,
        next_id=next_id,
        required=required,
        confirmers=confirmers,
        already_confirmed=me.username in confirmers,
        can_decide=me.can("candidates.decide"),
        fmr_text=fmr_words(current.false_match_rate, _watchlist_size(session)) if face and current else None,
        cases=cases_to_add_to(session),
        occurred=None if current is None else current.occurred_at,
        undo_s=CONFIRM_UNDO_S,
    )


CONFIRM_UNDO_S = 5
"""Seconds a confirmation waits, with an Undo, before it is sent (``static/vigil.js``)."""


@router.get("/review/queue")
@pages
def review_queue(
    request: Request, status: Status = "pending", camera_id: str | None = None, current: str | None = None
) -> Response:
    """The queue alone, for the review page to redraw in place when the pending set changes
    (``static/vigil.js`` asks only when the summary's count or newest candidate changed)."""
    session = signed_in(request)
    session.require("candidates.read")
    camera = default_camera(session, camera_id)
    return render(
        request,
        "_review_queue.html",
        session,
        items=_queue(session, status, camera),
        status=status,
        camera_id=camera or "",
        names=camera_names(session),
        current_id=current,
    )


def _watchlist_size(session: WebSession) -> int:
    return session.ctx.store.faces.count()


@router.post("/review/{candidate_id}/decide")
@pages
def decide(
    request: Request,
    candidate_id: str,
    decision: FormStr = "",
    reason: FormStr = "",
    csrf_token: FormStr = "",
    next_id: FormStr = "",
) -> Response:
    """A door onto :func:`vigil.services.candidates.decide` (the two-person rule, the audit
    record in the decision's transaction)."""
    session = signed_in(request)
    session.check_csrf(csrf_token)
    if decision not in ("confirm", "reject"):
        raise InputError("choose confirm or reject")
    chosen: Decision = "confirm" if decision == "confirm" else "reject"
    result = candidates.decide(session.ctx.services, session.principal, candidate_id, chosen, reason)
    if result.status == "confirmed":
        notice = "Confirmed: the candidate is now actionable."
    elif result.status == "rejected":
        notice = "Rejected, with your reason recorded."
    else:
        notice = (
            f"Your confirmation is recorded ({result.confirmations} of {result.required_confirmations}); "
            "a different person must confirm too."
        )
    target = next_id if result.status != "pending" and next_id else candidate_id
    return RedirectResponse(f"/review?id={target}&notice={notice.replace(' ', '+')}", status_code=303)


# -- events -------------------------------------------------------------------------------------


@router.get("/events")
@pages
def events(
    request: Request,
    reason: str | None = None,
    camera_id: str | None = None,
    type: str | None = None,
    since: str | None = None,
    until: str | None = None,
    offset: int = 0,
) -> Response:
    """Event search (reason required, audited: :mod:`vigil.services.events`)."""
    session = signed_in(request)
    session.require("events.read")
    page: EventRows | None = None
    if reason is not None:
        found = event_search.search(
            session.services,
            session.principal,
            reason=reason,
            camera_id=default_camera(session, camera_id),
            type=type or None,
            since=parse_when(since, "from"),
            until=parse_when(until, "until"),
            limit=50,
            offset=max(offset, 0),
        )
        page = EventRows([e.model_dump(mode="json") for e in found.items], found.limit, found.offset, found.next_offset)
    types = sorted(session.ctx.store.events.count_by_type())
    query = {k: v for k, v in request.query_params.items() if k != "offset"}
    return render(
        request,
        "events.html",
        session,
        page=page,
        types=types,
        cameras=camera_choices(session),
        q={
            "reason": reason or "",
            "camera_id": camera_id or "",
            "type": type or "",
            "since": since or "",
            "until": until or "",
        },
        query=query,
        show_footage=session.principal.can("media.read"),
    )


# -- subject timeline ---------------------------------------------------------------------------


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(h))


@router.get("/subjects/{subject_id}")
@pages
def timeline(request: Request, subject_id: str, reason: str | None = None, camera_id: str | None = None) -> Response:
    """The subject's timeline (reason required, audited) on the site plan, with the speed between sightings."""
    session = signed_in(request)
    session.require(WATCHLIST_TIMELINE)  # the empty form too: only for those who may search
    ctx, me = session.ctx, session.principal
    if reason is None:
        return render(request, "timeline.html", session, subject_id=subject_id, sightings=None, plan=None)
    found = subject_timeline.timeline(
        session.services, me, subject_id, reason=reason, camera_id=default_camera(session, camera_id)
    )
    records = found.sightings
    cams = {c.id: c for c in ctx.config.cameras if me.sees(c.id)}
    where = {cid: (c.position.lat, c.position.lon) for cid, c in cams.items() if c.position is not None}
    rows: list[dict[str, Any]] = []
    for i, c in enumerate(records):
        hop = None
        if i > 0 and c.camera_id in where and records[i - 1].camera_id in where:
            km = _km(where[records[i - 1].camera_id], where[c.camera_id])
            hours = max((c.occurred_at - records[i - 1].occurred_at).total_seconds() / 3600, 1e-9)
            hop = {"km": km, "kmh": km / hours}
        name = cams[c.camera_id].display_name if c.camera_id in cams else c.camera_id
        rows.append({"c": c, "hop": hop, "name": name})
    plan = site_plan(
        [PlanPoint(cid, cams[cid].display_name, lat, lon) for cid, (lat, lon) in where.items()],
        [(c.camera_id, f"{c.occurred_at:%H:%M:%S}") for c in records],
    )
    missing = sorted({c.camera_id for c in records if c.camera_id not in where})
    return render(
        request,
        "timeline.html",
        session,
        subject_id=subject_id,
        sightings=rows,
        plan=plan,
        reason=reason,
        missing=missing,
        truncated=found.truncated,
        enrolled=found.enrolled,
    )


# -- plates -------------------------------------------------------------------------------------


@router.get("/plates")
@pages
def plates(
    request: Request, plate: str | None = None, reason: str | None = None, camera_id: str | None = None
) -> Response:
    """Plate lookup: a reason is required and the search is audited (scoped users pick a camera)."""
    session = signed_in(request)
    session.require(PLATES_SEARCH)  # the empty form too: only for those who may search
    camera = default_camera(session, camera_id)
    reads = None
    if plate is not None:
        reads = plate_search.search(session.services, session.principal, plate, reason=reason, camera_id=camera).reads
    return render(
        request,
        "plates.html",
        session,
        reads=reads,
        plate=plate or "",
        reason=reason or "",
        camera_id=camera or "",
        cameras=camera_choices(session),
        names=camera_names(session),
        retention_hours=session.ctx.config.plates.retention_hours,
        cases=cases_to_add_to(session),
    )


# -- crowd --------------------------------------------------------------------------------------


@router.get("/crowd")
@pages
def crowd(request: Request, camera_id: str | None = None, hours: float = 24) -> Response:
    """Counts per zone over time, occupancy against capacity, and the heatmap (no identities)."""
    session = signed_in(request)
    session.require(CROWD_READ)
    ctx, me = session.ctx, session.principal
    configured = {c.id: c for c in ctx.config.cameras}
    cams = [
        c for c in sorted(set(ctx.store.crowd.cameras()) | {c.id for c in ctx.config.cameras if c.zones}) if me.sees(c)
    ]
    camera = camera_id if camera_id in cams else (cams[0] if cams else None)
    if camera is not None:
        session.require(CROWD_READ, camera)
    hours = min(max(hours, 0.25), 24 * 31)
    since = utcnow() - timedelta(hours=hours)
    zones: list[dict[str, Any]] = []
    hm = None
    alerts: list[Any] = []
    line_totals: list[Any] = []
    if camera is not None:
        cfg = configured.get(camera)
        capacity = {z.id: z.capacity for z in cfg.zones} if cfg else {}
        names = {z.id: z.name or z.id for z in cfg.zones} if cfg else {}
        by_zone: dict[str, list[tuple[datetime, float]]] = {}
        for p in ctx.store.crowd.series(camera, since=since, limit=20_000):
            by_zone.setdefault(p.zone_id, []).append((p.at, float(p.count)))
        for zid in sorted(set(by_zone) | set(capacity)):
            pts = by_zone.get(zid, [])
            cap = capacity.get(zid)
            now_count = pts[-1][1] if pts else None
            zones.append(
                {
                    "id": zid,
                    "name": "whole view" if zid == "*" else names.get(zid, zid),
                    "now": now_count,
                    "capacity": cap,
                    "at": pts[-1][0] if pts else None,
                    "share": None if cap is None or now_count is None else now_count / cap,
                    "chart": time_series([Series(names.get(zid, zid), pts, None if cap is None else float(cap))]),
                }
            )
        total = ctx.store.crowd.heatmap(camera, since=since)
        if total is not None:
            polys = [(z.name or z.id, [(float(x), float(y)) for x, y in z.polygon]) for z in cfg.zones] if cfg else []
            lines = (
                [
                    (ln.name or ln.id, (float(ln.start[0]), float(ln.start[1])), (float(ln.end[0]), float(ln.end[1])))
                    for ln in cfg.lines
                ]
                if cfg
                else []
            )
            frame = f"/cameras/{camera}/latest" if me.can("media.read") and me.sees(camera) else None
            hm = heatmap(total.grid, total.frame_width, total.frame_height, polys, lines, background=frame)
        alerts = ctx.store.crowd.alerts(camera, since=since)[-50:]
        line_totals = ctx.store.crowd.line_totals(camera, since=since)
    return render(
        request,
        "crowd.html",
        session,
        cameras=cams,
        camera=camera,
        zones=zones,
        heatmap=hm,
        heatmap_frame=hm is not None and me.can("media.read") and me.sees(camera),
        alerts=alerts,
        line_totals=line_totals,
        hours=hours,
        names={c.id: c.display_name for c in ctx.config.cameras},
    )
