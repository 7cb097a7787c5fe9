"""Messages shown after an action ("Enrolled subject-7", "reason: too short"), never taken from
the URL: a link such as ``/?error=Your account is locked, call ...`` must not put an attacker's
words in Vigil's banner.

A page handler still redirects to ``/lists?notice=...``; :func:`move_to_flash` takes the text out
of the ``Location`` and into a one-time cookie (HttpOnly, SameSite=Strict, a minute long), which
the next page shows once and clears. (Keeping the text out of URLs also keeps plates and names
out of access logs and browser history.) The URL may carry only a *code* from :data:`KNOWN`,
which shows fixed text; any other value is ignored.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from vigil.config import VigilConfig
from vigil.http.cookies import clear_cookie, set_private_cookie

FLASH_COOKIE = "vigil_flash"
KINDS = ("notice", "error")
MAX_CHARS = 500

KNOWN: dict[str, dict[str, str]] = {
    "error": {
        "unauthenticated": "Sign in first.",
        "invalid_session": "You are no longer signed in; sign in again.",
        "session_expired": "Your session has expired; sign in again.",
        "account_disabled": "This account is disabled.",
        "csrf_failed": "That form was stale or was not sent by Vigil; nothing was changed. Please try again.",
    },
    "notice": {"signed_out": "Signed out."},
}
"""The only messages a URL can ask for, by code."""


def encode(messages: dict[str, str]) -> str:
    data = json.dumps({k: v[:MAX_CHARS] for k, v in messages.items() if k in KINDS and v}, ensure_ascii=True)
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")  # no "=": no quoting


def decode(value: str | None) -> dict[str, str]:
    """The messages in a flash cookie; anything malformed reads as none."""
    if not value:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4)))
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: str(v)[:MAX_CHARS] for k, v in data.items() if k in KINDS and isinstance(v, str) and v}


def messages_for(request: Request) -> dict[str, str]:
    """This page's messages: the flash cookie's, else a known code from the URL."""
    shown = decode(request.cookies.get(FLASH_COOKIE))
    for kind in KINDS:
        code = request.query_params.get(kind)
        if kind not in shown and code in KNOWN[kind]:
            shown[kind] = KNOWN[kind][code]
    return shown


def clear_shown(response: Response, request: Request, config: VigilConfig) -> None:
    """The page showed the flash: drop it, so a reload does not show it again."""
    if FLASH_COOKIE in request.cookies:
        clear_cookie(response, request, config, FLASH_COOKIE)


def move_to_flash(response: Response, request: Request, config: VigilConfig) -> Response:
    """A redirect whose ``Location`` carries ``notice=``/``error=`` text: the text goes into the
    flash cookie, the URL keeps only the other parameters (or the code, if it is a known one)."""
    location = response.headers.get("location")
    if not location or not 300 <= response.status_code < 400:
        return response
    parts = urlsplit(location)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    messages = {k: v for k, v in pairs if k in KINDS and v}
    if not messages:
        return response
    kept = [(k, v) for k, v in pairs if k not in KINDS or v in KNOWN.get(k, {})]
    query = urlencode(kept)
    response.headers["location"] = parts._replace(query=query).geturl()
    texts = {k: v for k, v in messages.items() if v not in KNOWN[k]}
    if texts:
        set_private_cookie(response, request, config, FLASH_COOKIE, encode(texts), max_age=60)
    return response
