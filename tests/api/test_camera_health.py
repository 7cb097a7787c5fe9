"""Hole 6 in the API: a camera whose process died shows as stale, by the same rule as `vigil status`."""

from __future__ import annotations

from datetime import timedelta

from api_support import Env

from vigil.core.clock import utcnow
from vigil.events.samples import camera_health


def _health(env: Env, camera_id: str) -> dict[str, object]:
    r = env.client.get(f"/api/cameras/{camera_id}", headers=env.root)
    assert r.status_code == 200, r.text
    health = r.json()["health"]
    assert isinstance(health, dict)
    return health


def test_a_camera_silent_while_running_is_stale_and_an_ended_one_is_not(env: Env) -> None:
    # cam-a "running" but last heard 5 minutes ago: its run was killed (kill -9) or hangs.
    env.store.health.upsert(camera_health(camera_id="cam-a", occurred_at=utcnow() - timedelta(minutes=5)))
    # cam-b reported just now.
    env.store.health.upsert(camera_health(camera_id="cam-b"))
    a, b = _health(env, "cam-a"), _health(env, "cam-b")
    assert a["state"] == "running" and a["stale"] is True and float(str(a["age_s"])) >= 299
    assert b["state"] == "running" and b["stale"] is False and float(str(b["age_s"])) < 30

    # A camera that stopped cleanly is not stale however old its last report: it is not live.
    env.store.health.upsert(
        camera_health(camera_id="cam-a", occurred_at=utcnow() - timedelta(minutes=4), state="stopped")
    )
    a = _health(env, "cam-a")
    assert a["state"] == "stopped" and a["stale"] is False

    listed = {c["camera_id"]: c["health"]["stale"] for c in env.client.get("/api/cameras", headers=env.root).json()}
    assert listed == {"cam-a": False, "cam-b": False}
