"""The indexer's bulk path on PostgreSQL gives exactly what the portable path gives.

Random track lifecycles and health snapshots, cut into random batches, partly redelivered and
partly out of order, are stored once through ``add_batch`` (PostgreSQL: COPY and set-based
upserts) and once through ``add_many`` (SQLite, the ORM folds); every table must agree.
"""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from vigil.core.errors import StoreError
from vigil.events import AnyEvent, TrackUpdated, parse_event, to_json
from vigil.events.crowd import CrowdZoneCount, ZoneCount
from vigil.events.samples import camera_health, track_lifecycle
from vigil.store import Store
from vigil.store.bulk import copy_block

pytestmark = pytest.mark.postgres


def _reset_pg_schema(url: str) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _workload(seed: int) -> list[AnyEvent]:
    rng = random.Random(seed)
    events: list[AnyEvent] = []
    for k in range(60):
        cam = f"cam-{k % 4}"
        life = track_lifecycle(
            camera_id=cam, track_id=f"{cam}-run-{k}", n_updates=rng.randint(0, 6), start=T0 + timedelta(seconds=k)
        )
        if rng.random() < 0.2:
            life = life[:-1]  # still live
        events += life
    for i in range(40):
        events.append(camera_health(camera_id=f"cam-{i % 4}", occurred_at=T0 + timedelta(seconds=rng.randint(0, 90))))
    for i in range(20):  # crowd samples: COPY-ed rows on the bulk path, ORM rows on the other
        zones = tuple(
            ZoneCount(zone_id=f"z{z}", count=rng.randint(0, 9), detection_count=rng.randint(0, 9), method="detection")
            for z in range(rng.randint(0, 3))
        )
        total = ZoneCount(zone_id="*", count=i, detection_count=i, density_count=i + 0.5, method="density")
        events.append(
            CrowdZoneCount(camera_id=f"cam-{i % 4}", occurred_at=T0 + timedelta(seconds=i), total=total, zones=zones)
        )
    return events


def _snapshot(store: Store) -> tuple[object, ...]:
    tracks = sorted(store.tracks.list(limit=10_000), key=lambda t: t.track_id)
    health = [(h.camera_id, h.updated_at, h.event_id, h.frames_in) for h in store.health.list()]
    crowd = [store.crowd.series(f"cam-{k}") for k in range(4)]
    return store.events.count(), tracks, health, crowd


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_path_matches_the_orm_path(seed: int, pg_database_url: str, tmp_path: Path) -> None:
    _reset_pg_schema(pg_database_url)
    events = _workload(seed)
    rng = random.Random(seed)
    # Delivery as an indexer sees it: mostly in order, some batches late, some redelivered.
    batches: list[list[AnyEvent]] = []
    i = 0
    while i < len(events):
        n = rng.randint(1, 40)
        batches.append(events[i : i + n])
        i += n
    rng.shuffle(batches[len(batches) // 2 :])
    batches += [rng.sample(events, 30) for _ in range(3)]

    with Store.open(pg_database_url) as pg, Store.open(f"sqlite:///{tmp_path / 'ref.db'}") as ref:
        new_pg = sum(len(pg.events.add_batch(b)) for b in batches)
        new_ref = sum(ref.events.add_many(b) for b in batches)
        assert new_pg == new_ref == len(events)
        assert _snapshot(pg) == _snapshot(ref)
    # The bulk path reads the columns out of the stored payload in SQL: they must be what the
    # ORM path writes from the event's fields (a track id only for track events).
    assert _columns(pg_database_url.replace("postgresql+psycopg://", "postgresql://")) == _columns_sqlite(
        tmp_path / "ref.db"
    )


_COLUMNS = "SELECT event_id, type, schema_version, camera_id, occurred_at, track_id FROM events ORDER BY event_id"


def _columns(dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return [(*r[:4], r[4].astimezone(UTC), r[5]) for r in conn.execute(_COLUMNS).fetchall()]


def _columns_sqlite(path: Path) -> list[tuple[object, ...]]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(_COLUMNS).fetchall()
    return [(*r[:4], _aware(r[4]), r[5]) for r in rows]


def _aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def test_a_bad_event_rolls_back_the_whole_bulk_batch(pg_database_url: str) -> None:
    _reset_pg_schema(pg_database_url)
    good = track_lifecycle(start=T0)
    bad = TrackUpdated.model_construct(**{**dict(good[1]), "event_id": "bad", "camera_id": None})
    with Store.open(pg_database_url) as pg:
        with pytest.raises(StoreError, match="storing 4 events failed"):
            pg.events.add_batch([good[0], bad, good[2], good[3]])
        assert pg.events.count() == 0
        assert pg.tracks.list() == []
        assert len(pg.events.add_batch(good)) == 4  # the connection is usable again


def test_text_that_copy_escapes_is_stored_verbatim(pg_database_url: str) -> None:
    # The payloads go to PostgreSQL as one COPY block in text format, where a backslash is the
    # escape character and a newline ends a row: JSON's own escapes and non-ASCII text must
    # come back exactly as the event had them.
    _reset_pg_schema(pg_database_url)
    odd = 'C:\\cams\\n1 said "stalled"\nthen\ttab \\\\ é 監視 🚀 \\u0041'
    events = [
        camera_health(camera_id="cam-\\1", occurred_at=T0, last_error=odd, state="stalled"),
        *track_lifecycle(camera_id="cam-\\1", track_id='cam-\\1-run-"1"', start=T0),
    ]
    with Store.open(pg_database_url) as pg:
        assert len(pg.events.add_batch(events)) == len(events)
        for e in events:
            assert pg.events.get(e.event_id) == e
        health = pg.health.list()
        assert [(h.camera_id, h.last_error) for h in health] == [("cam-\\1", odd)]
        assert [t.track_id for t in pg.tracks.list()] == ['cam-\\1-run-"1"']


def test_copy_block_is_model_dump_json_exactly() -> None:
    # copy_block asks each event's serializer for bytes (skipping model_dump_json's decode and
    # the block's encode); the stored payloads must be those model_dump_json gave.
    odd = 'C:\\cams\\n1 said "stalled"\nthen\ttab \\\\ é 監視 🚀 \\u0041'
    events = [
        *_workload(3),
        camera_health(camera_id="cam-\\1", occurred_at=T0, last_error=odd, state="stalled"),
        *track_lifecycle(camera_id="cam-\\1", track_id='cam-\\1-run-"1"', start=T0),
    ]
    events += [parse_event(to_json(e)) for e in events]  # as the indexer has them: decoded from the bus
    expected = ("\n".join(e.model_dump_json() for e in events).replace("\\", "\\\\") + "\n").encode()
    assert copy_block(events) == expected
