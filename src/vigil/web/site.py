"""Mounting the UI, signing in and out, and the camera overview."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from vigil.core.clock import utcnow
from vigil.core.errors import AuthenticationError, VigilError
from vigil.governance.auth import csrf_matches
from vigil.http.cookies import clear_cookie, set_private_cookie
from vigil.http.session import sign_in, sign_out
from vigil.services import cameras
from vigil.web import alerts, cases, explore, flash, lists, live, operations, oversight, viewer
from vigil.web.charts import PlanPoint, site_plan
from vigil.web.core import HERE, context_of, local_path, pages, render, signed_in

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]


def mount_web(app: FastAPI) -> None:
    """Add the pages (not in the OpenAPI schema) and ``/static`` to ``app``."""
    for r in (
        router,
        operations.router,
        lists.router,
        cases.router,
        oversight.router,
        viewer.router,
        live.router,
        alerts.router,
        explore.router,
    ):
        app.include_router(r)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")


LOGIN_CSRF_COOKIE = "vigil_login_csrf"
LOGIN_FORM_TTL_S = 3600


def _login_form(request: Request, *, code: int = 200, **values: str) -> Response:
    """The sign-in page with a fresh CSRF token, in its hidden field and in a cookie only this
    site can set or send (double submit: a page elsewhere cannot sign you in as someone else)."""
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", None, code=code, login_csrf=token, **values)
    set_private_cookie(
        response, request, context_of(request).config, LOGIN_CSRF_COOKIE, token, max_age=LOGIN_FORM_TTL_S
    )
    return response


@router.get("/login")
@pages
def login_page(request: Request, next: str = "/") -> Response:
    try:
        signed_in(request)
        return RedirectResponse(local_path(next), status_code=303)
    except (AuthenticationError, VigilError):
        pass
    return _login_form(request, next=local_path(next))


@router.post("/login")
@pages
def login(
    request: Request, username: FormStr = "", password: FormStr = "", next: FormStr = "/", csrf_token: FormStr = ""
) -> Response:
    """The API's login (same lockout, audit and cookie), then the page asked for; only from
    Vigil's own sign-in form (its CSRF token must match the cookie set with it)."""
    target = local_path(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not csrf_matches(expected, csrf_token or None):
        # Not counted as a sign-in attempt: the password is never looked at.
        return _login_form(request, code=403, next=target, error=flash.KNOWN["error"]["csrf_failed"])
    redirect = RedirectResponse(target, status_code=303)
    try:
        ctx = context_of(request)
        sign_in(ctx.auth, ctx.config, request, redirect, username or " ", password or " ")
    except AuthenticationError as exc:
        return _login_form(request, code=401, next=target, error=str(exc), username=username)
    clear_cookie(redirect, request, context_of(request).config, LOGIN_CSRF_COOKIE)
    return redirect


@router.post("/logout")
@pages
def logout(request: Request, csrf_token: FormStr = "") -> Response:
    session = signed_in(request)
    session.check_csrf(csrf_token)
    out = RedirectResponse("/login?notice=signed_out", status_code=303)
    sign_out(session.ctx.auth, session.ctx.config, request, out, session.principal)
    return out


@router.get("/")
@pages
def overview(request: Request) -> Response:
    """Cameras in scope: health, the latest snapshot (refreshing), open alerts."""
    session = signed_in(request)
    session.require("cameras.read")
    ctx, me = session.ctx, session.principal
    found = cameras.in_scope(session.services, me)
    can_review = me.can("candidates.read")
    pending: dict[str, int] = {}
    day: dict[str, int] = {}
    if can_review:
        since = utcnow() - timedelta(hours=24)
        for cam in found:
            pending[cam.camera_id] = len(
                ctx.store.candidates.list(status="pending", camera_id=cam.camera_id, limit=1000)
            )
            day[cam.camera_id] = len(ctx.store.candidates.list(camera_id=cam.camera_id, since=since, limit=1000))
    positions = {c.id: c for c in ctx.config.cameras if c.position is not None and me.sees(c.id)}
    now = utcnow()
    health = {c.camera_id: c.health for c in found}

    def state(cid: str) -> str:
        h = health.get(cid)
        if h is None:
            return "no health yet"
        return "offline" if cameras.health_is_stale(h, now) else h.state

    crowd_open = cameras.open_crowd_alerts(session.services, me, [c.camera_id for c in found], now)
    plan = site_plan(
        [
            PlanPoint(
                c.id,
                c.display_name,
                c.position.lat,
                c.position.lon,
                state(c.id),
                pending.get(c.id, 0),
                len(crowd_open.get(c.id, [])),
            )
            for c in positions.values()
            if c.position
        ],
        links={cid: f"/live/{cid}" for cid in positions} if me.can("media.read") else None,
    )
    # Scale-out: the worker holding each camera, as the API's ``lease`` field (same snapshot).
    snap = ctx.leases.snapshot() if ctx.leases is not None else None
    leases = None if snap is None else {c.camera_id: snap.lease(c.camera_id, time.time()) for c in found}
    return render(
        request,
        "overview.html",
        session,
        cameras=found,
        leases=leases,
        names={c.id: c.display_name for c in ctx.config.cameras},
        pending=pending,
        day=day,
        crowd_open=crowd_open,
        can_review=can_review,
        show_footage=me.can("media.read"),
        stale={c.camera_id: c.health is None or cameras.health_is_stale(c.health, now) for c in found},
        plan=plan if positions else None,
    )


@router.get("/cameras/{camera_id}/latest")
@pages
def latest_snapshot(request: Request, camera_id: str) -> Response:
    """Redirect to the newest snapshot of a camera, served (redacted and audited) by the API."""
    session = signed_in(request)
    session.require("media.read", camera_id)
    for track in session.ctx.store.tracks.list(camera_id=camera_id, limit=20, newest_first=True):
        if track.snapshot:
            return RedirectResponse(f"/api/media/{track.snapshot}", status_code=303)
    return Response(status_code=204)
