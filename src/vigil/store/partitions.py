"""PostgreSQL time partitions of the high-volume tables (scale-out); SQLite keeps one table each.

Which tables, and why these (``migrations/versions/0012_pg_time_partitions.py`` builds them):

* ``events`` (every event verbatim; track updates and health are two thirds of it), by
  ``occurred_at``;
* ``crowd_counts`` (one row per zone and sample), by ``at``;
* ``plate_reads``, first by ``hit`` (LIST): reads that hit a hotlist stay with their candidate
  and follow case retention, so they live in one plain partition ``plate_reads_hits``; the
  reads that hit nothing (``plate_reads_misses``), purged after ``plates.retention_hours``,
  are partitioned by ``occurred_at``. Without the split every day would hold a few hits and
  no day could ever be dropped whole.

``tracks`` is not partitioned: a row per track is upserted for the track's whole life, and
its time columns move while it is open.

Partitions are one UTC day each by default (``store.partition_hours``: 1, 2, 3, 4, 6, 8, 12 or
24 hours), named ``<parent>_pYYYYMMDD`` for a day and ``<parent>_pYYYYMMDDhHH`` (its first hour) for
anything else; their ranges are read from the catalog, never from the names, so a deployment that
changes the size keeps its old partitions and the new size fills only what they leave uncovered.
There is no DEFAULT partition: a row for a slot that has no partition yet fails its insert, so
every write path first makes sure the slots of its batch exist (:meth:`PartitionManager.ensure`, a
set lookup when they do), and the indexer creates what is coming every hour
(:meth:`PartitionManager.create_ahead`: a week of days, or a day of smaller partitions), so the
create (which briefly locks the parent) runs outside the batches in practice.

De-duplication. A unique index on a partitioned table must include the partition key, so the
primary keys are ``(event_id, occurred_at)``, ``(event_id, zone_id, at)`` and
``(read_id, hit, occurred_at)``, and the indexer's ``ON CONFLICT DO NOTHING`` names the same
columns. That de-duplicates exactly: an event is immutable, its time is part of its identity,
and every way one arrives twice (JetStream redelivery, a spool replay, a second indexer)
carries the same bytes, hence the same time, hence the same partition. What it does *not*
catch is a different event forged with an existing id and another time; the worker's
``Nats-Msg-Id`` window and the id's randomness are what stand against that, as before.

Retention drops whole partitions (:func:`drop_expired`): a partition whose whole range is
older than the cutoff is dropped unless it holds a row a legal hold names; such a partition
stays and loses its unheld rows one by one, as the row path does. The caller holds
``SHARE`` locks on ``cases`` and ``case_items`` for the whole transaction, so no hold can be
added or switched on between the check and the drop.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PartitionedTable:
    """One time-partitioned relation: ``parent`` is split into time ranges on ``column``."""

    table: str
    """The table the application reads and writes."""
    parent: str
    """The relation partitioned by time (``table`` itself, or its sub-partition)."""
    column: str


EVENTS = PartitionedTable("events", "events", "occurred_at")
CROWD_COUNTS = PartitionedTable("crowd_counts", "crowd_counts", "at")
PLATE_MISSES = PartitionedTable("plate_reads", "plate_reads_misses", "occurred_at")
TIME_PARTITIONED = (EVENTS, CROWD_COUNTS, PLATE_MISSES)

PARTITION_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)
"""Partition sizes a deployment may choose (``store.partition_hours``): whole hours dividing a day,
so every partition starts on a UTC hour and a day is a whole number of them."""
AHEAD_DAYS = 7
"""Days of day-sized partitions kept ready beyond today (smaller sizes: one day, see :func:`ahead_for`)."""

_BOUND = re.compile(r"FROM \('(?P<start>[^']+)'\) TO \('(?P<end>[^']+)'\)")


@dataclass(frozen=True, slots=True, order=True)
class Partition:
    """One partition as the catalog has it: rows with ``start <= column < end``."""

    start: datetime
    end: datetime
    name: str


def partition_name(parent: str, start: datetime, end: datetime) -> str:
    """``<parent>_pYYYYMMDD`` for a whole UTC day, ``<parent>_pYYYYMMDDhHH`` for anything else.

    Partitions never overlap, so no two share a start, and the name only needs the start (and,
    to keep a whole day's familiar name, whether it is one).
    """
    start = start.astimezone(UTC)
    if start.hour == 0 and end - start == timedelta(days=1):
        return f"{parent}_p{start:%Y%m%d}"
    return f"{parent}_p{start:%Y%m%d}h{start:%H}"


def slot_of(instant: datetime, hours: int) -> datetime:
    """The start of the ``hours``-long slot (counted from UTC midnight) holding ``instant``."""
    t = instant.astimezone(UTC)
    return t.replace(hour=t.hour - t.hour % hours, minute=0, second=0, microsecond=0)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR = timedelta(hours=1)


def slots_of(instants: Iterable[datetime], hours: int) -> set[datetime]:
    """The slots holding (aware) ``instants``: :func:`slot_of` of each distinct UTC hour.

    Every write asks this for every event of its batch: ``slot_of`` per event was 3 % of the
    indexer's samples, the hour index (integer arithmetic, exact) is a fifth of its cost.
    """
    return {slot_of(_EPOCH + h * _HOUR, hours) for h in {(t - _EPOCH) // _HOUR for t in instants}}


def ahead_for(hours: int) -> timedelta:
    """How far ahead of now partitions are kept ready: a week of days; a day of smaller ones (the
    indexer creates ahead every hour, and a week of hourly partitions would be 168 tables each)."""
    return timedelta(days=AHEAD_DAYS if hours == 24 else 1)


def _bound(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def create_partition(conn: Connection, spec: PartitionedTable, start: datetime, end: datetime) -> str:
    """Create ``spec``'s partition for ``[start, end)`` unless it exists (in ``conn``'s transaction)."""
    name = partition_name(spec.parent, start, end)
    conn.execute(
        text(
            f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{spec.parent}" '
            f"FOR VALUES FROM ('{_bound(start)}') TO ('{_bound(end)}')"
        )
    )
    return name


def partition_ranges(conn: Connection, spec: PartitionedTable) -> list[Partition]:
    """The partitions ``spec.parent`` has now, by start, with the bounds the catalog holds (not
    read from their names: a deployment that changed ``store.partition_hours`` has both sizes)."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent"
        ),
        {"parent": spec.parent},
    ).all()
    out: list[Partition] = []
    for name, bound in rows:
        m = _BOUND.search(bound or "")
        if m is None:
            continue  # not a range partition of ours (none is made by Vigil)
        start, end = (datetime.fromisoformat(m[k]).astimezone(UTC) for k in ("start", "end"))
        out.append(Partition(start, end, str(name)))
    return sorted(out)


def partition_days(conn: Connection, spec: PartitionedTable) -> dict[date, str]:
    """The whole-day partitions ``spec.parent`` has now, by day."""
    return {p.start.date(): p.name for p in partition_ranges(conn, spec) if p.end - p.start == timedelta(days=1)}


def gaps(start: datetime, end: datetime, have: Iterable[Partition]) -> list[tuple[datetime, datetime]]:
    """The parts of ``[start, end)`` no partition in ``have`` covers, in order."""
    out: list[tuple[datetime, datetime]] = []
    at = start
    for p in sorted(have):
        if p.end <= at or p.start >= end:
            continue
        if p.start > at:
            out.append((at, p.start))
        at = max(at, p.end)
    if at < end:
        out.append((at, end))
    return out


def is_partitioned(conn: Connection) -> bool:
    """Whether this database's ``events`` is partitioned (PostgreSQL at revision 0012 or later)."""
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table t JOIN pg_class c ON c.oid = t.partrelid"
                " WHERE c.relname = 'events' AND pg_table_is_visible(c.oid))"
            )
        ).scalar()
    )


class PartitionManager:
    """Makes sure the partitions a batch needs exist; remembers the slots it has seen covered.

    ``hours`` is the size of the partitions it creates (``store.partition_hours``). A slot that
    partitions of another size already cover in part (the size was changed) gets partitions for
    the uncovered parts only, so sizes can change without an overlap error or a migration. One
    per engine; thread-safe. On SQLite (or a PostgreSQL schema before 0012) it does nothing.
    """

    def __init__(self, engine: Engine, hours: int = 24) -> None:
        if hours not in PARTITION_HOURS:
            raise ValueError(f"partition size must be one of {PARTITION_HOURS} hours, got {hours}")
        self._engine = engine
        self.hours = hours
        self._lock = threading.Lock()
        self._known: set[datetime] = set()
        self._enabled: bool | None = None if engine.dialect.name == "postgresql" else False
        self.created = 0
        """Partitions this process created (each table counts)."""

    @property
    def enabled(self) -> bool:
        if self._enabled is None:
            with self._engine.connect() as conn:
                self._enabled = is_partitioned(conn)
        return self._enabled

    def ensure(self, instants: Iterable[datetime]) -> None:
        """Create every table's partitions for each slot of ``instants`` that is not covered."""
        slots = slots_of(instants, self.hours)
        if not slots or not self.enabled:
            return
        with self._lock:
            missing = slots - self._known
        if missing:
            self._create(missing)

    def create_ahead(self, now: datetime) -> None:
        """The previous day to :func:`ahead_for` beyond now, for every table (idempotent)."""
        if not self.enabled:
            return
        step = timedelta(hours=self.hours)
        first, last = slot_of(now - timedelta(days=1), self.hours), now + ahead_for(self.hours)
        slots = {first + i * step for i in range(int((last - first) / step) + 1)}
        self._create(slots, refresh=True)

    def forget(self) -> None:
        """Drop the cache (a partition was dropped by retention, perhaps by another process)."""
        with self._lock:
            self._known.clear()

    def _create(self, slots: set[datetime], *, refresh: bool = False) -> None:
        size = timedelta(hours=self.hours)
        with self._lock:
            with self._engine.connect() as conn:
                have = {spec: partition_ranges(conn, spec) for spec in TIME_PARTITIONED}
            for spec in TIME_PARTITIONED:
                for slot in sorted(slots):
                    for start, end in gaps(slot, slot + size, have[spec]):
                        self._create_one(spec, start, end)
            self._known = set(slots) if refresh else self._known | slots

    def _create_one(self, spec: PartitionedTable, start: datetime, end: datetime) -> None:
        # Its own short transaction: the create locks the parent until commit. Two indexers
        # racing for the same new slot: the loser's IF NOT EXISTS (or a catalog unique
        # violation) means it exists, which is all either wants.
        try:
            with self._engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                name = create_partition(conn, spec, start, end)
        except Exception as exc:
            with self._engine.connect() as conn:
                if not gaps(start, end, partition_ranges(conn, spec)):
                    return
            raise exc
        self.created += 1
        log.info("created partition %s", name)


@dataclass(frozen=True, slots=True)
class DropResult:
    dropped: tuple[str, ...]
    """Partitions dropped whole."""
    rows: int
    """Rows they held."""
    kept_for_holds: tuple[str, ...]
    """Partitions old enough to drop that hold a row under legal hold (purged row by row)."""


def log_drops(table: str, dropped: Iterable[str], kept_for_holds: Iterable[str]) -> None:
    """One warning naming the partitions of ``table`` a retention run dropped and those it kept for holds.

    A warning, not info: dropping a partition deletes a whole range of rows in one statement, and an
    operator reading the log should see which ranges went (the audit record keeps counts only).
    """
    dropped, kept = tuple(dropped), tuple(kept_for_holds)
    if not dropped and not kept:
        return
    log.warning(
        "retention: dropped %d partitions of %s (%s); kept %d holding held rows (%s)",
        len(dropped),
        table,
        ", ".join(dropped) or "none",
        len(kept),
        ", ".join(kept) or "none",
    )


HeldCheck = Callable[[Connection, str], bool]
"""Whether the named partition holds a row under legal hold."""


def drop_expired(
    conn: Connection,
    spec: PartitionedTable,
    before: datetime,
    held: HeldCheck,
    on_drop: Callable[[Connection, str], None] | None = None,
) -> DropResult:
    """Drop ``spec``'s partitions whose whole range is before ``before``, unless ``held`` says no.

    ``on_drop(conn, partition)`` runs just before each drop (to collect media paths).

    Runs in the caller's transaction (the retention run), which must hold the locks that keep
    holds from changing (``SHARE`` on ``cases`` and ``case_items``).
    """
    # A partition [start, end) is wholly before ``before`` when end <= before.
    dropped: list[str] = []
    kept: list[str] = []
    rows = 0
    for part in partition_ranges(conn, spec):
        if part.end > before:
            continue
        name = part.name
        if held(conn, name):
            kept.append(name)
            continue
        rows += int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() or 0)
        if on_drop is not None:
            on_drop(conn, name)
        conn.execute(text(f'DROP TABLE "{name}"'))
        dropped.append(name)
    return DropResult(tuple(dropped), rows, tuple(kept))


def any_of(conn: Connection, partition: str, column: str, ids: Iterable[str]) -> bool:
    """Whether ``partition`` has a row whose ``column`` is one of ``ids``."""
    wanted = sorted(set(ids))
    if not wanted:
        return False
    return bool(
        conn.execute(
            text(f'SELECT EXISTS (SELECT 1 FROM "{partition}" WHERE "{column}" = ANY(:ids))'), {"ids": wanted}
        ).scalar()
    )


def lock_holds(conn: Connection) -> None:
    """Keep legal holds from changing until the transaction ends (writers wait; readers don't)."""
    conn.execute(text("LOCK TABLE cases, case_items IN SHARE MODE"))
