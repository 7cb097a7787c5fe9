"""A deployment for the browser tests: real pipeline output (an enrolled face found in a
constructed clip at two cameras), crowd counts and plate reads as the features store them, one
user per role, and a real uvicorn server on a loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import uvicorn

from vigil.api import ApiContext
from vigil.cli.faces_cmd import compose_demo_clip, enrol_subject
from vigil.config import CameraConfig, Position, VigilConfig
from vigil.config.candidates import CandidatesConfig
from vigil.config.crowd import LineConfig, ZoneConfig
from vigil.config.faces import FacesConfig
from vigil.config.governance import AuthConfig, GovernanceConfig
from vigil.core.accountability import Authorisation
from vigil.core.clock import utcnow
from vigil.core.ids import new_id
from vigil.events.crowd import CrowdAlert, CrowdHeatmap, CrowdLineCounts, CrowdZoneCount, LineCount, ZoneCount
from vigil.events.plates import PlateReadEvent
from vigil.governance.roles import ROLES
from vigil.server import create_app, server_config
from vigil.store.facade import Store
from vigil.store.faces import CalibrationRecord
from vigil.store.plates import NewHotlistEntry
from vigil.workers.analyze import analyze_recording

REPO = Path(__file__).resolve().parents[2]
PORTRAIT = REPO / "samples" / "faces" / "astronaut.jpg"
PASSWORD = "correct horse battery"
SUBJECT = "astro"
# Two cameras ~1.3 km apart: a sighting at both within minutes is impossible travel on foot (the
# site's limit is 10 km/h, 7.8 min for 1.3 km). The second camera's sighting is stamped when its
# recording was opened, after the first one's analysis ended: minutes apart on a loaded CI box.
ENTRANCE = CameraConfig(
    id="cam-a", name="Main entrance", url="cam-a.mp4", position=Position(lat=51.50720, lon=-0.12760)
)
CAR_PARK = CameraConfig(id="cam-b", name="Car park", url="cam-b.mp4", position=Position(lat=51.51500, lon=-0.14150))
CONCOURSE = CameraConfig(
    id="cam-c",
    name="Concourse",
    url="cam-c.mp4",
    position=Position(lat=51.51020, lon=-0.13300),
    zones=(
        ZoneConfig(id="north", name="North hall", polygon=((40, 40), (600, 40), (600, 420), (40, 420)), capacity=40),
        ZoneConfig(
            id="south", name="South hall", polygon=((680, 300), (1240, 300), (1240, 680), (680, 680)), capacity=25
        ),
    ),
    lines=(LineConfig(id="gate", name="Gate", start=(640, 80), end=(640, 660)),),
)


def users() -> dict[str, str]:
    """Role → user name (two operators for the two-person rule)."""
    return {role: f"{role}-1" for role in ROLES}


def make_config(root: Path, models_dir: Path) -> VigilConfig:
    return VigilConfig(
        data_dir=root / "data",
        models_dir=models_dir,
        cameras=(ENTRANCE, CAR_PARK, CONCOURSE),
        candidates=CandidatesConfig(required_confirmations=2),
        faces=FacesConfig(max_travel_speed_kmh=10.0),
        governance=GovernanceConfig(auth=AuthConfig(argon2_time_cost=1, argon2_memory_kib=1024)),
    )


def seed(cfg: VigilConfig, store: Store) -> None:
    """Enrol the subject, calibrate, run the real faces pipeline at two cameras, add crowd and plates."""
    auth = Authorisation("WARRANT-42 (test)", "Sam Supervisor", "Olu Operator", utcnow() + timedelta(days=10))
    record = enrol_subject(cfg, store, subject_id=SUBJECT, display_name="Eileen Collins", images=[PORTRAIT],
                  provenance=["NASA portrait, public domain"], authorisation=auth)  # fmt: skip
    store.faces.set_calibration(
        CalibrationRecord(
            calibration_id=new_id(), created_at=utcnow(), dataset="deepface (61 images)",
            embedder=record.references[0].embedder,
            n_images=61, n_no_face=0, n_genuine=140, n_impostor=1690, eer=0.0, target_fmr=1e-3,
            measured_fmr=5.9e-4, threshold=0.403, tar=1.0, set_by="Sam Supervisor", supervisor=None, active=True,
        ),
        floor=cfg.faces.threshold_floor,
    )  # fmt: skip
    clips = cfg.data_dir.parent / "clips"
    clip_a = compose_demo_clip(PORTRAIT, REPO / "samples" / "people.mp4", clips / "cam-a.mp4")
    analyze_recording(clip_a, cfg, features=frozenset({"faces"}))
    clip_b = clips / "cam-b.mp4"
    clip_b.write_bytes(clip_a.read_bytes())
    car_park_first = cfg.model_copy(update={"cameras": (CAR_PARK, ENTRANCE, CONCOURSE)})
    analyze_recording(clip_b, car_park_first, features=frozenset({"faces"}))
    _seed_crowd(store)
    _seed_plates(cfg, store)


def _seed_crowd(store: Store) -> None:
    now = utcnow()
    events: list[object] = []
    rng = np.random.default_rng(7)
    for i in range(60):
        at = now - timedelta(minutes=60 - i)
        north = int(20 + 18 * np.sin(i / 9) + rng.integers(0, 4))
        south = int(10 + i / 3 + rng.integers(0, 3))
        events.append(CrowdZoneCount(
            camera_id="cam-c", occurred_at=at,
            total=ZoneCount(zone_id="*", count=north + south, detection_count=north + south, method="detection"),
            zones=(ZoneCount(zone_id="north", count=north, detection_count=north, method="detection"),
                   ZoneCount(zone_id="south", count=south, detection_count=south, method="detection")),
        ))  # fmt: skip
    cols, rows = 32, 18
    yy, xx = np.mgrid[0:rows, 0:cols]
    cells = 40 * np.exp(-((xx - 9) ** 2 + (yy - 6) ** 2) / 30) + 25 * np.exp(-((xx - 24) ** 2 + (yy - 13) ** 2) / 20)
    events.append(CrowdHeatmap(
        camera_id="cam-c", occurred_at=now - timedelta(minutes=1), period_start=now - timedelta(minutes=6),
        cols=cols, rows=rows, frames=60, frame_width=1280, frame_height=720,
        cells=tuple(int(v) for v in cells.ravel()),
    ))  # fmt: skip
    events.append(CrowdLineCounts(camera_id="cam-c", occurred_at=now - timedelta(minutes=1),
                                  period_start=now - timedelta(minutes=6),
                                  lines=(LineCount(line_id="gate", in_count=143, out_count=97),)))  # fmt: skip
    events.append(CrowdAlert(camera_id="cam-c", occurred_at=now - timedelta(minutes=20), kind="over_capacity",
                             subject_type="zone", subject_id="north", state="raised", value=41, threshold=40,
                             unit="people", since=now - timedelta(minutes=21)))  # fmt: skip
    store.events.add_many(events)  # type: ignore[arg-type]


def _seed_plates(cfg: VigilConfig, store: Store) -> None:
    auth = Authorisation("Stolen vehicle report SV-8812", "Sam Supervisor", "Olu Operator",
                         utcnow() + timedelta(days=5))  # fmt: skip
    store.plates.add_entries([NewHotlistEntry("AB12CDE", auth, "silver hatchback")],
                             max_days=cfg.plates.max_hotlist_days)  # fmt: skip
    now = utcnow()
    store.events.add_many([
        PlateReadEvent(camera_id="cam-b", occurred_at=now - timedelta(minutes=m), plate="AB12CDE",
                       confidence=0.91, region="gb", n_reads=3, hit=True)
        for m in (5, 42)
    ])  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Live:
    base: str
    cfg: VigilConfig
    store: Store
    users: dict[str, str]


@contextmanager
def serve(cfg: VigilConfig, store: Store) -> Iterator[Live]:
    """Users for every role, then the app on a real uvicorn server in a thread."""
    ctx = ApiContext.build(cfg, store)
    names = users()
    for role, name in names.items():
        ctx.auth.add_user(name, PASSWORD, role, None, actor="test")
    ctx.auth.add_user("operator-2", PASSWORD, "operator", None, actor="test")
    ctx.auth.add_user("scoped-viewer", PASSWORD, "viewer", ("cam-c",), actor="test")
    port = free_port()
    config = server_config(create_app(ctx), "127.0.0.1", port, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield Live(f"http://127.0.0.1:{port}", cfg, store, names)
    finally:
        server.should_exit = True
        thread.join(10)
