"""API test support: a real SQLite store with two cameras' data, one user per role (scoped to
``cam-a``), their API tokens, and a TestClient over the app."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from vigil.api import ApiContext
from vigil.config import CameraConfig, VigilConfig
from vigil.config.governance import AuthConfig, GovernanceConfig
from vigil.events import BoundingBox, CandidateRaised, TrackEnded, TrackStarted
from vigil.governance.auth import principal_of
from vigil.governance.roles import ROLES
from vigil.server import create_app
from vigil.store import Store
from vigil.store.media import snapshot_path

# Starlette 1.x warns when its TestClient runs on httpx instead of httpx2 (not installed here);
# the client works the same. Silence only that warning, only for this import.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

CAMERAS = ("cam-a", "cam-b")
PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

SYNTHETIC = "synthetic test image (random pixels, no face)"


@dataclass(frozen=True)
class Seeded:
    """Ids of one camera's objects."""

    camera: str
    event: str
    track: str
    candidate: str
    snapshot: str
    probe: str


def make_config(tmp_path: Path, **governance: object) -> VigilConfig:
    cheap = AuthConfig(argon2_time_cost=1, argon2_memory_kib=1024)
    return VigilConfig(
        data_dir=tmp_path / "data",
        cameras=tuple(CameraConfig(id=c, url=f"file:///dev/null/{c}") for c in CAMERAS),
        governance=GovernanceConfig(auth=cheap, **governance),  # type: ignore[arg-type]
    )


def seed_camera(store: Store, media_root: Path, camera: str, when: datetime = T0) -> Seeded:
    from vigil.store.media import MediaStore

    media = MediaStore(media_root)
    rng = np.random.default_rng(len(camera))
    image = rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)
    track_id = f"{camera}-run-1"
    start = TrackStarted(
        camera_id=camera,
        occurred_at=when,
        track_id=track_id,
        class_name="person",
        box=BoundingBox(x1=0, y1=0, x2=10, y2=20),
        confidence=0.9,
        frame_index=0,
    )
    snap = media.save_jpeg(snapshot_path(camera, start.event_id, when), image, keep_faces=SYNTHETIC)
    end = TrackEnded(
        camera_id=camera,
        occurred_at=when + timedelta(seconds=5),
        track_id=track_id,
        class_name="person",
        box=BoundingBox(x1=0, y1=0, x2=10, y2=20),
        confidence=0.9,
        frame_index=10,
        first_seen=when,
        last_seen=when + timedelta(seconds=5),
        n_observations=10,
        best_confidence=0.9,
        snapshot=snap,
    )
    probe = media.save_jpeg(f"crops/{camera}/probe-{start.event_id}.jpg", image[:32, :32], keep_faces=SYNTHETIC)
    cand = CandidateRaised(
        camera_id=camera,
        occurred_at=when + timedelta(seconds=2),
        kind="face",
        list_entry_id="subject-1",
        track_id=track_id,
        score=0.7,
        threshold=0.5,
        false_match_rate=0.001,
        probe_media=probe,
    )
    store.events.add_many([start, end, cand])
    return Seeded(camera, start.event_id, track_id, cand.event_id, snap, probe)


def seed_faces(store: Store, media_root: Path, data_dir: Path) -> None:
    """Watchlist examples: ``subject-1`` (the seeded candidates' subject) and ``subject-2`` (removed
    by the matrix), a synthetic reference image each; calibrations ``cal-0`` (older) and ``cal-1``
    (active, with a report directory)."""
    import cv2

    from vigil.core.accountability import Authorisation
    from vigil.store.faces import CalibrationRecord, NewReference
    from vigil.store.media import MediaStore

    media = MediaStore(media_root)
    rng = np.random.default_rng(7)
    now = datetime.now(UTC)
    for sid in ("subject-1", "subject-2"):
        emb = rng.normal(size=128).astype(np.float32)
        ref = NewReference(
            source_name=f"{sid}.jpg",
            image=rng.integers(0, 255, (64, 48, 3), dtype=np.uint8),
            embedding=emb / np.linalg.norm(emb),
            provenance="synthetic test image",
            face_px=40.0,
            detector_score=0.9,
        )
        store.faces.enrol(
            subject_id=sid,
            display_name=f"Test {sid}",
            authorisation=Authorisation("TEST-WARRANT-1", "Sam Supervisor", "test", now + timedelta(days=30)),
            references=[ref],
            embedder="sface",
            media=media,
            max_expiry_days=180,
            cap=1000,
        )
    for i, threshold in enumerate((0.42, 0.40)):
        cal = CalibrationRecord(
            calibration_id=f"cal-{i}",
            created_at=now - timedelta(days=2 - i),
            dataset="synthetic",
            embedder="sface",
            n_images=61,
            n_no_face=0,
            n_genuine=140,
            n_impostor=1690,
            eer=0.0,
            target_fmr=1e-2,
            measured_fmr=0.0095,
            threshold=threshold,
            tar=1.0,
            set_by="test",
            supervisor=None,
            active=True,
        )
        store.faces.set_calibration(cal, floor=0.3)
    report = data_dir / "reports" / "calibration-cal-1"
    report.mkdir(parents=True, exist_ok=True)
    png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    (report / "roc.png").write_bytes(png)
    (report / "histograms.png").write_bytes(png)
    (report / "report.md").write_text("| target FMR | threshold |\n|---|---|\n| 1e-2 | 0.4000 |\n", encoding="utf-8")


def seed_plates(store: Store, media_root: Path) -> None:
    """Plates examples: hotlist entries ``hotlist-1`` (ABC1234) and ``hotlist-2`` (XYZ9876, removed
    by the matrix); a non-hit read ``plate-read-<camera>`` of ABC1234 with a crop at each camera,
    an hour old (within the default 24 h retention)."""
    from vigil.core.accountability import Authorisation
    from vigil.events.plates import PlateReadEvent
    from vigil.store.media import MediaStore
    from vigil.store.plates import NewHotlistEntry

    media = MediaStore(media_root)
    now = datetime.now(UTC)
    auth = Authorisation("TEST-WARRANT-9", "Sam Supervisor", "test", now + timedelta(days=30))
    store.plates.add_entries(
        [
            NewHotlistEntry("ABC1234", auth, entry_id="hotlist-1"),
            NewHotlistEntry("XYZ9876", auth, entry_id="hotlist-2"),
        ],
        max_days=365,
    )
    rng = np.random.default_rng(11)
    reads = []
    for camera in CAMERAS:
        read_id = f"plate-read-{camera}"
        crop = media.save_jpeg(
            f"plates/{camera}/{read_id}.jpg", rng.integers(0, 255, (24, 96, 3), dtype=np.uint8), keep_faces=SYNTHETIC
        )
        reads.append(
            PlateReadEvent(
                event_id=read_id,
                camera_id=camera,
                occurred_at=now - timedelta(hours=1),
                plate="ABC1234",
                confidence=0.93,
                region="us",
                n_reads=3,
                crop=crop,
            )
        )
    store.events.add_many(reads)


def seed_crowd(store: Store, when: datetime = T0) -> None:
    """Crowd examples at each camera around ``when``: two samples (whole frame and zone ``platform``),
    line ``entry`` counts, an over-capacity alert raised, and a 4x3 heatmap period."""
    from vigil.events.crowd import CrowdAlert, CrowdHeatmap, CrowdLineCounts, CrowdZoneCount, LineCount, ZoneCount

    events: list[CrowdZoneCount | CrowdLineCounts | CrowdAlert | CrowdHeatmap] = []
    for camera in CAMERAS:
        for i, (total, zone) in enumerate(((12, 5), (20, 9))):
            events.append(
                CrowdZoneCount(
                    camera_id=camera,
                    occurred_at=when + timedelta(seconds=5 * i),
                    total=ZoneCount(zone_id="*", count=total, detection_count=total, method="detection"),
                    zones=(
                        ZoneCount(
                            zone_id="platform",
                            count=zone,
                            detection_count=zone,
                            method="detection",
                            density_per_m2=zone / 40,
                        ),
                    ),
                )
            )
        events.append(
            CrowdLineCounts(
                camera_id=camera,
                occurred_at=when + timedelta(seconds=60),
                period_start=when,
                lines=(LineCount(line_id="entry", in_count=7, out_count=2),),
            )
        )
        events.append(
            CrowdAlert(
                camera_id=camera,
                occurred_at=when + timedelta(seconds=5),
                kind="over_capacity",
                subject_type="zone",
                subject_id="platform",
                state="raised",
                value=9,
                threshold=8,
                unit="people",
                since=when,
            )
        )
        events.append(
            CrowdHeatmap(
                camera_id=camera,
                occurred_at=when + timedelta(seconds=300),
                period_start=when,
                cols=4,
                rows=3,
                frames=2,
                frame_width=768,
                frame_height=432,
                cells=(0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 1, 1),
            )
        )
    store.events.add_many(events)


@dataclass
class Env:
    ctx: ApiContext
    client: TestClient
    tokens: dict[str, str]
    seeded: dict[str, Seeded]
    root_token: str
    second_root_token: str = ""

    @property
    def store(self) -> Store:
        return self.ctx.store

    def as_role(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    @property
    def root(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.root_token}"}

    @property
    def second_root(self) -> dict[str, str]:
        """A second unscoped admin account: a face candidate needs two accounts' confirmations."""
        return {"Authorization": f"Bearer {self.second_root_token}"}


def build_env(tmp_path: Path, store: Store, **governance: object) -> Iterator[Env]:
    cfg = make_config(tmp_path, **governance)
    ctx = ApiContext.build(cfg, store, poll_alerts=False)
    seeded = {c: seed_camera(store, ctx.media.root, c) for c in CAMERAS}
    seed_faces(store, ctx.media.root, cfg.data_dir)
    seed_plates(store, ctx.media.root)
    seed_crowd(store)
    tokens: dict[str, str] = {}
    for role in ROLES:
        user = ctx.auth.add_user(f"{role}-a", PASSWORD, role, ("cam-a",), actor="test")
        tokens[role] = ctx.auth.issue_token(principal_of(user, "session"), "test", 1)[0]
    root = ctx.auth.add_user("root", PASSWORD, "admin", None, actor="test")
    root_token = ctx.auth.issue_token(principal_of(root, "session"), "test", 1)[0]
    root2 = ctx.auth.add_user("root-2", PASSWORD, "admin", None, actor="test")
    root2_token = ctx.auth.issue_token(principal_of(root2, "session"), "test", 1)[0]
    with TestClient(create_app(ctx)) as client:
        yield Env(ctx, client, tokens, seeded, root_token, root2_token)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def replica(cfg: VigilConfig, url: str) -> Iterator[str]:
    """One API server as ``vigil serve`` runs it (its own store connection, app and loopback
    socket; several on one database are replicas behind a load balancer). Yields its base URL."""
    import threading
    import time

    import uvicorn

    from vigil.server import server_config

    with Store.open(url) as store:
        app = create_app(ApiContext.build(cfg, store, poll_alerts=False))
        server = uvicorn.Server(server_config(app, "127.0.0.1", _free_port(), timeout_graceful_shutdown=1))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        try:
            yield f"http://127.0.0.1:{server.config.port}"
        finally:
            server.should_exit = True
            thread.join(10)
