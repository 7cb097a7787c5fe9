"""Crowd over HTTP on a real SQLite store: series, line counts, alerts, occupancy against capacity
and the heatmap PNG, camera-scoped (rows seeded by ``api_support.seed_crowd`` at 2026-11-01 12:00)."""

from __future__ import annotations

import cv2
import numpy as np
from api_support import Env

from vigil.config.crowd import ZoneConfig

RANGE = {"since": "2026-11-01T00:00:00Z", "until": "2026-11-02T00:00:00Z"}


def test_series_by_zone_within_a_time_range(env: Env) -> None:
    viewer = env.as_role("viewer")
    r = env.client.get("/api/crowd/cameras/cam-a/series", params=RANGE, headers=viewer)
    assert r.status_code == 200, r.text
    out = r.json()
    assert [z["zone_id"] for z in out["zones"]] == ["*", "platform"]
    assert out["zones"][0]["count"] == [12, 20] and out["zones"][1]["count"] == [5, 9]
    assert out["zones"][1]["density_per_m2"] == [0.125, 0.225] and out["samples"] == 2 and not out["truncated"]

    narrow = {"since": "2026-11-01T12:00:01Z", "until": "2026-11-01T13:00:00Z", "zone_id": "platform"}
    one = env.client.get("/api/crowd/cameras/cam-a/series", params=narrow, headers=viewer).json()
    assert [(z["zone_id"], z["count"]) for z in one["zones"]] == [("platform", [9])]
    later = env.client.get(
        "/api/crowd/cameras/cam-a/series", params={"since": "2026-11-02T00:00:00Z"}, headers=viewer
    ).json()
    assert later["zones"] == [] and later["samples"] == 0
    truncated = env.client.get("/api/crowd/cameras/cam-a/series", params={"limit": 3}, headers=viewer).json()
    assert truncated["truncated"]


def test_bad_ranges_and_unknown_cameras_are_4xx(env: Env) -> None:
    for params in (
        {"since": "2026-11-01T00:00:00"},
        {"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
    ):
        r = env.client.get("/api/crowd/cameras/cam-a/series", params=params, headers=env.root)
        assert r.status_code == 400 and r.json()["error"] == "invalid_input", r.text
    r = env.client.get("/api/crowd/cameras/nowhere/series", headers=env.root)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = env.client.get("/api/crowd/cameras/cam-a/series", params={"since": "yesterday"}, headers=env.root)
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


def test_lines_alerts_and_occupancy(env: Env) -> None:
    viewer = env.as_role("viewer")
    lines = env.client.get("/api/crowd/cameras/cam-a/lines", params=RANGE, headers=viewer).json()
    assert lines["lines"] == [{"line_id": "entry", "in_count": 7, "out_count": 2, "net": 5}]
    alerts = env.client.get("/api/crowd/cameras/cam-a/alerts", params=RANGE, headers=viewer).json()
    assert [(a["kind"], a["subject_id"], a["state"]) for a in alerts["items"]] == [
        ("over_capacity", "platform", "raised")
    ]
    assert len(alerts["active"]) == 1

    cams = tuple(
        c.model_copy(update={"zones": (ZoneConfig(id="platform", polygon=((0, 0), (10, 0), (10, 10)), capacity=8),)})
        if c.id == "cam-a"
        else c
        for c in env.ctx.config.cameras
    )
    env.ctx.config = env.ctx.config.model_copy(update={"cameras": cams})
    occ = env.client.get("/api/crowd/cameras/cam-a/occupancy", headers=viewer)
    assert occ.status_code == 200, occ.text
    zones = {z["zone_id"]: z for z in occ.json()["zones"]}
    assert occ.json()["at"].startswith("2026-11-01T12:00:05")
    assert zones["platform"]["count"] == 9 and zones["platform"]["capacity"] == 8
    assert zones["platform"]["over_capacity"] and zones["platform"]["utilisation"] == 1.125
    assert zones["*"]["capacity"] is None and not zones["*"]["over_capacity"]


def test_heatmap_png_is_aggregate_and_camera_scoped(env: Env) -> None:
    r = env.client.get("/api/crowd/cameras/cam-a/heatmap.png", params=RANGE, headers=env.as_role("viewer"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[0] > 100
    none = env.client.get(
        "/api/crowd/cameras/cam-a/heatmap.png", params={"since": "2026-11-05T00:00:00Z"}, headers=env.root
    )
    assert none.status_code == 404 and none.json()["error"] == "not_found"
    # scoped to cam-a: cam-b is refused; auditors read crowd only through reports
    r = env.client.get("/api/crowd/cameras/cam-b/heatmap.png", headers=env.as_role("viewer"))
    assert r.status_code == 403 and r.json()["error"] == "out_of_scope"
    r = env.client.get("/api/crowd/cameras/cam-a/series", headers=env.as_role("auditor"))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    # crowd reads are aggregate: no personal data, no audit record per read
    assert not [a for a in env.store.governance.audit.list(limit=1000) if a.action.startswith("crowd")]
