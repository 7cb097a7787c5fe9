"""Oversight and administration: calibration, transparency, the audit log, policies, users."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from vigil.core.clock import utcnow
from vigil.governance.roles import ROLES
from vigil.services import calibration as calibration_service
from vigil.services import oversight, policy
from vigil.services import users as users_service
from vigil.web.charts import RocPoint, bars, roc
from vigil.web.core import CALIBRATION_READ, pages, render, signed_in
from vigil.web.operations import parse_when

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class CalibrationRow:
    """A calibration as the page shows it: the record's fields, its support and floor flags, and
    the URLs of its figures (served by the API)."""

    def __init__(self, view: calibration_service.CalibrationView) -> None:
        self.view = view

    def __getattr__(self, name: str) -> Any:
        return getattr(self.view.record, name)

    @property
    def supported(self) -> bool:
        return self.view.supported

    @property
    def below_floor(self) -> bool:
        return self.view.below_floor

    @property
    def figures(self) -> list[str]:
        cid = self.view.record.calibration_id
        return [f"/api/faces/calibrations/{cid}/figures/{name}" for name in self.view.figures]


@router.get("/calibration")
@pages
def calibration(request: Request) -> Response:
    """The threshold in force, what it costs and buys (FMR, TAR), and every calibration before it."""
    session = signed_in(request)
    session.require(CALIBRATION_READ)
    ctx = session.ctx
    cals = [CalibrationRow(v) for v in calibration_service.history(session.services, session.principal)]
    state = calibration_service.in_force(session.services, session.principal)
    points = [RocPoint(f"{c.created_at:%Y-%m-%d} @ {c.threshold:.3f}", c.measured_fmr, c.tar, c.active) for c in cals]
    active = None if state.active is None else CalibrationRow(state.active)
    if active is not None and active.eer > 0:
        points.append(RocPoint(f"EER {active.eer:.3f}", active.eer, 1 - active.eer))
    return render(
        request,
        "calibration.html",
        session,
        calibrations=list(reversed(cals)),
        state=state,
        active=active,
        chart=roc(points) if points else None,
        faces=ctx.config.faces,
        watchlist=ctx.store.faces.count(),
    )


@router.get("/transparency")
@pages
def transparency(request: Request, since: str | None = None, until: str | None = None) -> Response:
    session = signed_in(request)
    session.require("reports.read")
    report = oversight.transparency(
        session.services,
        session.principal,
        since=parse_when(since, "from"),
        until=parse_when(until, "until"),
        sections=session.ctx.report_sections,
    )
    return render(
        request,
        "transparency.html",
        session,
        r=report,
        accesses=bars(sorted(report.accesses.items(), key=lambda kv: -kv[1])),
        since=since or (utcnow() - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        until=until or utcnow().strftime("%Y-%m-%dT%H:%M"),
    )


@router.get("/audit")
@pages
def audit_log(
    request: Request,
    actor: str | None = None,
    action: str | None = None,
    object_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    routine: str = "grouped",
    offset: int = 0,
    verify: bool = False,
) -> Response:
    """The hash-chained log, newest first (reading it is itself recorded); routine records
    (:data:`vigil.services.oversight.ROUTINE_ACTIONS`) counted per actor, camera and hour
    unless asked for one by one; verify on demand."""
    session = signed_in(request)
    session.require("audit.read")
    start, end = parse_when(since, "from"), parse_when(until, "until")
    grouped = routine != "each" and not action  # asking for one action shows its records
    page = oversight.audit_page(
        session.services,
        session.principal,
        by=actor or None,
        action=action or None,
        object_id=object_id or None,
        since=start,
        until=end,
        limit=100,
        offset=max(offset, 0),
        newest_first=True,
        exclude_actions=oversight.ROUTINE_ACTIONS if grouped else (),
    )
    groups = (
        oversight.routine_groups(session.services, session.principal, by=actor or None, since=start, until=end)
        if grouped and not object_id
        else []
    )
    verdict = oversight.verify(session.services, session.principal) if verify else None
    query = {k: v for k, v in request.query_params.items() if k not in ("offset", "verify")}
    return render(
        request,
        "audit.html",
        session,
        page=page,
        groups=groups[:MAX_GROUPS],
        more_groups=max(0, len(groups) - MAX_GROUPS),
        routine_total=sum(g.count for g in groups),
        grouped=grouped,
        routine_actions=oversight.ROUTINE_ACTIONS,
        verdict=verdict,
        query=query,
        names={c.id: c.display_name for c in session.ctx.config.cameras},
        hour=timedelta(hours=1),
        q={
            "actor": actor or "",
            "action": action or "",
            "object_id": object_id or "",
            "since": since or "",
            "until": until or "",
        },
    )


MAX_GROUPS = 50
"""Routine groups shown above the log (the newest hours; the CSV has every record)."""


@router.get("/audit.csv")
@pages
def audit_export(
    request: Request,
    actor: str | None = None,
    action: str | None = None,
    object_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    """The filtered log as CSV, every record (routine ones too); recorded as ``audit.export``."""
    session = signed_in(request)
    session.require("audit.read")
    text, _ = oversight.audit_csv(
        session.services,
        session.principal,
        by=actor or None,
        action=action or None,
        object_id=object_id or None,
        since=parse_when(since, "from"),
        until=parse_when(until, "until"),
    )
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="vigil-audit-{stamp}.csv"', "Cache-Control": "no-store"},
    )


@router.get("/policies")
@pages
def policies(request: Request) -> Response:
    session = signed_in(request)
    session.require("policy.read")
    return render(
        request,
        "policies.html",
        session,
        policies=policy.policies(session.ctx.services, session.principal),
        can_write=session.principal.can("policy.write"),
        floor=policy.face_threshold_floor(session.ctx.config),
        in_force=policy.current_threshold(session.ctx.services),
        faces=session.ctx.config.faces,
        required_face=session.ctx.config.candidates.confirmations_for("face"),
        required_plate=session.ctx.config.candidates.confirmations_for("plate"),
        retention=session.ctx.config.governance.retention,
    )


@router.post("/policies")
@pages
def set_policy(
    request: Request, key: FormStr = "", value: FormStr = "", reason: FormStr = "", csrf_token: FormStr = ""
) -> Response:
    """The policy service's change (bounds, audit with old and new value; refusals audited)."""
    session = signed_in(request)
    session.check_csrf(csrf_token)
    try:
        parsed: Any = json.loads(value)
    except ValueError:
        parsed = value
    policy.set_policy(session.ctx.services, session.principal, key.strip(), parsed, reason)
    return RedirectResponse(f"/policies?notice=Policy+{key.strip()}+changed", status_code=303)


@router.get("/users")
@pages
def users(request: Request) -> Response:
    """Accounts and every API token (admins): a door onto :mod:`vigil.services.users`."""
    session = signed_in(request)
    accounts = users_service.list_users(session.ctx.services, session.principal)
    tokens = users_service.list_tokens(session.ctx.services, session.principal, username="*")
    cams = sorted({c.id for c in session.ctx.config.cameras} | {h.camera_id for h in session.ctx.store.health.list()})
    return render(request, "users.html", session, users=accounts, tokens=tokens, roles=ROLES, cameras=cams)


def _cameras(text: str) -> list[str] | None:
    ids = [c.strip() for c in re.split(r"[,\s]+", text) if c.strip()]
    return ids or None


@router.post("/users")
@pages
def add_user(
    request: Request,
    username: FormStr = "",
    password: FormStr = "",
    role: FormStr = "",
    cameras: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    session = signed_in(request)
    session.check_csrf(csrf_token)
    scope = _cameras(cameras)
    cams = None if scope is None else tuple(scope)
    users_service.add_user(session.ctx.services, session.principal, username.strip(), password, role, cams)
    return RedirectResponse(f"/users?notice=User+{username.strip()}+added", status_code=303)


@router.post("/users/{username}")
@pages
def update_user(
    request: Request,
    username: str,
    role: FormStr = "",
    cameras: FormStr = "",
    disabled: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    session = signed_in(request)
    session.check_csrf(csrf_token)
    # The form shows every field; pass on only what was changed, so the audit record says what
    # changed (as the API's PATCH and `vigil users set-role` do).
    scope = _cameras(cameras)
    wanted = None if scope is None else tuple(sorted(scope))
    current = session.ctx.store.governance.users.by_username(username)
    before = None if current is None or current.cameras is None else tuple(sorted(current.cameras))
    users_service.update_user(
        session.ctx.services,
        session.principal,
        username,
        role=role or None if current is None or role != current.role else None,
        cameras=wanted if current is None or wanted != before else False,
        disabled=(disabled == "on") if current is None or (disabled == "on") != current.disabled else None,
    )
    return RedirectResponse(f"/users?notice=User+{username}+updated", status_code=303)


@router.post("/tokens/{token_id}/revoke")
@pages
def revoke_token(request: Request, token_id: str, csrf_token: FormStr = "") -> Response:
    """Revoke an API token (admins, or the token's owner): it stops working at once."""
    session = signed_in(request)
    session.check_csrf(csrf_token)
    if not _ID.fullmatch(token_id):
        raise ValueError("a token id is letters, digits and '-' (see the token list)")
    users_service.revoke_token(session.ctx.services, session.principal, token_id)
    return RedirectResponse("/users?notice=Token+revoked", status_code=303)
