"""A full disk loses nothing: events the store could not take are spooled to a file, and
replayed into the store by the next run.

The spool needs room exactly when there is none, so a run keeps a *reserve* file (8 MiB of
zeros by default) in the spool folder from its start; when the events queued for a store that
stays full at shutdown (and the dead letters) must be kept, the reserve is deleted first and
the events are written in the room it leaves, as JSON lines, fsynced. At the next start the
spool files are stored (idempotent by event id, so a file replayed twice changes nothing) and
removed, and the reserve is made again.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from vigil.core.errors import EventDecodeError, StoreError
from vigil.events import AnyEvent
from vigil.events.codec import parse_event, to_json
from vigil.store.repositories import EventRepository

log = logging.getLogger(__name__)

RESERVE_BYTES = 8 * 1024 * 1024
"""Room kept for the spool: ~20,000 events of ~400 bytes."""
_RESERVE_NAME = "reserve.bin"


def is_disk_full(exc: BaseException) -> bool:
    """True if ``exc`` (or what caused it) is a full disk or quota (SQLite, PostgreSQL, the OS)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(current).lower()
        if "database or disk is full" in text or "no space left on device" in text or "disk full" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


class EventSpool:
    """The spool folder (``<data_dir>/spool``): a reserve file and ``pending-*.jsonl`` files."""

    def __init__(self, folder: Path, reserve_bytes: int = RESERVE_BYTES) -> None:
        self.folder = folder
        self.reserve_bytes = reserve_bytes

    @property
    def reserve_file(self) -> Path:
        return self.folder / _RESERVE_NAME

    def pending_files(self) -> list[Path]:
        return sorted(self.folder.glob("pending-*.jsonl")) if self.folder.is_dir() else []

    def make_reserve(self) -> bool:
        """Keep ``reserve_bytes`` for the spool; False (and a warning) if the disk has no room."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if self.reserve_file.is_file() and self.reserve_file.stat().st_size >= self.reserve_bytes:
                return True
            with self.reserve_file.open("wb") as fh:
                # Real blocks (not a sparse file): the room must exist when it is needed.
                chunk = b"\0" * (1 << 20)
                left = self.reserve_bytes
                while left > 0:
                    fh.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            self.reserve_file.unlink(missing_ok=True)
            log.warning("spool: no room for a %d MiB reserve in %s (%s)", self.reserve_bytes >> 20, self.folder, exc)
            return False
        return True

    def spool(self, events: Sequence[AnyEvent], why: str, *, keep_reserve: bool = False) -> Path:
        """Write ``events`` to a new pending file (the reserve is given up for it first, unless
        ``keep_reserve``: a dead letter on a disk with room).

        Raises:
            StoreError: even the reserve's room was not enough (the message says how many).
        """
        if not keep_reserve:
            self.reserve_file.unlink(missing_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"pending-{stamp}-{os.getpid()}.jsonl"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fh:
                for event in events:
                    fh.write(to_json(event) + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise StoreError(f"could not spool {len(events)} events ({why}) to {path}: {exc.strerror or exc}") from exc
        log.warning("spool: %d events kept in %s (%s); the next run stores them", len(events), path, why)
        return path

    def replay(self, events: EventRepository) -> int:
        """Store every pending file's events, then delete the file. Returns how many were new.

        A line that no longer decodes is kept aside in ``<file>.bad`` rather than lost.
        """
        stored = 0
        for path in self.pending_files():
            good: list[AnyEvent] = []
            bad: list[bytes] = []
            for line in path.read_bytes().splitlines():
                if not line.strip():
                    continue
                try:
                    good.append(parse_event(line))
                except EventDecodeError:
                    bad.append(line)
            stored += _store_in_batches(events, good)
            if bad:
                path.with_suffix(".bad").write_bytes(b"\n".join(bad) + b"\n")
            path.unlink()
            log.warning("spool: stored %d events from %s", len(good), path.name)
        return stored


def _store_in_batches(events: EventRepository, items: Iterable[AnyEvent], size: int = 500) -> int:
    batch: list[AnyEvent] = []
    stored = 0
    for event in items:
        batch.append(event)
        if len(batch) >= size:
            stored += events.add_many(batch)
            batch = []
    if batch:
        stored += events.add_many(batch)
    return stored
