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

Partitions are one UTC day each, named ``<parent>_pYYYYMMDD``, range ``[day, day + 1)``. There
is no DEFAULT partition: a row for a day that has no partition yet fails its insert, so every
write path first makes sure the days of its batch exist (:meth:`PartitionManager.ensure`, a set
lookup when they do), and the indexer creates the coming week ahead every hour
(:meth:`PartitionManager.create_ahead`), so the create (which briefly locks the parent) runs
outside the batches in practice.

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
    """One time-partitioned relation: ``parent`` is split into day partitions on ``column``."""

    table: str
    """The table the application reads and writes."""
    parent: str
    """The relation partitioned by time (``table`` itself, or its sub-partition)."""
    column: str


EVENTS = PartitionedTable("events", "events", "occurred_at")
CROWD_COUNTS = PartitionedTable("crowd_counts", "crowd_counts", "at")
PLATE_MISSES = PartitionedTable("plate_reads", "plate_reads_misses", "occurred_at")
TIME_PARTITIONED = (EVENTS, CROWD_COUNTS, PLATE_MISSES)

_NAME = re.compile(r"^(?P<parent>[a-z_]+)_p(?P<day>\d{8})$")
AHEAD_DAYS = 7
"""Days of partitions kept ready beyond today."""


def partition_name(parent: str, day: date) -> str:
    return f"{parent}_p{day:%Y%m%d}"


def day_of(instant: datetime) -> date:
    return instant.astimezone(UTC).date()


def _bound(day: date) -> str:
    return f"{day.isoformat()} 00:00:00+00"


def create_partition(conn: Connection, spec: PartitionedTable, day: date) -> None:
    """Create ``spec``'s partition for ``day`` unless it exists (in ``conn``'s transaction)."""
    conn.execute(
        text(
            f'CREATE TABLE IF NOT EXISTS "{partition_name(spec.parent, day)}" PARTITION OF "{spec.parent}" '
            f"FOR VALUES FROM ('{_bound(day)}') TO ('{_bound(day + timedelta(days=1))}')"
        )
    )


def partition_days(conn: Connection, spec: PartitionedTable) -> dict[date, str]:
    """The day partitions ``spec.parent`` has now, by day."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent"
        ),
        {"parent": spec.parent},
    ).scalars()
    out: dict[date, str] = {}
    for name in rows:
        m = _NAME.match(name)
        if m and m["parent"] == spec.parent:
            out[datetime.strptime(m["day"], "%Y%m%d").date()] = name
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
    """Makes sure the day partitions a batch needs exist; remembers the ones it has seen.

    One per engine; thread-safe. On SQLite (or a PostgreSQL schema before 0012) it does nothing.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._known: set[date] = set()
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
        """Create every table's partition for each day of ``instants`` that lacks one."""
        days = {day_of(t) for t in instants}
        if not days or not self.enabled:
            return
        with self._lock:
            missing = days - self._known
        if missing:
            self._create(missing)

    def create_ahead(self, now: datetime, ahead_days: int = AHEAD_DAYS) -> None:
        """Yesterday, today and the next ``ahead_days`` days, for every table (idempotent)."""
        if not self.enabled:
            return
        today = day_of(now)
        self._create({today + timedelta(days=d) for d in range(-1, ahead_days + 1)}, refresh=True)

    def forget(self) -> None:
        """Drop the cache (a partition was dropped by retention, perhaps by another process)."""
        with self._lock:
            self._known.clear()

    def _create(self, days: set[date], *, refresh: bool = False) -> None:
        with self._lock:
            with self._engine.connect() as conn:
                have = {spec: set(partition_days(conn, spec)) for spec in TIME_PARTITIONED}
            todo = [(spec, d) for spec in TIME_PARTITIONED for d in sorted(days) if d not in have[spec]]
            for spec, day in todo:
                self._create_one(spec, day)
            if refresh:
                self._known = set.intersection(*have.values()) | days
            else:
                self._known |= days

    def _create_one(self, spec: PartitionedTable, day: date) -> None:
        # Its own short transaction: the create locks the parent until commit. Two indexers
        # racing for the same new day: the loser's IF NOT EXISTS (or a catalog unique
        # violation) means it exists, which is all either wants.
        try:
            with self._engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                create_partition(conn, spec, day)
        except Exception as exc:
            with self._engine.connect() as conn:
                if day in partition_days(conn, spec):
                    return
            raise exc
        self.created += 1
        log.info("created partition %s", partition_name(spec.parent, day))


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
    # A day partition [d, d + 1) is wholly before ``before`` when d + 1 <= before.
    dropped: list[str] = []
    kept: list[str] = []
    rows = 0
    for day, name in sorted(partition_days(conn, spec).items()):
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        if end > before:
            continue
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
