"""``create_app``: the FastAPI application for one deployment.

Feature routers plug in through ``ApiContext.extra_routers`` (or :data:`FEATURE_ROUTERS`):
each is an ``APIRouter`` whose routes are declared with :func:`vigil.api.routing.endpoint`, so
they get the role check, appear in OpenAPI with their access rule, and join the access matrix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI

import vigil
from vigil.api.context import ApiContext
from vigil.api.docs import mount_docs
from vigil.api.errors import error_response, install_error_handlers
from vigil.api.routers import (
    alerts,
    auth,
    calibration,
    cameras,
    candidates,
    cases,
    crowd,
    events,
    explore,
    media,
    oversight,
    plates,
    users,
    watchlist,
)
from vigil.api.schemas import Healthz
from vigil.core.clock import utcnow
from vigil.governance.alerts import candidate_alert
from vigil.governance.transparency import ReportContributor
from vigil.http.proxies import TrustedProxies
from vigil.http.security_headers import SecurityHeaders

log = logging.getLogger(__name__)

CORE_ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    cameras.router,
    events.router,
    explore.router,
    candidates.router,
    media.router,
    oversight.router,
    cases.router,
    users.router,
    alerts.router,
)

FEATURE_ROUTERS: list[Callable[[], APIRouter]] = [
    watchlist.router_factory,
    calibration.router_factory,
    plates.router_factory,
    crowd.router_factory,
]
"""Factories of feature routers (faces, plates, crowd) mounted under ``/api`` in every app."""

FEATURE_REPORT_SECTIONS: dict[str, Callable[[ApiContext], ReportContributor]] = {
    "faces": watchlist.faces_report_section,
    "plates": plates.plates_report_section,
}
"""Transparency-report sections of features, built from each app's context (``ctx.report_sections`` wins)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, by header and while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = error_response(413, "payload_too_large", f"request bodies are limited to {self.limit} bytes")
        if declared is not None:
            try:
                if int(declared) > self.limit:
                    await too_big(scope, receive, send)
                    return
            except ValueError:
                await error_response(400, "bad_request", "invalid Content-Length")(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLargeError
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _BodyTooLargeError:
            if not started:
                await too_big(scope, receive, send)


class _BodyTooLargeError(Exception):
    pass


async def _poll_candidates(ctx: ApiContext, executor: ThreadPoolExecutor) -> None:
    """Turn newly stored candidates into alerts (SSE, and webhooks/MQTT off the event loop)."""
    interval = ctx.config.governance.alerts.poll_interval_s
    cursor = utcnow()
    seen: dict[str, datetime] = {}
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval)
        try:
            fresh = await asyncio.to_thread(
                ctx.store.candidates.list, since=cursor - timedelta(minutes=5), newest_first=False, limit=1000
            )
        except Exception as exc:  # the poller must survive a store outage
            log.warning("alert poller: %s", exc)
            continue
        for c in fresh:
            if c.candidate_id in seen:
                continue
            seen[c.candidate_id] = c.occurred_at
            alert = candidate_alert(c)
            ctx.hub.publish(alert)
            if ctx.dispatcher is not None:
                loop.run_in_executor(executor, ctx.dispatcher.dispatch, alert)
        cursor = max([cursor, *(c.occurred_at for c in fresh)])
        horizon = cursor - timedelta(minutes=10)
        seen = {k: v for k, v in seen.items() if v >= horizon}


def create_app(ctx: ApiContext) -> FastAPI:
    """The API: ``/healthz`` (no sign-in), ``/api/...`` (signed in), ``/openapi.json``, ``/docs``.

    The web UI is mounted beside it by :func:`vigil.server.create_app` (the API never imports it).
    """

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vigil-alerts")
        poller = asyncio.create_task(_poll_candidates(ctx, executor)) if ctx.poll_alerts else None
        try:
            yield
        finally:
            ctx.hub.close()
            if ctx.live is not None:
                ctx.live.close()  # the open watches get their end record
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            executor.shutdown(wait=False, cancel_futures=True)
            if ctx.dispatcher is not None:
                ctx.dispatcher.close()
            # Off the event loop: closing stops each NATS connection's own loop.
            await asyncio.to_thread(ctx.close_connections)

    app = FastAPI(
        title="Vigil",
        version=vigil.__version__,
        description="Accountable video analytics: every use is authorised and recorded.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's own /docs and /redoc load scripts from a CDN: see vigil.api.docs
        redoc_url=None,
    )
    app.state.vigil = ctx
    for name, make_section in FEATURE_REPORT_SECTIONS.items():
        ctx.report_sections.setdefault(name, make_section(ctx))
    install_error_handlers(app)
    mount_docs(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> Healthz:
        """Liveness, without sign-in."""
        return Healthz(status="ok", version=app.version)

    api = APIRouter(prefix="/api")
    for router in CORE_ROUTERS:
        api.include_router(router)
    for factory in [*FEATURE_ROUTERS, *ctx.extra_routers]:
        api.include_router(factory())
    app.include_router(api)
    app.add_middleware(BodyLimit, limit=ctx.config.governance.max_upload_bytes)
    app.add_middleware(SecurityHeaders)  # every answer gets the headers, refusals too
    app.add_middleware(TrustedProxies, networks=ctx.config.api.trusted_proxies)  # outermost: who is asking
    return app
