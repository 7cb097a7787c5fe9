"""Browser hardening headers on every response: pages, API answers, media and errors alike.

The operator UI needs nothing from another origin and no inline code, so its Content Security
Policy allows only this server ('self') and forbids framing (clickjacking), plugins, ``<base>``
rewriting and forms posting elsewhere. ``/docs`` (Swagger UI) builds its page from its own
bundle, which sets inline styles, so that page alone may use them; it still loads nothing from
outside. HSTS is sent only on requests that arrived over HTTPS (directly or through a trusted
proxy, see :mod:`vigil.http.proxies`), where it means something.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _policy(style_src: str) -> str:
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            f"style-src {style_src}",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            "connect-src 'self'",
            "media-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


PAGE_POLICY = _policy("'self'")
DOCS_POLICY = _policy("'self' 'unsafe-inline'")
HSTS = "max-age=31536000"

COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # the UI reads its own Referer to return after a form
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)


class SecurityHeaders:
    """Add the headers above to every HTTP response that does not set its own."""

    def __init__(self, app: ASGIApp, docs_prefix: str = "/docs") -> None:
        self.app = app
        self.docs_prefix = docs_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        policy = DOCS_POLICY if path == self.docs_prefix or path.startswith(self.docs_prefix + "/") else PAGE_POLICY
        extra = [*COMMON_HEADERS, (b"content-security-policy", policy.encode())]
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", HSTS.encode()))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
