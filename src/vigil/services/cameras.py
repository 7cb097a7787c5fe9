"""Cameras in an actor's scope, configured or seen, with their latest health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.core.errors import NotFoundError
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.store.crowd import AlertRecord
from vigil.store.records import HealthRecord

STALE_AFTER_S = 30.0
"""Fifteen missed health reports (every 2 s): the process is gone or stuck, not busy."""
LIVE_STATES = frozenset({"starting", "running", "reconnecting", "stalled"})
"""States a camera reports while it is being analysed; only these can go stale."""


def is_stale(state: str, age_s: float, stale_after_s: float = STALE_AFTER_S) -> bool:
    """A camera that claims to be live but has not reported for ``stale_after_s`` (its process was
    killed or hangs). The one rule behind ``vigil status``, the API's ``health.stale`` and the web
    overview and site plan."""
    return state in LIVE_STATES and age_s > stale_after_s


def health_is_stale(h: HealthRecord, now: datetime, stale_after_s: float = STALE_AFTER_S) -> bool:
    """:func:`is_stale` of a stored health report at ``now``."""
    return is_stale(h.state, (now - h.updated_at).total_seconds(), stale_after_s)


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """A camera: from the config (``configured``) or only seen in the store, and its health."""

    camera_id: str
    name: str | None
    configured: bool
    health: HealthRecord | None


def _all(services: Services) -> dict[str, CameraStatus]:
    health = {h.camera_id: h for h in services.store.health.list()}
    out = {c.id: CameraStatus(c.id, c.name, True, health.get(c.id)) for c in services.config.cameras}
    for camera_id, h in health.items():
        out.setdefault(camera_id, CameraStatus(camera_id, None, False, h))
    return out


def in_scope(services: Services, actor: Actor) -> list[CameraStatus]:
    """Cameras in the actor's scope, by id."""
    services.recorder(actor).allow("cameras.read")
    return [c for camera_id, c in sorted(_all(services).items()) if actor.sees(camera_id)]


def one(services: Services, actor: Actor, camera_id: str) -> CameraStatus:
    """One camera in the actor's scope.

    Raises:
        AccessDeniedError: out of scope (recorded).
        NotFoundError: neither configured nor seen.
    """
    services.recorder(actor).allow("cameras.read", camera_id=camera_id, object_type="camera", object_id=camera_id)
    camera = _all(services).get(camera_id)
    if camera is None:
        raise NotFoundError(f"no camera {camera_id!r}")
    return camera


OPEN_ALERT_WINDOW_H = 24.0
"""How far back an alert transition is looked for: one raised longer ago and never cleared is
stale news, not an open alert on the site plan."""


def open_crowd_alerts(
    services: Services, actor: Actor, camera_ids: list[str], now: datetime, window_h: float = OPEN_ALERT_WINDOW_H
) -> dict[str, list[AlertRecord]]:
    """Crowd alerts still raised (their latest transition within ``window_h`` is ``raised``), by
    camera, for the cameras in ``camera_ids`` that ``actor`` may read crowd data of (counts and
    thresholds only: no personal data, so not recorded)."""
    if not actor.can("crowd.read"):
        return {}
    out: dict[str, list[AlertRecord]] = {}
    for camera_id in camera_ids:
        if not actor.sees(camera_id):
            continue
        latest: dict[tuple[str, str, str], AlertRecord] = {}
        for a in services.store.crowd.alerts(camera_id, since=now - timedelta(hours=window_h)):
            latest[(a.kind, a.subject_type, a.subject_id)] = a  # oldest first: the last one wins
        raised = [a for a in latest.values() if a.state == "raised"]
        if raised:
            out[camera_id] = raised
    return out
