"""Crowd monitoring over HTTP: zone-count series, line totals, alerts, occupancy against capacity
and occupancy heatmaps, per camera and time range.

Everything here is aggregate (counts, densities, flows; the heatmap is a bare grid of mean people
per cell, never drawn over a camera frame), so reads carry no personal data and are not audited
one by one. They are still camera-scoped monitoring data: ``crowd.read`` (footage roles, within
their cameras). Auditors see crowd activity through the transparency report only.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from vigil.api.context import ApiContext
from vigil.api.deps import Ctx, CurrentPrincipal
from vigil.api.params import Instant
from vigil.api.routing import Example, endpoint
from vigil.config.camera import CameraConfig
from vigil.core.errors import InputError, NotFoundError
from vigil.crowd.heatmap import render_heatmap
from vigil.governance.roles import Principal, require
from vigil.store.crowd import TOTAL_ZONE

router = APIRouter(prefix="/crowd", tags=["crowd"])
CameraPath = Annotated[str, Path(min_length=1, max_length=128)]
Since = Annotated[Instant | None, Query(description="From (inclusive), ISO date-time with zone.")]
Until = Annotated[Instant | None, Query(description="To (exclusive), ISO date-time with zone.")]
_RANGE = {"since": "2026-10-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}
"""The matrix examples' range (the seeded crowd rows are from 2026-11-01)."""


class CountOut(BaseModel):
    count: int
    detection_count: int
    density_count: float | None
    method: str
    density_per_m2: float | None


class ZoneSeries(BaseModel):
    zone_id: str = Field(description="'*' is the whole frame.")
    at: list[datetime]
    count: list[int]
    density_per_m2: list[float | None]


class SeriesOut(BaseModel):
    camera_id: str
    since: datetime | None
    until: datetime | None
    zones: list[ZoneSeries]
    samples: int
    truncated: bool


class LineOut(BaseModel):
    line_id: str
    in_count: int
    out_count: int
    net: int = Field(description="in - out.")


class LinesOut(BaseModel):
    camera_id: str
    since: datetime | None
    until: datetime | None
    lines: list[LineOut]


class AlertOut(BaseModel):
    at: datetime
    kind: str
    subject_type: str
    subject_id: str
    state: str
    value: float
    threshold: float
    unit: str
    since: datetime


class AlertsOut(BaseModel):
    camera_id: str
    items: list[AlertOut]
    active: list[AlertOut] = Field(description="Alerts raised and not cleared by the end of the range.")


class ZoneOccupancy(BaseModel):
    zone_id: str
    name: str | None
    count: int
    capacity: int | None
    utilisation: float | None = Field(description="count / capacity.")
    density_per_m2: float | None
    max_density_per_m2: float | None
    over_capacity: bool


class OccupancyOut(BaseModel):
    camera_id: str
    at: datetime | None = Field(description="Time of the newest sample (None: no sample stored).")
    zones: list[ZoneOccupancy]


def _checked_camera(
    ctx: ApiContext,
    principal: Principal,
    camera_id: str,
    since: Instant | None = None,
    until: Instant | None = None,
) -> CameraConfig | None:
    """Check scope and time range; return the camera's config (None if it only has stored data).

    Raises:
        AccessDeniedError: the camera is outside the principal's scope.
        InputError: a naive or reversed time range.
        NotFoundError: the camera is neither configured nor has crowd data.
    """
    require(principal, "crowd.read", camera_id)
    if (since is not None and since.tzinfo is None) or (until is not None and until.tzinfo is None):
        raise InputError("since and until need a time zone")
    if since is not None and until is not None and since >= until:
        raise InputError("since must be before until")
    for c in ctx.config.cameras:
        if c.id == camera_id:
            return c
    # Only a camera missing from the config needs the (distinct-camera) query.
    if camera_id in ctx.store.crowd.cameras():
        return None
    raise NotFoundError(f"camera {camera_id!r} is not configured and has no crowd data")


@endpoint(
    router,
    "GET",
    "/cameras/{camera_id}/series",
    action="crowd.read",
    scope="camera",
    example=Example(path={"camera_id": "{camera}"}, query=_RANGE),
)
def series(
    camera_id: CameraPath,
    ctx: Ctx,
    principal: CurrentPrincipal,
    since: Since = None,
    until: Until = None,
    zone_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="One zone ('*': whole frame).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> SeriesOut:
    """People counted per sample in each zone and the whole frame, oldest first."""
    _checked_camera(ctx, principal, camera_id, since, until)
    points = ctx.store.crowd.series(camera_id, since, limit=limit + 1, until=until)
    truncated = len(points) > limit
    grouped: dict[str, ZoneSeries] = defaultdict(lambda: ZoneSeries(zone_id="", at=[], count=[], density_per_m2=[]))
    for p in points[:limit]:
        if zone_id is not None and p.zone_id != zone_id:
            continue
        z = grouped[p.zone_id]
        z.zone_id = p.zone_id
        z.at.append(p.at)
        z.count.append(p.count)
        z.density_per_m2.append(p.density_per_m2)
    zones = sorted(grouped.values(), key=lambda z: (z.zone_id != TOTAL_ZONE, z.zone_id))
    return SeriesOut(
        camera_id=camera_id,
        since=since,
        until=until,
        zones=zones,
        samples=len({p.at for p in points[:limit]}),
        truncated=truncated,
    )


@endpoint(
    router,
    "GET",
    "/cameras/{camera_id}/lines",
    action="crowd.read",
    scope="camera",
    example=Example(path={"camera_id": "{camera}"}, query=_RANGE),
)
def lines(
    camera_id: CameraPath, ctx: Ctx, principal: CurrentPrincipal, since: Since = None, until: Until = None
) -> LinesOut:
    """In/out crossings per counting line over the range."""
    _checked_camera(ctx, principal, camera_id, since, until)
    totals = ctx.store.crowd.line_totals(camera_id, since, until)
    return LinesOut(
        camera_id=camera_id,
        since=since,
        until=until,
        lines=[
            LineOut(line_id=t.line_id, in_count=t.in_count, out_count=t.out_count, net=t.in_count - t.out_count)
            for t in totals
        ],
    )


@endpoint(
    router,
    "GET",
    "/cameras/{camera_id}/alerts",
    action="crowd.read",
    scope="camera",
    example=Example(path={"camera_id": "{camera}"}, query=_RANGE),
)
def alerts(
    camera_id: CameraPath, ctx: Ctx, principal: CurrentPrincipal, since: Since = None, until: Until = None
) -> AlertsOut:
    """Over-capacity, surge and counter-flow alerts (raised and cleared), oldest first."""
    _checked_camera(ctx, principal, camera_id, since, until)
    items = [
        AlertOut(
            at=a.at,
            kind=a.kind,
            subject_type=a.subject_type,
            subject_id=a.subject_id,
            state=a.state,
            value=a.value,
            threshold=a.threshold,
            unit=a.unit,
            since=a.since,
        )
        for a in ctx.store.crowd.alerts(camera_id, since, until)
    ]
    latest: dict[tuple[str, str, str], AlertOut] = {}
    for a in items:
        latest[(a.kind, a.subject_type, a.subject_id)] = a
    return AlertsOut(camera_id=camera_id, items=items, active=[a for a in latest.values() if a.state == "raised"])


@endpoint(
    router,
    "GET",
    "/cameras/{camera_id}/occupancy",
    action="crowd.read",
    scope="camera",
    example=Example(path={"camera_id": "{camera}"}),
)
def occupancy(camera_id: CameraPath, ctx: Ctx, principal: CurrentPrincipal) -> OccupancyOut:
    """The newest count of each zone (and the whole frame, ``*``) against its configured capacity."""
    cam = _checked_camera(ctx, principal, camera_id)
    configured = {z.id: z for z in (cam.zones if cam is not None else ())}
    newest = ctx.store.crowd.latest(camera_id)
    zones: list[ZoneOccupancy] = []
    for p in newest:
        z = configured.get(p.zone_id)
        capacity = z.capacity if z is not None else None
        max_density = z.max_density_per_m2 if z is not None else None
        over = (capacity is not None and p.count > capacity) or (
            max_density is not None and p.density_per_m2 is not None and p.density_per_m2 > max_density
        )
        zones.append(
            ZoneOccupancy(
                zone_id=p.zone_id,
                name=z.name if z is not None else None,
                count=p.count,
                capacity=capacity,
                utilisation=None if capacity is None else round(p.count / capacity, 4),
                density_per_m2=p.density_per_m2,
                max_density_per_m2=max_density,
                over_capacity=over,
            )
        )
    zones.sort(key=lambda z: (z.zone_id != TOTAL_ZONE, z.zone_id))
    return OccupancyOut(camera_id=camera_id, at=newest[0].at if newest else None, zones=zones)


@endpoint(
    router,
    "GET",
    "/cameras/{camera_id}/heatmap.png",
    action="crowd.read",
    scope="camera",
    example=Example(path={"camera_id": "{camera}"}, query=_RANGE),
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "Mean people per sampled frame per grid cell."}},
)
def heatmap(
    camera_id: CameraPath, ctx: Ctx, principal: CurrentPrincipal, since: Since = None, until: Until = None
) -> Response:
    """Occupancy over the range as a PNG: a bare grid (never over a camera frame), aggregate only.
    404 if no occupancy was recorded in the range."""
    _checked_camera(ctx, principal, camera_id, since, until)
    heat = ctx.store.crowd.heatmap(camera_id, since, until)
    if heat is None:
        raise NotFoundError(f"no occupancy recorded for camera {camera_id!r} in this period")
    with tempfile.TemporaryDirectory(prefix="vigil-heatmap-") as tmp:
        out = render_heatmap(
            heat.grid,
            FsPath(tmp) / "heatmap.png",
            title=f"Occupancy, camera {camera_id} ({heat.frames} frames, {heat.periods} periods)",
        )
        data = out.read_bytes()
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-store"})


def router_factory() -> APIRouter:
    """The crowd router (for ``FEATURE_ROUTERS``)."""
    return router
