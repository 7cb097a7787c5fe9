"""Scale-out: the camera leases as the API shows them (which worker, since when, its heartbeat).

Each API process watches the NATS leases bucket (one watch, kept open: the bucket's values
first, then every change as it happens) and answers from what the watch delivered, rebuilt
into a snapshot at most every ``cache_s``. Reading the whole bucket per request period would
not scale: 60,000 cameras take about 6 s to read on the shared test box, more than a request
may wait. NATS being unreachable must not slow every request down: while the connection is
down the answer is "unknown" at once; after a failed connect or a watch that did not deliver
the bucket within ``read_timeout_s`` the error is the answer for ``retry_after_s`` before the
next attempt (the watch keeps catching up meanwhile), and the connect itself is bounded by a
short timeout.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import nats.errors
import nats.js.errors

from vigil.bus.connection import NatsConnection, NatsSettings
from vigil.bus.leases import BUCKET, Beat, Holder, apply_entry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LeaseStatus:
    """One camera's lease as a reader sees it (the API's ``lease`` field)."""

    state: Literal["held", "unassigned", "unknown"]
    worker: str | None = None
    epoch: int | None = None
    held_since: datetime | None = None
    worker_host: str | None = None
    worker_alive: bool | None = None
    heartbeat_expires_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LeaseSnapshot:
    holders: dict[str, Holder] = field(default_factory=dict)
    beats: dict[str, Beat] = field(default_factory=dict)
    error: str | None = None
    read_at: float = 0.0  # monotonic

    def lease(self, camera_id: str, now: float) -> LeaseStatus:
        """``now``: wall-clock UNIX time (heartbeats carry the worker's wall-clock expiry)."""
        if self.error is not None:
            return LeaseStatus(state="unknown", error=self.error)
        h = self.holders.get(camera_id)
        if h is None:
            return LeaseStatus(state="unassigned")
        beat = self.beats.get(h.worker)
        return LeaseStatus(
            state="held",
            worker=h.worker,
            epoch=h.epoch,
            held_since=datetime.fromtimestamp(h.since, UTC),
            worker_host=beat.host if beat else None,
            worker_alive=beat is not None and beat.expires_at > now,
            heartbeat_expires_at=datetime.fromtimestamp(beat.expires_at, UTC) if beat else None,
        )


class _BucketWatch:
    """A watch over the leases bucket on ``conn``'s loop, folding every entry into a map."""

    def __init__(self, conn: NatsConnection) -> None:
        self._lock = threading.Lock()
        self._holders: dict[str, Holder] = {}
        self._beats: dict[str, Beat] = {}
        self.ready = threading.Event()
        """Set once the bucket's values up to the watch's start have arrived."""
        self.ended: str | None = None
        """Why the watch stopped (it is then started again at the next read)."""
        self._task = conn.spawn(self._run(conn))

    async def _run(self, conn: NatsConnection) -> None:
        try:
            try:
                kv = await conn.js.key_value(BUCKET)
            except nats.js.errors.BucketNotFoundError:
                # No worker has created it yet: nobody holds anything. Watch again next time.
                self.ended = "no leases bucket yet"
                self.ready.set()
                return
            watcher: Any = await kv.watchall()
            while not conn.closing:
                try:
                    entry = await watcher.updates(timeout=1.0)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                if entry is None:  # the initial values are in
                    self.ready.set()
                    continue
                with self._lock:
                    apply_entry(entry, self._holders, self._beats)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.ended = f"{type(exc).__name__}: {exc}".rstrip(": ")
            log.warning("camera leases: the watch stopped (%s); it starts again at the next read", self.ended)

    def state(self) -> tuple[dict[str, Holder], dict[str, Beat]]:
        with self._lock:
            return dict(self._holders), dict(self._beats)

    def cancel(self) -> None:
        self._task.cancel()


class LeaseView:
    """One NATS connection of the API process (opened on first use), its watch over the leases
    bucket, and the latest snapshot."""

    def __init__(
        self,
        settings: NatsSettings,
        *,
        cache_s: float = 2.0,
        retry_after_s: float = 5.0,
        read_timeout_s: float = 3.0,
        connect: Callable[[NatsSettings], NatsConnection] = NatsConnection,
    ) -> None:
        # One attempt at each server, briefly: a request waits for it.
        self._settings = replace(settings, connect_timeout_s=min(settings.connect_timeout_s, 1.0))
        self._cache_s = cache_s
        self._retry_after_s = retry_after_s
        self._read_timeout_s = read_timeout_s
        self._connect = connect
        self._conn: NatsConnection | None = None
        self._watch: _BucketWatch | None = None
        self._snapshot = LeaseSnapshot()
        self._lock = threading.Lock()
        self._closed = False

    def snapshot(self) -> LeaseSnapshot:
        with self._lock:
            snap = self._snapshot
            fresh = snap.read_at and time.monotonic() - snap.read_at < (
                self._retry_after_s if snap.error else self._cache_s
            )
            if not fresh and not self._closed:
                self._snapshot = snap = self._read()
            return snap

    def _read(self) -> LeaseSnapshot:
        now = time.monotonic()
        try:
            if self._conn is None:
                self._conn = self._connect(self._settings)
            if self._watch is not None and self._watch.ended is not None:
                self._watch = None  # ended (no bucket yet, or failed): watch again
            if self._watch is None:
                self._watch = _BucketWatch(self._conn)
            if not self._conn.connected:
                # What the watch holds may be out of date: say so rather than show it.
                raise ConnectionError("NATS is disconnected (reconnecting)")
            if not self._watch.ready.wait(self._read_timeout_s):
                raise TimeoutError
            holders, beats = self._watch.state()
        except Exception as exc:  # any failure reads as "unknown", with the reason, never a 500
            error = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                error = f"NATS did not deliver the leases bucket within {self._read_timeout_s:.0f} s"
            log.warning("camera leases unknown: %s", error)
            return LeaseSnapshot(error=f"lease holders unknown: {error}", read_at=now)
        return LeaseSnapshot(holders, beats, read_at=now)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._watch is not None:
                self._watch.cancel()
                self._watch = None
            if self._conn is not None:
                self._conn.close()
                self._conn = None
