"""PostgreSQL only: time partitions for the high-volume tables (``store/partitions.py`` says why).

``events`` by ``occurred_at``, ``crowd_counts`` by ``at``, and ``plate_reads`` by ``hit`` then
(the misses) by ``occurred_at``; one partition per UTC day. The primary keys gain the
partition keys (PostgreSQL requires it of a unique index on a partitioned table). Rows already
stored are moved into the new tables, with a partition for each day they cover and for the
coming week. SQLite keeps today's schema (this revision does nothing there).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from alembic import op
from sqlalchemy import Connection, text

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS_COLS = """
    event_id varchar(64) NOT NULL, type varchar(64) NOT NULL, schema_version integer NOT NULL,
    camera_id varchar(128) NOT NULL, occurred_at timestamptz NOT NULL, track_id varchar(128),
    payload jsonb NOT NULL, stored_at timestamptz NOT NULL
"""
_CROWD_COLS = """
    event_id varchar(64) NOT NULL, zone_id varchar(64) NOT NULL, camera_id varchar(128) NOT NULL,
    at timestamptz NOT NULL, count integer NOT NULL, detection_count integer NOT NULL,
    density_count double precision, method varchar(16) NOT NULL, density_per_m2 double precision
"""
_PLATES_COLS = """
    read_id varchar(64) NOT NULL, camera_id varchar(128) NOT NULL, track_id varchar(128),
    occurred_at timestamptz NOT NULL, plate varchar(16) NOT NULL, confidence double precision NOT NULL,
    region varchar(8), crop varchar(512), hit boolean NOT NULL
"""


def _days(conn: Connection, table: str, column: str) -> set[date]:
    rows = conn.execute(text(f"SELECT DISTINCT ({column} AT TIME ZONE 'UTC')::date FROM {table}_unpartitioned"))
    return {r[0] for r in rows}


def _day_partitions(conn: Connection, parent: str, days: set[date]) -> None:
    for day in sorted(days):
        lo, hi = day.isoformat(), (day + timedelta(days=1)).isoformat()
        conn.execute(
            text(
                f'CREATE TABLE "{parent}_p{day:%Y%m%d}" PARTITION OF {parent} '
                f"FOR VALUES FROM ('{lo} 00:00:00+00') TO ('{hi} 00:00:00+00')"
            )
        )


def _set_aside(conn: Connection, table: str, indexes: Sequence[str]) -> None:
    conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_unpartitioned"))
    conn.execute(text(f"ALTER TABLE {table}_unpartitioned DROP CONSTRAINT pk_{table}"))
    for ix in indexes:
        conn.execute(text(f"DROP INDEX {ix}"))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    today = datetime.now(UTC).date()
    coming = {today + timedelta(days=d) for d in range(-1, 8)}

    _set_aside(conn, "events", ["ix_events_camera_id_occurred_at", "ix_events_type_occurred_at", "ix_events_track_id"])
    conn.execute(
        text(
            f"CREATE TABLE events ({_EVENTS_COLS}, CONSTRAINT pk_events PRIMARY KEY (event_id, occurred_at))"
            " PARTITION BY RANGE (occurred_at)"
        )
    )
    conn.execute(text("CREATE INDEX ix_events_camera_id_occurred_at ON events (camera_id, occurred_at)"))
    conn.execute(text("CREATE INDEX ix_events_type_occurred_at ON events (type, occurred_at)"))
    conn.execute(text("CREATE INDEX ix_events_track_id ON events (track_id)"))
    _day_partitions(conn, "events", coming | _days(conn, "events", "occurred_at"))
    conn.execute(text("INSERT INTO events SELECT * FROM events_unpartitioned"))
    conn.execute(text("DROP TABLE events_unpartitioned"))

    _set_aside(conn, "crowd_counts", ["ix_crowd_counts_camera_id_at"])
    conn.execute(
        text(
            f"CREATE TABLE crowd_counts ({_CROWD_COLS},"
            " CONSTRAINT pk_crowd_counts PRIMARY KEY (event_id, zone_id, at)) PARTITION BY RANGE (at)"
        )
    )
    conn.execute(text("CREATE INDEX ix_crowd_counts_camera_id_at ON crowd_counts (camera_id, at)"))
    _day_partitions(conn, "crowd_counts", coming | _days(conn, "crowd_counts", "at"))
    conn.execute(text("INSERT INTO crowd_counts SELECT * FROM crowd_counts_unpartitioned"))
    conn.execute(text("DROP TABLE crowd_counts_unpartitioned"))

    _set_aside(conn, "plate_reads", ["ix_plate_reads_plate_occurred_at", "ix_plate_reads_hit_occurred_at"])
    conn.execute(
        text(
            f"CREATE TABLE plate_reads ({_PLATES_COLS},"
            " CONSTRAINT pk_plate_reads PRIMARY KEY (read_id, hit, occurred_at)) PARTITION BY LIST (hit)"
        )
    )
    conn.execute(text("CREATE INDEX ix_plate_reads_plate_occurred_at ON plate_reads (plate, occurred_at)"))
    conn.execute(text("CREATE INDEX ix_plate_reads_hit_occurred_at ON plate_reads (hit, occurred_at)"))
    conn.execute(text("CREATE TABLE plate_reads_hits PARTITION OF plate_reads FOR VALUES IN (true)"))
    conn.execute(
        text(
            "CREATE TABLE plate_reads_misses PARTITION OF plate_reads FOR VALUES IN (false)"
            " PARTITION BY RANGE (occurred_at)"
        )
    )
    _day_partitions(conn, "plate_reads_misses", coming | _days(conn, "plate_reads", "occurred_at"))
    conn.execute(text("INSERT INTO plate_reads SELECT * FROM plate_reads_unpartitioned"))
    conn.execute(text("DROP TABLE plate_reads_unpartitioned"))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table, pk, cols in (
        ("events", "event_id", _EVENTS_COLS),
        ("crowd_counts", "event_id, zone_id", _CROWD_COLS),
        ("plate_reads", "read_id", _PLATES_COLS),
    ):
        conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_partitioned"))
        conn.execute(text(f"ALTER TABLE {table}_partitioned RENAME CONSTRAINT pk_{table} TO pk_{table}_partitioned"))
        conn.execute(text(f"CREATE TABLE {table} ({cols}, CONSTRAINT pk_{table} PRIMARY KEY ({pk}))"))
        conn.execute(text(f"INSERT INTO {table} SELECT * FROM {table}_partitioned"))
        conn.execute(text(f"DROP TABLE {table}_partitioned CASCADE"))
    # Indexes under their old names (the partitioned ones went with their tables).
    conn.execute(text("CREATE INDEX ix_events_camera_id_occurred_at ON events (camera_id, occurred_at)"))
    conn.execute(text("CREATE INDEX ix_events_type_occurred_at ON events (type, occurred_at)"))
    conn.execute(text("CREATE INDEX ix_events_track_id ON events (track_id)"))
    conn.execute(text("CREATE INDEX ix_crowd_counts_camera_id_at ON crowd_counts (camera_id, at)"))
    conn.execute(text("CREATE INDEX ix_plate_reads_plate_occurred_at ON plate_reads (plate, occurred_at)"))
    conn.execute(text("CREATE INDEX ix_plate_reads_hit_occurred_at ON plate_reads (hit, occurred_at)"))
