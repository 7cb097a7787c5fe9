"""Event store (SQLite or PostgreSQL via SQLAlchemy + Alembic) and media files."""

from vigil.store.engine import ensure_writable_dir, open_engine
from vigil.store.facade import Store
from vigil.store.media import MediaStore, snapshot_path
from vigil.store.migrate import current_revision, head_revision, migrate
from vigil.store.records import HealthRecord, TrackRecord
from vigil.store.repositories import EventRepository, HealthRepository, TrackRepository
from vigil.store.sink import EventSink

__all__ = [
    "EventRepository",
    "EventSink",
    "HealthRecord",
    "HealthRepository",
    "MediaStore",
    "Store",
    "TrackRecord",
    "TrackRepository",
    "current_revision",
    "ensure_writable_dir",
    "head_revision",
    "migrate",
    "open_engine",
    "snapshot_path",
]
