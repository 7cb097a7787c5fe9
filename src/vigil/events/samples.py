"""Small event factories for tests and demos (no I/O, deterministic when given a start time)."""

from __future__ import annotations

from datetime import datetime, timedelta

from vigil.core.clock import utcnow
from vigil.events.models import (
    BoundingBox,
    CameraHealth,
    CameraState,
    TrackEnded,
    TrackEvent,
    TrackStarted,
    TrackUpdated,
)

_BOX = BoundingBox(x1=10.0, y1=20.0, x2=110.0, y2=220.0)


def track_lifecycle(
    *,
    camera_id: str = "cam-1",
    track_id: str = "cam-1-run-1",
    class_name: str = "person",
    n_updates: int = 2,
    start: datetime | None = None,
    step: timedelta = timedelta(seconds=1),
    snapshot: str | None = None,
) -> list[TrackEvent]:
    """``track.started``, ``n_updates`` x ``track.updated``, ``track.ended``, ``step`` apart.

    Confidence rises 0.5, 0.6, ... so ``best_confidence`` is the last observation's.
    """
    t0 = start if start is not None else utcnow()
    n = n_updates + 1
    events: list[TrackEvent] = [
        TrackStarted(
            occurred_at=t0,
            confidence=0.5,
            frame_index=0,
            camera_id=camera_id,
            track_id=track_id,
            class_name=class_name,
            box=_BOX,
        )
    ]
    for i in range(1, n):
        events.append(
            TrackUpdated(
                occurred_at=t0 + i * step,
                confidence=min(1.0, 0.5 + 0.1 * i),
                frame_index=i,
                camera_id=camera_id,
                track_id=track_id,
                class_name=class_name,
                box=_BOX,
            )
        )
    last = t0 + (n - 1) * step
    events.append(
        TrackEnded(
            occurred_at=last + step,
            confidence=min(1.0, 0.5 + 0.1 * (n - 1)),
            frame_index=n - 1,
            first_seen=t0,
            last_seen=last,
            n_observations=n,
            best_confidence=min(1.0, 0.5 + 0.1 * (n - 1)),
            snapshot=snapshot,
            camera_id=camera_id,
            track_id=track_id,
            class_name=class_name,
            box=_BOX,
        )
    )
    return events


def camera_health(
    *,
    camera_id: str = "cam-1",
    occurred_at: datetime | None = None,
    frames_in: int = 100,
    state: CameraState = "running",
    last_error: str | None = None,
) -> CameraHealth:
    """A ``camera.health`` snapshot with plausible counters."""
    return CameraHealth(
        camera_id=camera_id,
        occurred_at=occurred_at if occurred_at is not None else utcnow(),
        frames_in=frames_in,
        frames_analysed=frames_in // 2,
        frames_dropped=frames_in - frames_in // 2,
        reconnects=0,
        last_error=last_error,
        state=state,
        analysed_fps=5.0,
    )
