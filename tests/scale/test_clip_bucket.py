"""Scale-out clips: a worker's clip (both copies) goes to JetStream's Object Store like its
snapshots, is decodable from there, and deleting it removes it from the bucket (real NATS)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import pytest
from scale_rig import wait_for

from vigil.bus.connection import NatsConnection, NatsSettings
from vigil.bus.objects import MediaBucket
from vigil.deploy.nats_server import NatsCluster
from vigil.governance.clip_redactor import ClipRedactor
from vigil.store.media import ClipFrame, clip_path
from vigil.workers.shared_media import shared_media

pytestmark = [pytest.mark.nats]


def test_a_workers_clip_lives_in_the_bucket_and_is_deleted_from_it(nats_node: NatsCluster, tmp_path: Path) -> None:
    conn = NatsConnection(NatsSettings(servers=nats_node.urls))
    try:
        root = tmp_path / "worker" / "media"
        # Without a face finder every frame is blurred whole (fail closed): enough for storage.
        media, uploader = shared_media(
            root, tmp_path / "cache", MediaBucket(conn), None, clip_redactor=ClipRedactor(None)
        )
        rng = np.random.default_rng(3)
        frames = [
            ClipFrame(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), i * 0.2, keep=((0, 0, 80, 120),))
            for i in range(12)
        ]
        when = datetime.now(UTC)
        clip = media.save_clip(
            clip_path("gate-1", "c1", when),
            frames,
            kept_path=clip_path("gate-1", "c1", when, kept=True),
            keep_faces="face candidate c1 (test)",
        )
        assert clip.kept_path is not None and clip.frames == 12
        for rel in (clip.path, clip.kept_path):
            wait_for(lambda rel=rel: not (root / rel).exists(), 20, f"{rel} to be uploaded and unstaged")
        data = MediaBucket(conn).get(clip.path)
        assert data is not None
        with av.open(io.BytesIO(data)) as f:
            assert f.streams.video[0].codec_context.name == "h264"
            assert sum(1 for _ in f.decode(video=0)) == 12
        uploader.close()
        assert media.delete(clip.path) and media.delete(clip.kept_path)
        assert MediaBucket(conn).get(clip.path) is None and not MediaBucket(conn).exists(clip.kept_path)
    finally:
        conn.close()
