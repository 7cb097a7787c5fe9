"""PostgreSQL time partitions (``store/partitions.py``), on the machine's real PostgreSQL.

Day partitions created ahead and on demand, de-duplication by ``(event_id, occurred_at)``
also across a partition boundary, rows of an older schema moved by the migration, retention
by dropping whole days while a day holding a legally held row stays (events, plate misses,
crowd counts), and the lock that keeps
a hold from appearing between the check and the drop.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from pydantic import ValidationError
from sqlalchemy import text

from vigil.config import VigilConfig
from vigil.events import AnyEvent
from vigil.events.crowd import CrowdLineCounts, CrowdZoneCount, LineCount, ZoneCount
from vigil.events.plates import PlateReadEvent
from vigil.events.samples import track_lifecycle
from vigil.store import Store, migrate, open_engine
from vigil.store.audit import AuditEntry
from vigil.store.partitions import (
    CROWD_COUNTS,
    EVENTS,
    PLATE_MISSES,
    PartitionedTable,
    lock_holds,
    partition_days,
    partition_ranges,
    slot_of,
    slots_of,
)
from vigil.store.retention import PurgeCutoffs

pytestmark = pytest.mark.postgres

MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)


def _url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def store(pg_db: str) -> Iterator[Store]:
    with Store.open(_url(pg_db)) as s:
        yield s


def _where(store: Store, table: str, key: str, value: str) -> list[str]:
    with store.engine.connect() as conn:
        sql = text(f"SELECT tableoid::regclass::text FROM {table} WHERE {key} = :v")
        return [str(r) for r in conn.execute(sql, {"v": value}).scalars()]


def _plate(at: datetime, *, hit: bool = False, crop: str | None = None) -> PlateReadEvent:
    return PlateReadEvent(camera_id="cam", occurred_at=at, plate="AB123", confidence=0.9, n_reads=3, hit=hit, crop=crop)


def test_tables_are_partitioned_by_day_with_the_time_in_the_key(store: Store) -> None:
    with store.engine.connect() as conn:
        strategies = dict(
            conn.execute(
                text("SELECT c.relname, t.partstrat FROM pg_partitioned_table t JOIN pg_class c ON c.oid = t.partrelid")
            ).all()
        )
        keys = dict(
            conn.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conname IN "
                    "('pk_events', 'pk_crowd_counts', 'pk_plate_reads') AND conrelid::regclass::text NOT LIKE '%\\_p%'"
                )
            ).all()
        )
        today = datetime.now(UTC).date()
        for spec in (EVENTS, CROWD_COUNTS, PLATE_MISSES):
            days = partition_days(conn, spec)
            # Created ahead: yesterday to a week from now.
            assert {today + timedelta(days=d) for d in range(-1, 8)} <= set(days), spec
    assert strategies == {"events": "r", "crowd_counts": "r", "plate_reads": "l", "plate_reads_misses": "r"}
    assert keys["pk_events"] == "PRIMARY KEY (event_id, occurred_at)"
    assert keys["pk_crowd_counts"] == "PRIMARY KEY (event_id, zone_id, at)"
    assert keys["pk_plate_reads"] == "PRIMARY KEY (read_id, hit, occurred_at)"


def test_duplicates_across_a_partition_boundary_are_stored_once(store: Store) -> None:
    # One track whose events straddle midnight: the last second of one day's partition and
    # the first of the next (days far in the past: created on demand).
    before = MIDNIGHT - timedelta(microseconds=1)
    events: list[AnyEvent] = list(track_lifecycle(camera_id="cam", track_id="t-1", n_updates=2, start=before))
    events += [_plate(before), _plate(MIDNIGHT)]
    assert {e.occurred_at.date() for e in events} == {before.date(), MIDNIGHT.date()}

    first = store.events.add_batch(events)
    again = store.events.add_batch(events)  # a redelivered batch
    halves = store.events.add_batch(events[::2]) + store.events.add_batch(events[1::2])  # split differently
    via_orm = store.events.add_many(events)  # the portable path (embedded mode on PostgreSQL)
    assert (len(first), len(again), len(halves), via_orm) == (len(events), 0, 0, 0)
    assert store.events.count() == len(events)
    assert store.plates.count_reads() == 2
    start, end = events[0], events[3]
    assert _where(store, "events", "event_id", start.event_id) == [f"events_p{before:%Y%m%d}"]
    assert _where(store, "events", "event_id", end.event_id) == [f"events_p{MIDNIGHT:%Y%m%d}"]
    assert _where(store, "plate_reads", "read_id", events[-1].event_id) == [f"plate_reads_misses_p{MIDNIGHT:%Y%m%d}"]
    track = store.tracks.get("t-1")
    assert track is not None and track.n_observations == end.n_observations  # folds not doubled


def test_a_partition_dropped_under_a_writer_is_made_again(store: Store, pg_db: str) -> None:
    day = datetime(2026, 1, 10, 12, tzinfo=UTC)
    store.events.add_batch(track_lifecycle(camera_id="cam", track_id="a", n_updates=1, start=day))
    # Another process's retention drops the day; this store's cache still thinks it exists.
    with psycopg.connect(pg_db, autocommit=True) as admin:
        admin.execute(f"DROP TABLE events_p{day:%Y%m%d}")
    late = track_lifecycle(camera_id="cam", track_id="b", n_updates=1, start=day)
    assert len(store.events.add_batch(late)) == len(late)
    assert _where(store, "events", "event_id", late[0].event_id) == [f"events_p{day:%Y%m%d}"]


def test_the_migration_moves_rows_of_the_unpartitioned_schema(pg_db: str) -> None:
    engine = open_engine(_url(pg_db))
    try:
        migrate(engine, "0011")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO events VALUES ('e1', 'track.started', 1, 'cam', '2025-05-05 10:00+00', 't', '{}',"
                    " now()), ('e2', 'track.started', 1, 'cam', '2025-05-06 23:59:59+00', 't', '{}', now())"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO plate_reads VALUES ('r1', 'cam', NULL, '2025-05-05 10:00+00', 'AB1', 0.9, NULL, NULL,"
                    " false), ('r2', 'cam', NULL, '2025-05-05 10:00+00', 'AB2', 0.9, NULL, NULL, true)"
                )
            )
        migrate(engine)
        with engine.connect() as conn:
            where = dict(conn.execute(text("SELECT event_id, tableoid::regclass::text FROM events")).all())
            reads = dict(conn.execute(text("SELECT read_id, tableoid::regclass::text FROM plate_reads")).all())
    finally:
        engine.dispose()
    assert where == {"e1": "events_p20250505", "e2": "events_p20250506"}
    assert reads == {"r1": "plate_reads_misses_p20250505", "r2": "plate_reads_hits"}


def test_retention_drops_whole_days_but_not_a_day_holding_a_held_row(store: Store) -> None:
    old, held_day, recent = (MIDNIGHT + timedelta(days=d, hours=10) for d in (0, 1, 9))
    runs = {
        name: track_lifecycle(camera_id="cam", track_id=name, n_updates=2, start=at)
        for name, at in (("old", old), ("held", held_day), ("other", held_day), ("recent", recent))
    }
    for events in runs.values():
        store.events.add_batch(events)
    audit = AuditEntry(actor="sup", action="case.create")
    case = store.governance.cases.create("warrant", reason="r", legal_hold=True, created_by="sup", audit=audit)
    store.governance.cases.add_item(
        case.case_id, item_type="track", item_id="held", camera_id="cam", added_by="sup", audit=audit
    )
    cutoff = MIDNIGHT + timedelta(days=5)
    result = store.governance.retention.purge(
        PurgeCutoffs(cutoff, cutoff, cutoff, cutoff, cutoff), actor="system:retention"
    )

    assert result.partitions_dropped == (f"events_p{old:%Y%m%d}",)
    assert result.partitions_kept_for_holds == (f"events_p{held_day:%Y%m%d}",)
    # The held day keeps exactly the held track's events; the other track of that day went row by row.
    assert {e.track_id for e in store.events.search(limit=100)} == {"held", "recent"}  # type: ignore[union-attr]
    assert result.counts["events"] == len(runs["old"]) + len(runs["other"])
    [record] = store.governance.audit.list(action="retention.run")
    assert record.detail["events"] == result.counts["events"]


def test_plate_misses_go_by_the_day_and_hits_stay(store: Store) -> None:
    day = MIDNIGHT + timedelta(hours=3)
    miss, hit = _plate(day, crop="crops/plates/a.jpg"), _plate(day, hit=True, crop="crops/plates/b.jpg")
    fresh = _plate(datetime.now(UTC) - timedelta(minutes=1))
    store.events.add_batch([miss, hit, fresh])
    gone = store.plates.purge_reads(retention_hours=24)
    assert [(r.read_id, r.crop, r.occurred_at) for r in gone] == [(miss.event_id, miss.crop, miss.occurred_at)]
    with store.engine.connect() as conn:
        assert day.date() not in partition_days(conn, PLATE_MISSES)
    assert store.plates.count_reads() == 2


def test_no_hold_can_be_added_while_retention_holds_its_lock(store: Store, pg_db: str) -> None:
    audit = AuditEntry(actor="sup", action="case.create")
    case = store.governance.cases.create("c", reason="r", legal_hold=True, created_by="sup", audit=audit)
    with store.engine.begin() as conn:
        lock_holds(conn)
        with psycopg.connect(pg_db, autocommit=True) as other:
            other.execute("SET lock_timeout = '300ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute(
                    "INSERT INTO case_items (case_id, item_type, item_id, added_by, added_at)"
                    " VALUES (%s, 'event', 'x', 'sup', now())",
                    (case.case_id,),
                )
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("UPDATE cases SET legal_hold = false")


def _crowd(at: datetime, zones: int = 2) -> CrowdZoneCount:
    def zone(zone_id: str) -> ZoneCount:
        return ZoneCount(zone_id=zone_id, count=4, detection_count=4, method="detection")

    return CrowdZoneCount(
        camera_id="cam", occurred_at=at, total=zone("*"), zones=tuple(zone(f"z{i}") for i in range(zones))
    )


def test_crowd_counts_retention_drops_whole_days_keeps_held_and_recent_rows(store: Store) -> None:
    now = MIDNIGHT + timedelta(days=10, hours=12)
    cutoff = now - timedelta(days=5)  # day 5, 12:00
    samples = {
        "old": _crowd(MIDNIGHT + timedelta(hours=10)),  # day 0: its day goes whole
        "held": _crowd(MIDNIGHT + timedelta(days=1, hours=9)),  # day 1: named by a case on legal hold
        "held_day_other": _crowd(MIDNIGHT + timedelta(days=1, hours=11)),
        "boundary_old": _crowd(cutoff - timedelta(hours=6)),  # the cutoff's own day: row by row
        "boundary_recent": _crowd(cutoff + timedelta(hours=6)),
        "recent": _crowd(now - timedelta(hours=1)),
    }
    lines = {
        "old": CrowdLineCounts(
            camera_id="cam",
            occurred_at=cutoff - timedelta(minutes=1),
            period_start=cutoff - timedelta(minutes=6),
            lines=(LineCount(line_id="gate", in_count=3, out_count=1),),
        ),
        "recent": CrowdLineCounts(
            camera_id="cam",
            occurred_at=cutoff + timedelta(minutes=4),
            period_start=cutoff - timedelta(minutes=1),
            lines=(LineCount(line_id="gate", in_count=2, out_count=0),),
        ),
    }
    assert len(store.events.add_batch([*samples.values(), *lines.values()])) == len(samples) + len(lines)
    audit = AuditEntry(actor="sup", action="case.create")
    case = store.governance.cases.create("crowd", reason="r", legal_hold=True, created_by="sup", audit=audit)
    store.governance.cases.add_item(
        case.case_id, item_type="event", item_id=samples["held"].event_id, camera_id="cam", added_by="sup", audit=audit
    )
    day = {name: f"crowd_counts_p{s.occurred_at:%Y%m%d}" for name, s in samples.items()}

    gone = store.crowd.purge_aggregates(retention_days=5, now=now)

    assert gone.partitions_dropped == (day["old"],)
    assert gone.partitions_kept_for_holds == (day["held"],)
    # 3 rows (total + 2 zones) per sample: old (dropped), held_day_other and boundary_old (row by row).
    assert gone.counts == {"crowd_counts": 9, "crowd_line_counts": 1, "crowd_heatmaps": 0}
    with store.engine.connect() as conn:
        where = {
            str(e): str(p)
            for e, p in conn.execute(text("SELECT DISTINCT event_id, tableoid::regclass::text FROM crowd_counts"))
        }
        line_ids = set(conn.execute(text("SELECT event_id FROM crowd_line_counts")).scalars())
        days = partition_days(conn, CROWD_COUNTS)
    ids = {name: s.event_id for name, s in samples.items()}
    assert where == {ids[n]: day[n] for n in ("held", "boundary_recent", "recent")}
    assert line_ids == {lines["recent"].event_id}
    assert day["old"] not in days.values() and {day["held"], day["boundary_old"], day["recent"]} <= set(days.values())
    # Crowd retention touches crowd aggregates only: the events themselves follow events_days.
    assert store.events.count() == len(samples) + len(lines)
    # A second run finds nothing more.
    again = store.crowd.purge_aggregates(retention_days=5, now=now)
    assert (again.counts["crowd_counts"], again.partitions_dropped) == (0, ())


def _ranges(store: Store, spec: PartitionedTable, day: datetime) -> list[tuple[int, int, str]]:
    """``spec``'s partitions within ``day`` as (first hour, hours, name)."""
    with store.engine.connect() as conn:
        parts = partition_ranges(conn, spec)
    return [
        (int((p.start - day) / timedelta(hours=1)), int((p.end - p.start) / timedelta(hours=1)), p.name)
        for p in parts
        if day <= p.start < day + timedelta(days=1)
    ]


def test_hourly_partitions_are_made_on_demand_and_retention_drops_them_by_the_hour(pg_db: str) -> None:
    with Store.open(_url(pg_db), partition_hours=1) as store:
        # A month on (past the day partitions the migration made ahead), the indexer's hourly call:
        later = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=30)
        store.partitions.create_ahead(later + timedelta(minutes=20))
        with store.engine.connect() as conn:
            parts = [p for p in partition_ranges(conn, EVENTS) if p.start >= later - timedelta(days=1)]
        # The previous day to a day from then, hour by hour.
        assert [p.start for p in parts] == [later + timedelta(hours=h) for h in range(-24, 25)]
        assert {p.end - p.start for p in parts} == {timedelta(hours=1)}
        one, two = _plate(MIDNIGHT + timedelta(hours=1, minutes=10)), _plate(MIDNIGHT + timedelta(hours=2, minutes=10))
        assert len(store.events.add_batch([one, two])) == 2
        assert _where(store, "plate_reads", "read_id", one.event_id) == [f"plate_reads_misses_p{MIDNIGHT:%Y%m%d}h01"]
        assert [(h, n) for h, n, _ in _ranges(store, PLATE_MISSES, MIDNIGHT)] == [(1, 1), (2, 1)]

        # 24 h retention at 02:30 the next day: 01:00-02:00 goes whole; 02:00-03:00 is the
        # cutoff's own hour, so its read goes row by row and the partition stays.
        gone = store.plates.purge_reads(retention_hours=24, now=MIDNIGHT + timedelta(days=1, hours=2, minutes=30))
        assert sorted(r.read_id for r in gone) == sorted([one.event_id, two.event_id])
        assert [(h, n) for h, n, _ in _ranges(store, PLATE_MISSES, MIDNIGHT)] == [(2, 1)]
        assert store.plates.count_reads() == 0


def test_a_changed_partition_size_fills_only_what_the_old_partitions_leave(pg_db: str) -> None:
    day2 = MIDNIGHT + timedelta(days=1)
    with Store.open(_url(pg_db)) as daily:
        daily.events.add_batch([_plate(MIDNIGHT + timedelta(hours=9))])
    with Store.open(_url(pg_db), partition_hours=1) as hourly:
        inside = _plate(MIDNIGHT + timedelta(hours=20))  # the day partition covers it: nothing new
        five = _plate(day2 + timedelta(hours=5, minutes=30))
        assert len(hourly.events.add_batch([inside, five])) == 2
        assert _where(hourly, "plate_reads", "read_id", inside.event_id) == [f"plate_reads_misses_p{MIDNIGHT:%Y%m%d}"]
        assert [(h, n) for h, n, _ in _ranges(hourly, PLATE_MISSES, day2)] == [(5, 1)]
    with Store.open(_url(pg_db), partition_hours=24) as daily_again:
        # A day with an hourly partition in it: the rest of the day, around it, no overlap error.
        late = [_plate(day2 + timedelta(hours=h, minutes=1)) for h in (0, 5, 23)]
        assert len(daily_again.events.add_batch(late)) == 3
        assert _ranges(daily_again, PLATE_MISSES, day2) == [
            (0, 5, f"plate_reads_misses_p{day2:%Y%m%d}h00"),
            (5, 1, f"plate_reads_misses_p{day2:%Y%m%d}h05"),
            (6, 18, f"plate_reads_misses_p{day2:%Y%m%d}h06"),
        ]
        assert daily_again.plates.count_reads() == 6


def test_a_partition_size_that_does_not_divide_a_day_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        VigilConfig.model_validate({"data_dir": str(tmp_path), "store": {"partition_hours": 5}})
    assert "partition_hours" in str(err.value)


def test_the_slots_of_a_batch_are_those_of_each_instant() -> None:
    # slots_of dedupes by UTC hour first (the indexer's hot path); it must agree with slot_of
    # per instant, also for offsets that are not whole hours and a microsecond before a slot.
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    start = datetime(2026, 3, 1, 22, 59, 59, 999_999, tzinfo=UTC)
    instants = [(start + timedelta(minutes=17 * i, microseconds=i)).astimezone(zones[i % 3]) for i in range(400)] + [
        start,
        start + timedelta(microseconds=1),
    ]
    for hours in (1, 2, 3, 6, 24):
        assert slots_of(instants, hours) == {slot_of(t, hours) for t in instants}
    assert slots_of([], 24) == set()
