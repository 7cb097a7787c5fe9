"""Live alerts as server-sent events (``text/event-stream``), filtered to your cameras."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from vigil.api.deps import Audit, Ctx, CurrentPrincipal
from vigil.api.routing import endpoint

router = APIRouter(prefix="/alerts", tags=["alerts"])
KEEPALIVE_S = 5.0


@endpoint(
    router,
    "GET",
    "/stream",
    action="alerts.stream",
    scope="global",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "One `alert` event per alert."}},
)
async def stream_alerts(request: Request, ctx: Ctx, principal: CurrentPrincipal, audit: Audit) -> StreamingResponse:
    """Alerts for cameras in your scope as they happen (``event: alert``, JSON data)."""
    await asyncio.to_thread(audit.record, "alerts.stream", object_type="alerts")
    queue = ctx.hub.subscribe()

    async def events() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while not ctx.hub.closed:
                try:
                    alert = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if alert is None:
                    return
                if principal.sees(alert.camera_id):
                    yield f"event: alert\ndata: {json.dumps(alert.to_json())}\n\n"
        finally:
            ctx.hub.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
