"""Cameras (configured or seen), their health and, in scale-out, the worker holding each."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated

from fastapi import APIRouter, Path

from vigil.api.deps import Ctx, CurrentPrincipal
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import CameraOut, HealthOut, LeaseOut
from vigil.core.clock import utcnow
from vigil.http.leases import LeaseSnapshot
from vigil.services import cameras
from vigil.store.records import HealthRecord

router = APIRouter(prefix="/cameras", tags=["cameras"])
CameraIdPath = Annotated[str, Path(min_length=1, max_length=128)]


def _health(h: HealthRecord | None) -> HealthOut | None:
    if h is None:
        return None
    now = utcnow()
    return HealthOut(
        updated_at=h.updated_at,
        state=h.state,
        frames_in=h.frames_in,
        frames_analysed=h.frames_analysed,
        frames_dropped=h.frames_dropped,
        reconnects=h.reconnects,
        analysed_fps=h.analysed_fps,
        last_error=h.last_error,
        age_s=round((now - h.updated_at).total_seconds(), 1),
        stale=cameras.health_is_stale(h, now),
    )


def _out(c: cameras.CameraStatus, leases: LeaseSnapshot | None) -> CameraOut:
    lease = None if leases is None else LeaseOut(**dataclasses.asdict(leases.lease(c.camera_id, time.time())))
    return CameraOut(camera_id=c.camera_id, name=c.name, configured=c.configured, health=_health(c.health), lease=lease)


def _leases(ctx: Ctx) -> LeaseSnapshot | None:
    """Scale-out: who holds each camera (read from NATS at most every 2 s); None when embedded."""
    return None if ctx.leases is None else ctx.leases.snapshot()


@endpoint(router, "GET", "", action="cameras.read", scope="global")
def list_cameras(ctx: Ctx, principal: CurrentPrincipal) -> list[CameraOut]:
    """Cameras in your scope, with their latest health and (scale-out) the worker that holds each."""
    in_scope = cameras.in_scope(ctx.services, principal)
    leases = _leases(ctx)
    return [_out(c, leases) for c in in_scope]


@endpoint(
    router,
    "GET",
    "/{camera_id}",
    action="cameras.read",
    scope="camera",
    example=Example(path={"camera_id": "{camera}"}),
)
def get_camera(camera_id: CameraIdPath, ctx: Ctx, principal: CurrentPrincipal) -> CameraOut:
    camera = cameras.one(ctx.services, principal, camera_id)
    return _out(camera, _leases(ctx))
