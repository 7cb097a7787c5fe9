"""Cameras (configured or seen) and their health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from vigil.api.deps import Ctx, CurrentPrincipal
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import CameraOut, HealthOut
from vigil.services import cameras
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


def _out(c: cameras.CameraStatus) -> CameraOut:
    return CameraOut(camera_id=c.camera_id, name=c.name, configured=c.configured, health=_health(c.health))


@endpoint(router, "GET", "", action="cameras.read", scope="global")
def list_cameras(ctx: Ctx, principal: CurrentPrincipal) -> list[CameraOut]:
    """Cameras in your scope, with their latest health."""
    return [_out(c) for c in cameras.in_scope(ctx.services, principal)]


@endpoint(
    router,
    "GET",
    "/{camera_id}",
    action="cameras.read",
    scope="camera",
    example=Example(path={"camera_id": "{camera}"}),
)
def get_camera(camera_id: CameraIdPath, ctx: Ctx, principal: CurrentPrincipal) -> CameraOut:
    return _out(cameras.one(ctx.services, principal, camera_id))
