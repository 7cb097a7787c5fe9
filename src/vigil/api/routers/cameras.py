"""Cameras (configured or seen), their health and, in scale-out, the worker holding each."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path

from vigil.api.deps import Ctx, CurrentPrincipal
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import CameraOut, HealthOut
from vigil.core.errors import NotFoundError
from vigil.governance.roles import require
from vigil.store.records import HealthRecord

router = APIRouter(prefix="/cameras", tags=["cameras"])
CameraIdPath = Annotated[str, Path(min_length=1, max_length=128)]


def _health(h: HealthRecord | None) -> HealthOut | None:
    if h is None:
        return None
    return HealthOut(
        updated_at=h.updated_at,
        state=h.state,
        frames_in=h.frames_in,
        frames_analysed=h.frames_analysed,
        frames_dropped=h.frames_dropped,
        reconnects=h.reconnects,
        analysed_fps=h.analysed_fps,
        last_error=h.last_error,
    )


def _cameras(ctx: Ctx) -> dict[str, CameraOut]:
    health = {h.camera_id: h for h in ctx.store.health.list()}
    out = {c.id: CameraOut(camera_id=c.id, name=c.name, configured=True, health=None) for c in ctx.config.cameras}
    for cam_id, h in health.items():
        base = out.get(cam_id) or CameraOut(camera_id=cam_id, name=None, configured=False, health=None)
        out[cam_id] = base.model_copy(update={"health": _health(h)})
    if ctx.leases is not None:
        snap = ctx.leases.snapshot()
        now = time.time()
        for cam_id in snap.holders:
            out.setdefault(cam_id, CameraOut(camera_id=cam_id, name=None, configured=False, health=None))
        out = {cid: c.model_copy(update={"lease": snap.lease(cid, now)}) for cid, c in out.items()}
    return out


@endpoint(router, "GET", "", action="cameras.read", scope="global")
def list_cameras(ctx: Ctx, principal: CurrentPrincipal) -> list[CameraOut]:
    """Cameras in your scope, with their latest health and (scale-out) the worker that holds each."""
    return [c for cid, c in sorted(_cameras(ctx).items()) if principal.sees(cid)]


@endpoint(
    router,
    "GET",
    "/{camera_id}",
    action="cameras.read",
    scope="camera",
    example=Example(path={"camera_id": "{camera}"}),
)
def get_camera(camera_id: CameraIdPath, ctx: Ctx, principal: CurrentPrincipal) -> CameraOut:
    require(principal, "cameras.read", camera_id)
    camera = _cameras(ctx).get(camera_id)
    if camera is None:
        raise NotFoundError(f"no camera {camera_id!r}")
    return camera
