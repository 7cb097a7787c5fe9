"""Media in JetStream's Object Store: a worker's snapshot is served by every API replica, and
retention through one replica removes it from all (real NATS, PostgreSQL, uvicorn replicas)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from scale_rig import api_replica, wait_for

from vigil.api import ApiContext
from vigil.bus.connection import NatsConnection, NatsSettings
from vigil.bus.objects import LazyMediaBucket, MediaBucket
from vigil.config import CameraConfig, VigilConfig
from vigil.config.governance import AuthConfig, GovernanceConfig
from vigil.deploy.nats_server import NatsCluster, free_port
from vigil.events import BoundingBox, TrackEnded, TrackStarted
from vigil.governance.auth import principal_of
from vigil.store import Store
from vigil.store.media import snapshot_path
from vigil.workers.shared_media import SharedMediaStore, shared_media

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

SYNTHETIC = "synthetic test image (random pixels, no face)"


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (64, 48, 3), dtype=np.uint8)


def _cfg(tmp: Path, name: str, urls: tuple[str, ...], db: str) -> VigilConfig:
    return VigilConfig.model_validate(
        {
            "data_dir": tmp / name,  # each replica its own machine: its own disk
            "bus": {"type": "nats"},
            "store": {"url": db},
            "scale": {"nats": {"servers": list(urls)}},
            "cameras": [CameraConfig(id="gate-1", url="rtsp://127.0.0.1:9/gate-1")],
            "governance": GovernanceConfig(auth=AuthConfig(argon2_time_cost=1, argon2_memory_kib=1024)),
        }
    )


def test_a_workers_snapshot_is_served_by_every_replica_and_retention_removes_it_everywhere(
    nats_node: NatsCluster, pg_db: str, tmp_path: Path
) -> None:
    db = pg_db.replace("postgresql://", "postgresql+psycopg://", 1)
    conn = NatsConnection(NatsSettings(servers=nats_node.urls))
    try:
        # The worker: writes as the embedded mode does, uploads in the background, unstages.
        worker_root = tmp_path / "worker" / "media"
        leftover = worker_root / "crops" / "gate-1" / "left-by-a-killed-run.jpg"
        leftover.parent.mkdir(parents=True)
        leftover.write_bytes(b"\xff\xd8 staged, never uploaded")
        media, uploader = shared_media(worker_root, tmp_path / "worker" / "cache", MediaBucket(conn), None)
        wait_for(lambda: not leftover.exists(), 20, "the previous run's staged file to be uploaded")
        assert MediaBucket(conn).get("crops/gate-1/left-by-a-killed-run.jpg") == b"\xff\xd8 staged, never uploaded"
        when = datetime.now(UTC) - timedelta(minutes=1)
        start = TrackStarted(
            camera_id="gate-1",
            occurred_at=when,
            track_id="gate-1-t1",
            class_name="person",
            box=BoundingBox(x1=0, y1=0, x2=10, y2=20),
            confidence=0.9,
            frame_index=0,
        )
        rel = media.save_jpeg(snapshot_path("gate-1", start.event_id, when), _image(1), keep_faces=SYNTHETIC)
        staged = worker_root / rel
        wait_for(lambda: not staged.exists(), 20, "the worker to upload and unstage its snapshot")
        assert uploader.stats.uploaded == 2
        uploader.close()
        jpeg = MediaBucket(conn).get(rel)
        assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
        end = TrackEnded(
            camera_id="gate-1",
            occurred_at=when + timedelta(seconds=5),
            track_id="gate-1-t1",
            class_name="person",
            box=BoundingBox(x1=0, y1=0, x2=10, y2=20),
            confidence=0.9,
            frame_index=10,
            first_seen=when,
            last_seen=when + timedelta(seconds=5),
            n_observations=10,
            best_confidence=0.9,
            snapshot=rel,
        )
        cfg1, cfg2 = (_cfg(tmp_path, n, nats_node.urls, db) for n in ("api-1", "api-2"))
        with Store.open(db) as store:
            store.events.add_many([start, end])  # as the indexer stores them
            ctx = ApiContext.build(cfg1, store, poll_alerts=False)
            assert isinstance(ctx.media, SharedMediaStore)
            admin = ctx.auth.add_user("root", "correct horse battery", "admin", None, actor="test")
            token = ctx.auth.issue_token(principal_of(admin, "session"), "test", 1)[0]
            ctx.close_connections()
        auth = {"Authorization": f"Bearer {token}"}
        with api_replica(cfg1, db) as api1, api_replica(cfg2, db) as api2:
            for base in (api1, api2):  # neither replica's disk ever had the file
                r = httpx.get(f"{base}/api/media/{rel}", headers=auth, timeout=30)
                assert r.status_code == 200, r.text
                assert r.content == jpeg
            assert (tmp_path / "api-2" / "media-cache" / rel).is_file()

            # Retention, run from replica 1's machine: the object goes, replica 2's cache too.
            with Store.open(db) as store:
                ctx1 = ApiContext.build(cfg1, store, poll_alerts=False)
                try:
                    assert ctx1.media.delete(rel) is True
                finally:
                    ctx1.close_connections()
            r = httpx.get(f"{api2}/api/media/{rel}", headers=auth, timeout=30)
            assert r.status_code == 404, r.text
            assert not (tmp_path / "api-2" / "media-cache" / rel).exists()
    finally:
        conn.close()


def test_an_unreachable_nats_serves_nothing_and_answers_at_once(tmp_path: Path) -> None:
    dead = NatsSettings(servers=(f"nats://127.0.0.1:{free_port()}",))
    media = SharedMediaStore(tmp_path / "media", tmp_path / "cache", LazyMediaBucket(dead))
    cached = tmp_path / "cache" / "snapshots" / "gate-1" / "x.jpg"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"\xff\xd8 possibly deleted elsewhere")
    t0 = time.monotonic()
    path = media.path_for("snapshots/gate-1/x.jpg")
    first = time.monotonic() - t0
    assert not path.is_file()  # a cached copy is not served unless the bucket confirms it
    t0 = time.monotonic()
    media.path_for("snapshots/gate-1/x.jpg")
    again = time.monotonic() - t0
    assert first < 5 and again < 0.1, (first, again)  # the failure is remembered for a while
    assert media.exists("snapshots/gate-1/x.jpg") is False
    media.close()


def test_a_plate_purge_by_hand_deletes_the_crops_in_the_shared_bucket(
    nats_node: NatsCluster, pg_db: str, tmp_path: Path
) -> None:
    """``vigil plates purge`` is the retention job's plates task run by hand: on a scale-out
    deployment a crop lives in the bucket (no machine's disk), and it must go with its read."""
    import yaml
    from typer.testing import CliRunner

    from vigil.cli.main import app
    from vigil.events.plates import PlateReadEvent

    db = pg_db.replace("postgresql://", "postgresql+psycopg://", 1)
    conn = NatsConnection(NatsSettings(servers=nats_node.urls))
    try:
        bucket = MediaBucket(conn)
        old = datetime.now(UTC) - timedelta(hours=48)
        reads = [
            PlateReadEvent(
                camera_id="gate-1",
                occurred_at=old,
                plate=plate,
                confidence=0.9,
                n_reads=3,
                crop=f"crops/gate-1/{plate}.jpg",
            )
            for plate in ("ABC123", "XYZ789")
        ]
        for r in reads:
            assert r.crop is not None
            bucket.put(r.crop, b"\xff\xd8 a plate crop")
        with Store.open(db) as store:
            store.events.add_many(reads)
        cfg = _cfg(tmp_path, "ops", nats_node.urls, db)
        path = tmp_path / "deploy.yaml"
        path.write_text(
            yaml.safe_dump(cfg.model_dump(mode="json", exclude={"data_dir"}) | {"data_dir": str(cfg.data_dir)})
        )
        result = CliRunner().invoke(app, ["plates", "purge", "--config", str(path)])
        assert result.exit_code == 0, result.output
        assert "purged 2 reads" in result.output
        assert [bucket.get(r.crop) for r in reads if r.crop] == [None, None]
        with Store.open(db) as store:
            (run,) = store.governance.audit.list(action="retention.run")
        assert run.detail["plate_reads"] == 2 and run.detail["plate_crops"] == 2 and run.detail["via"] == "cli"
    finally:
        conn.close()
