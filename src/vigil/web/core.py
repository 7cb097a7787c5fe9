"""What every page shares: templates, the signed-in session, CSRF on forms, errors as pages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from vigil.core.errors import AccessDeniedError, AuthenticationError, VigilError
from vigil.governance.auth import csrf_matches
from vigil.governance.roles import PERMISSIONS, Principal
from vigil.http.context import AppContext
from vigil.http.errors import message_of, status_and_code
from vigil.http.session import session_of
from vigil.recognise.wording import fmr_in_words, one_in
from vigil.services import Recorder, Services
from vigil.web import flash

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
P = ParamSpec("P")


def feature_action(preferred: str, fallback: str) -> str:
    """``preferred`` once the feature has added it to ``PERMISSIONS``, else the closest core action."""
    return preferred if preferred in PERMISSIONS else fallback


# Features without their own actions yet borrow the nearest core rule (see docs/ui.md).
WATCHLIST_READ = feature_action("watchlist.read", "candidates.read")
WATCHLIST_MANAGE = feature_action("watchlist.manage", "cases.manage")
WATCHLIST_TIMELINE = feature_action("watchlist.timeline", "candidates.read")
CALIBRATION_READ = feature_action("calibration.read", "reports.read")
HOTLIST_READ = feature_action("hotlist.read", "candidates.read")
HOTLIST_MANAGE = feature_action("hotlist.manage", "cases.manage")
PLATES_SEARCH = feature_action("plates.search", "events.read")
CROWD_READ = feature_action("crowd.read", "cameras.read")

NAV: tuple[tuple[str, str, str], ...] = (
    ("/", "Cameras", "cameras.read"),
    ("/live", "Live", "media.read"),
    ("/review", "Review", "candidates.read"),
    ("/explore", "Explore", "tracks.read"),
    ("/events", "Events", "events.read"),
    ("/plates", "Plates", PLATES_SEARCH),
    ("/crowd", "Crowd", CROWD_READ),
    ("/lists", "Watchlists", WATCHLIST_READ),
    ("/cases", "Cases", "cases.read"),
    ("/calibration", "Calibration", CALIBRATION_READ),
    ("/transparency", "Transparency", "reports.read"),
    ("/audit", "Audit log", "audit.read"),
    ("/policies", "Policies", "policy.read"),
    ("/users", "Users", "users.manage"),
)


@dataclass(frozen=True, slots=True)
class WebSession:
    """The signed-in person behind a page request."""

    ctx: AppContext
    principal: Principal
    csrf: str
    page: str = ""
    """The page asked for (``POST /review/{id}``), named in the record of a refused attempt."""

    @property
    def services(self) -> Services:
        """The domain services' context (:mod:`vigil.services`)."""
        return self.ctx.services

    @property
    def audit(self) -> Recorder:
        """The audit recorder of the signed-in person (reads are recorded with ``read``)."""
        return self.ctx.services.recorder(self.principal)

    def require(self, action: str, camera_id: str | None = None) -> None:
        """Check role and camera scope; a refusal is recorded (``access.denied``), then raised."""
        Recorder(self.ctx.store, self.principal).allow(action, camera_id=camera_id, page=self.page)

    def check_csrf(self, token: str) -> None:
        if not csrf_matches(self.csrf, token or None):
            raise AccessDeniedError("this form is stale or was not sent by Vigil (CSRF check failed)", "csrf_failed")


def context_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.vigil
    return ctx


def signed_in(request: Request) -> WebSession:
    """The session of the cookie sign-in set (:mod:`vigil.http.session`, shared with the API).

    Raises:
        AuthenticationError: no, unknown or expired session (the page redirects to sign-in).
    """
    ctx = context_of(request)
    found = session_of(ctx.auth, request)
    if found is None:
        raise AuthenticationError("sign in first")
    principal, csrf = found
    return WebSession(ctx, principal, csrf, f"{request.method} {request.url.path}")


def render(request: Request, template: str, session: WebSession | None, *, code: int = 200, **values: Any) -> Response:
    """A page, with the navigation its viewer may use and any notice or error from a redirect."""
    nav = [] if session is None else [(href, label) for href, label, action in NAV if session.principal.can(action)]
    for kind, text in flash.messages_for(request).items():
        values.setdefault(kind, text)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "me": None if session is None else session.principal,
            "csrf": session and session.csrf,
            "nav": nav,
            "path": request.url.path,
            **values,
        },
        status_code=code,
        headers={"Cache-Control": "no-store"},
    )
    flash.clear_shown(response, request, context_of(request).config)
    return response


def local_path(url: str | None, default: str = "/") -> str:
    """``url``'s path and query if it points inside this site (never an open redirect)."""
    if not url:
        return default
    parts = urlsplit(url)
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path + (f"?{parts.query}" if parts.query else "")


def with_message(target: str, **message: str) -> str:
    """``target`` with ``notice``/``error`` replaced by ``message``."""
    parts = urlsplit(target)
    kept = [(k, v) for k, v in _pairs(parts.query) if k not in ("notice", "error")]
    query = urlencode([*kept, *message.items()])
    return parts.path + (f"?{query}" if query else "")


def _pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)


def _message(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid input"))
    return message_of(exc)


def pages(fn: Callable[P, Response]) -> Callable[P, Response]:
    """Turn Vigil's errors into pages: sign-in redirects, error pages (GET) or the form's page
    again with the message (POST). Messages travel in a one-time cookie, never as text in the
    URL (see :mod:`vigil.web.flash`)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs.get("request")
        assert isinstance(request, Request), "page handlers take request as a keyword"
        try:
            response = fn(*args, **kwargs)
        except (VigilError, ValueError) as exc:
            response = _error_page(request, exc)
        return flash.move_to_flash(response, request, context_of(request).config)

    return wrapper


def _error_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, AuthenticationError):
        if request.method == "GET":
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": here}), status_code=303)
        code = exc.code if exc.code in flash.KNOWN["error"] else "unauthenticated"
        return RedirectResponse("/login?" + urlencode({"error": code}), status_code=303)
    status = status_and_code(exc)[0]
    if isinstance(exc, AccessDeniedError) and not exc.recorded and exc.code != "csrf_failed":
        _record_refusal(request, exc)
    if request.method != "GET":
        back = local_path(request.headers.get("referer"))
        return RedirectResponse(with_message(back, error=_message(exc)), status_code=303)
    try:
        session: WebSession | None = signed_in(request)
    except (AuthenticationError, VigilError):
        session = None
    return render(request, "error.html", session, code=status, status_code=status, message=_message(exc))


def _record_refusal(request: Request, exc: AccessDeniedError) -> None:
    """Record a refusal raised below the page (a camera out of scope) that nobody recorded."""
    try:
        session = signed_in(request)
    except VigilError:
        return
    Recorder(session.ctx.store, session.principal).refused(session.page, exc, page=session.page)


# -- formatting ---------------------------------------------------------------------------------


def ago(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 0:
        return "just now"
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''} ago"
    return f"{int(seconds)} s ago"


def fmr_words(fmr: float | None, watchlist_size: int | None = None) -> str:
    """The calibrated false-match rate of a candidate in plain words."""
    if fmr is None:
        return (
            "No calibrated false-match rate: the threshold was not set by calibration, so nobody knows "
            "how often a stranger would score this high. Treat this match with extra care."
        )
    if fmr <= 0:
        return "No stranger in the calibration set scored this high; the true rate is unknown but small."
    words = f"{fmr_in_words(fmr).capitalize()} (calibrated false-match rate {fmr:.1e})."
    if watchlist_size and watchlist_size > 1:
        per_person = min(1.0, fmr * watchlist_size)
        words += (
            f" Compared with all {watchlist_size} enrolled subjects, about 1 in {one_in(per_person)} "
            "passers-by would raise a false alert."
        )
    return words


def html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status)


TEMPLATES.env.filters["ago"] = ago
TEMPLATES.env.filters["num"] = lambda v: f"{v:.4g}" if isinstance(v, float) else v
TEMPLATES.env.filters["one_in"] = one_in
TEMPLATES.env.filters["utc"] = lambda d: "" if d is None else d.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
TEMPLATES.env.filters["people"] = lambda n: f"{n:.0f} {'person' if round(n) == 1 else 'people'}"
TEMPLATES.env.filters["day"] = lambda d: "" if d is None else d.astimezone(UTC).strftime("%Y-%m-%d")
