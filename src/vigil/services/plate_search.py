"""Plate search: the reads of one plate within retention, by whichever door asks.

A plate lookup follows a vehicle, so it is a search of personal data: it needs the
``plates.search`` role, a camera in scope (camera-scoped accounts must name one), and a reason;
it is recorded as ``plates.search`` with one detail shape (``results``, ``since``, ``until``,
``truncated``) whether the API, the web UI or the CLI asked. Reads that hit a hotlist are kept
with their candidate; other reads only for ``plates.retention_hours``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigil.core.errors import InputError
from vigil.plates.text import parse_plate
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.services.rules import need_reason, search_camera, time_range
from vigil.store.plates import PlateReadRecord

ACTION = "plates.search"
MAX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class PlateSearch:
    """The answer: the normalised plate, the camera filter, the reads (newest first) and whether
    more matched than ``limit``."""

    plate: str
    camera_id: str | None
    retention_hours: float
    reads: tuple[PlateReadRecord, ...]
    truncated: bool


def search(
    services: Services,
    actor: Actor,
    plate: str,
    *,
    reason: str | None,
    camera_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> PlateSearch:
    """Reads of ``plate`` (spaces and dashes ignored) within retention, newest first.

    Raises:
        AccessDeniedError: the role may not search plates, or ``camera_id`` is out of scope
            (recorded as ``access.denied``).
        CameraRequiredError: a camera-scoped actor named no camera.
        ReasonRequiredError: no reason, or too short a one.
        InputError: an unreadable plate, a bound without a time zone, an empty window, or a
            ``limit`` outside 1..10000.
    """
    recorder = services.recorder(actor)
    camera = search_camera(recorder, ACTION, camera_id, object_type="plate", object_id=plate[:32])
    why = need_reason(services.config, reason, "a plate search")
    wanted = parse_plate(plate)
    time_range(since, until)
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit {limit} is outside 1..{MAX_LIMIT}")
    hours = services.config.plates.retention_hours
    found = services.store.plates.search(
        wanted, retention_hours=hours, since=since, until=until, camera_id=camera, limit=limit + 1
    )
    reads = [r for r in found if actor.sees(r.camera_id)]
    result = PlateSearch(wanted, camera, hours, tuple(reads[:limit]), len(reads) > limit)
    recorder.read(
        ACTION,
        object_type="plate",
        object_id=wanted,
        camera_id=camera,
        reason=why,
        results=len(result.reads),
        truncated=result.truncated,
        since=None if since is None else since.isoformat(),
        until=None if until is None else until.isoformat(),
    )
    return result
