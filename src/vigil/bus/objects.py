"""Media in JetStream's Object Store (bucket ``VIGIL_MEDIA``), so any API replica serves any camera's.

Object names are the media paths relative to the media root (``snapshots/<camera>/<day>/<id>.jpg``),
the same strings events and the database hold. This module moves bytes; what a media file is,
its redaction and retention are ``vigil.store.media`` and the services.

:class:`MediaBucket` answers from a connection (a worker's); :class:`LazyMediaBucket` opens
its connection on first use and, after a failure, answers "unreachable" at once for a while
(an API request must not wait for NATS each time); :class:`Uploader` puts a worker's files in
the background with a bounded queue, so capture never waits for NATS.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import nats.js.errors
from nats.js import api
from nats.js.object_store import ObjectStore

from vigil.bus.base import BusError, BusUnavailableError
from vigil.bus.connection import NatsConnection, NatsSettings

log = logging.getLogger(__name__)

BUCKET = "VIGIL_MEDIA"


class MediaBucket:
    """Put, get and delete media objects (each call waits for JetStream)."""

    def __init__(self, conn: NatsConnection, replicas: int = 1, *, timeout_s: float = 10.0) -> None:
        self._conn = conn
        self._timeout_s = timeout_s
        self._obs: ObjectStore = conn.call(self._open(replicas), timeout_s=30)

    async def _open(self, replicas: int) -> ObjectStore:
        try:
            return await self._conn.js.object_store(BUCKET)
        except nats.js.errors.BucketNotFoundError:
            pass
        config = api.ObjectStoreConfig(bucket=BUCKET, storage=api.StorageType.FILE, replicas=replicas)
        try:
            return await self._conn.js.create_object_store(BUCKET, config=config)
        except nats.js.errors.BadRequestError:
            return await self._conn.js.object_store(BUCKET)  # another process created it

    def put(self, name: str, data: bytes) -> None:
        self._conn.call(self._obs.put(name, data), timeout_s=self._timeout_s)

    def get(self, name: str) -> bytes | None:
        """The object's bytes; None if there is none (never stored, or deleted)."""

        async def get() -> bytes | None:
            try:
                return bytes((await self._obs.get(name)).data or b"")
            except nats.js.errors.ObjectNotFoundError:
                return None

        return self._conn.call(get(), timeout_s=self._timeout_s)

    def exists(self, name: str) -> bool:
        async def info() -> bool:
            try:
                await self._obs.get_info(name)
            except nats.js.errors.ObjectNotFoundError:
                return False
            return True

        return self._conn.call(info(), timeout_s=self._timeout_s)

    def delete(self, name: str) -> bool:
        """Delete the object; False if there was none."""

        async def delete() -> bool:
            try:
                await self._obs.delete(name)
            except nats.js.errors.ObjectNotFoundError:
                return False
            return True

        return self._conn.call(delete(), timeout_s=self._timeout_s)


class LazyMediaBucket:
    """A :class:`MediaBucket` on a connection of its own, opened on first use.

    After a failed connect, every call raises :class:`BusUnavailableError` at once for
    ``retry_after_s``, then one call tries again (with a 1 s connect timeout).
    """

    def __init__(
        self,
        settings: NatsSettings,
        replicas: int = 1,
        *,
        retry_after_s: float = 5.0,
        connect: Callable[[NatsSettings], NatsConnection] = NatsConnection,
    ) -> None:
        self._settings = replace(settings, connect_timeout_s=min(settings.connect_timeout_s, 1.0))
        self._replicas = replicas
        self._retry_after_s = retry_after_s
        self._connect = connect
        self._conn: NatsConnection | None = None
        self._bucket: MediaBucket | None = None
        self._failed_at = -float("inf")
        self._error = ""
        self._lock = threading.Lock()

    def bucket(self) -> MediaBucket:
        """The bucket (connecting first if needed).

        Raises:
            BusUnavailableError: NATS could not be reached (now or within ``retry_after_s``).
        """
        with self._lock:
            if self._bucket is not None:
                return self._bucket
            if time.monotonic() - self._failed_at < self._retry_after_s:
                raise BusUnavailableError(self._error)
            try:
                self._conn = self._conn or self._connect(self._settings)
                self._bucket = MediaBucket(self._conn, self._replicas, timeout_s=3.0)
            except Exception as exc:
                self._failed_at = time.monotonic()
                self._error = f"media bucket {BUCKET} not reachable: {exc}"
                raise BusUnavailableError(self._error) from exc
            return self._bucket

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = self._bucket = None


@dataclass(slots=True)
class UploadStats:
    uploaded: int = 0
    dropped: int = 0
    """Beyond the queue bound: the file stays on the worker's disk, not shared (logged)."""
    retries: int = 0


class Uploader:
    """Uploads files (by media path) in a thread; removes each local copy once it is stored.

    ``on_stored(name)`` runs after each successful put (the worker deletes its local copy: the
    bucket is where retention and legal holds apply). A failed put is retried with backoff
    until it succeeds or the uploader is closed; what is still queued at close is logged.
    """

    def __init__(
        self,
        bucket: MediaBucket,
        root: Path,
        *,
        max_queued: int = 10_000,
        on_stored: Callable[[str], None] = lambda name: None,
    ) -> None:
        self._bucket = bucket
        self._root = root
        self._queue: queue.Queue[str | None] = queue.Queue(max_queued)
        self.on_stored = on_stored
        self._stop = threading.Event()
        self.stats = UploadStats()
        self._thread = threading.Thread(target=self._run, name="media-upload", daemon=True)
        self._thread.start()

    def submit(self, name: str) -> None:
        try:
            self._queue.put_nowait(name)
        except queue.Full:
            self.stats.dropped += 1
            log.warning("media %s: not shared (upload queue full); it stays on this worker's disk", name)

    def _run(self) -> None:
        while True:
            name = self._queue.get()
            if name is None:
                return
            delay = 0.2
            while True:
                try:
                    self._bucket.put(name, (self._root / name).read_bytes())
                except FileNotFoundError:
                    break  # deleted meanwhile (retention ran): nothing to share
                except (BusError, Exception) as exc:  # NATS unreachable or slow: keep it, retry
                    if self._stop.is_set():
                        left = self._queue.qsize()
                        log.warning("media: %d files not uploaded before shutdown (%s); kept on disk", left + 1, exc)
                        return
                    self.stats.retries += 1
                    log.debug("media %s: upload failed (%s); retrying in %.1f s", name, exc, delay)
                    self._stop.wait(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                self.stats.uploaded += 1
                self.on_stored(name)
                break

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout_s: float = 30.0) -> None:
        """Upload what is queued (up to ``timeout_s``), then stop."""
        deadline = time.monotonic() + timeout_s
        while self._queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=max(1.0, deadline - time.monotonic()))
