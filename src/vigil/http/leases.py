"""Scale-out: the camera leases as the API shows them (which worker, since when, its heartbeat).

Read from the NATS leases bucket on demand and kept for ``cache_s``, so a page of requests
costs one read. NATS being unreachable must not slow every request down: after a failed
connect or read the error is the answer for ``retry_after_s`` before the next attempt, and
the connect itself is bounded by a short timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from vigil.bus.connection import NatsConnection, NatsSettings
from vigil.bus.leases import Beat, Holder, read_assignments

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


class LeaseView:
    """One NATS connection of the API process (opened on first use), and the latest snapshot."""

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
            holders, beats = read_assignments(self._conn, timeout_s=self._read_timeout_s)
        except Exception as exc:  # any failure reads as "unknown", with the reason, never a 500
            error = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                error = f"NATS did not answer within {self._read_timeout_s:.0f} s (leases bucket not read)"
            log.warning("camera leases unknown: %s", error)
            return LeaseSnapshot(error=f"lease holders unknown: {error}", read_at=now)
        return LeaseSnapshot({h.camera_id: h for h in holders}, beats, read_at=now)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None
