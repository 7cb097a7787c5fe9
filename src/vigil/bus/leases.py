"""Camera leases in a JetStream KV bucket, with fencing epochs.

Design (and why it is not one renewed key per camera). The bucket holds two kinds of keys:

* ``cam.<camera>`` → ``{"worker", "since"}``: who holds a camera. Written only when a camera is
  claimed, taken over or released, with compare-and-set (``create``, or ``update`` with the
  revision last seen), so two workers can never both win it. The revision of that write is
  the camera's **epoch**: it only grows, and every event the holder publishes carries it.
* ``wrk.<worker>`` → ``{"expires_at", "cameras"}``: the worker's heartbeat, renewed every
  ``renew_every_s``. A worker's claims are valid while its heartbeat is.

A worker renews *one* key per tick however many cameras it holds, so 60,000 cameras on 300
workers cost 30 KV writes/s instead of the 6,000/s of a key per camera renewed every 10 s
(both measured in ``bench/scale_load.py leases``). A camera moves only when its holder dies
(its heartbeat expires) or gives it up to a newcomer, one camera per tick, so a new worker
takes its fair share without a storm of moves.

Fencing. A worker stops analysing every camera ``safety_margin_s`` before its heartbeat could
be seen as expired by anyone else: it measures from the moment it *sent* its last successful
renewal, on its monotonic clock, while other workers judge expiry by the ``expires_at`` the
holder wrote (its wall clock at that moment + ``ttl_s``). So the old holder has stopped before
the camera can be granted again, as long as the machines' clocks agree within the margin
(NTP keeps them within milliseconds; the margin defaults to 2 s). A paused or partitioned
worker that wakes up finds its epoch no longer valid and drops what it would have published;
the indexer, which sees every epoch, refuses a stale epoch's events dated after the newer
epoch began (``workers/indexer.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats.js.errors
from nats.js import api
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from vigil.bus.connection import NatsConnection
from vigil.bus.subjects import camera_from_token, camera_token

log = logging.getLogger(__name__)

BUCKET = "VIGIL_LEASES"
EPOCH_HEADER = "Vigil-Lease-Epoch"
SINCE_HEADER = "Vigil-Lease-Since"
WORKER_HEADER = "Vigil-Worker"
PUBLISHED_HEADER = "Vigil-Published-At"
"""The worker's wall-clock time when it published (acted as owner), UNIX seconds."""


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a camera: the worker, the epoch (KV revision of the claim) and since when."""

    camera_id: str
    worker: str
    epoch: int
    since: float
    """Wall-clock UNIX time of the claim (the claimer's clock)."""


@dataclass(frozen=True, slots=True)
class Beat:
    worker: str
    expires_at: float
    host: str
    cameras: int


@dataclass(slots=True)
class _Seen:
    holder: Holder
    revision: int
    first_seen: float  # local monotonic time this revision was first seen


async def open_bucket(conn: NatsConnection, replicas: int = 1) -> KeyValue:
    """The leases bucket, created on first use (history 1: only the latest value matters)."""
    try:
        return await conn.js.key_value(BUCKET)
    except nats.js.errors.BucketNotFoundError:
        pass
    try:
        return await conn.js.create_key_value(api.KeyValueConfig(bucket=BUCKET, history=1, replicas=replicas))
    except nats.js.errors.BadRequestError:
        return await conn.js.key_value(BUCKET)  # another worker created it meanwhile


def read_holders(conn: NatsConnection) -> list[Holder]:
    """Who holds each camera now, as the bucket says (for ``vigil status`` and the API)."""
    return conn.call(_read_bucket(conn), timeout_s=30)[0]


def read_assignments(conn: NatsConnection, *, timeout_s: float = 30.0) -> tuple[list[Holder], dict[str, Beat]]:
    """Who holds each camera, and every worker's latest heartbeat, by worker id (for the API)."""
    return conn.call(_read_bucket(conn), timeout_s=timeout_s)


async def _read_bucket(conn: NatsConnection, bucket: str = BUCKET) -> tuple[list[Holder], dict[str, Beat]]:
    """Every key's latest value in one pass: a watch delivers them as one stream of messages
    (its initial values, up to a marker), where listing the keys and then getting each is one
    request-reply per key: 60,000 of them for 60,000 cameras (``LeaseBench`` measures both)."""
    try:
        kv = await conn.js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        return [], {}
    holders: dict[str, Holder] = {}
    beats: dict[str, Beat] = {}
    watcher: Any = await kv.watchall()
    try:
        while (entry := await watcher.updates(timeout=10)) is not None:
            apply_entry(entry, holders, beats)
    finally:
        with contextlib.suppress(Exception):  # the server drops an idle watch by itself
            await watcher.stop()
    return sorted(holders.values(), key=lambda h: h.camera_id), beats


def apply_entry(entry: Any, holders: dict[str, Holder], beats: dict[str, Beat]) -> None:
    """Fold one entry of the leases bucket (a value or a deletion) into holders by camera and
    heartbeats by worker."""
    key: str = entry.key
    if key.startswith("cam."):
        camera = camera_from_token(key[4:])
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            holders.pop(camera, None)  # released
        else:
            d = json.loads(entry.value)
            holders[camera] = Holder(camera, d["worker"], int(entry.revision), float(d["since"]))
    elif key.startswith("wrk."):
        worker = key[4:]
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            beats.pop(worker, None)
        else:
            d = json.loads(entry.value)
            beats[worker] = Beat(worker, float(d["expires_at"]), d.get("host", ""), int(d["cameras"]))


async def _read_bucket_key_by_key(conn: NatsConnection, bucket: str) -> int:
    """The previous read (list the keys, then one get per key), kept for ``LeaseBench``."""
    kv = await conn.js.key_value(bucket)
    n = 0
    for key in await kv.keys():
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            n += bool((await kv.get(key)).value)
    return n


class LeaseManager:
    """Claims a fair share of ``cameras`` for ``worker_id`` and keeps the claims valid.

    Callbacks run on a helper thread, never on the NATS loop: ``on_gain(camera, epoch)``
    after a claim; ``on_lose(camera, reason)`` when a camera must stop *now* (the lease
    lapsed or was taken); ``on_release(camera)`` before a voluntary release, returning once
    the camera has stopped and published its last events (the lease is deleted after).
    """

    def __init__(
        self,
        conn: NatsConnection,
        *,
        worker_id: str,
        cameras: Sequence[str],
        ttl_s: float = 10.0,
        renew_every_s: float = 3.0,
        safety_margin_s: float = 2.0,
        max_cameras: int = 64,
        replicas: int = 1,
        on_gain: Callable[[str, int], None] = lambda c, e: None,
        on_lose: Callable[[str, str], None] = lambda c, r: None,
        on_release: Callable[[str], None] = lambda c: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not worker_id or "." in worker_id or " " in worker_id:
            raise ValueError(f"worker id must be a non-empty token without dots or spaces, got {worker_id!r}")
        self._conn = conn
        self.worker_id = worker_id
        self._cameras = list(dict.fromkeys(cameras))  # a camera configured twice is one camera
        self._ttl = ttl_s
        self._renew = renew_every_s
        self._margin = safety_margin_s
        self._max = max_cameras
        self._replicas = replicas
        self._on_gain = on_gain
        self._on_lose = on_lose
        self._on_release = on_release
        self._clock = clock
        self._lock = threading.Lock()
        self._mine: dict[str, Holder] = {}
        self._valid_until = -math.inf  # monotonic
        self._cams: dict[str, _Seen] = {}
        self._beats: dict[str, Beat] = {}
        self._stop = False
        self._draining = False
        self._kv: KeyValue | None = None
        self._tasks: list[Any] = []
        self.renewals = 0
        self.renewal_failures = 0
        self.reclaims = 0
        """Cameras claimed again after this worker's own lease on them had lapsed."""
        self._lapse_timer: asyncio.TimerHandle | None = None
        self._callbacks: dict[str, deque[tuple[Callable[..., None], tuple[Any, ...]]]] = {}
        self._callbacks_lock = threading.Lock()

    # -- the worker's view ------------------------------------------------------------------

    def start(self) -> LeaseManager:
        self._kv = self._conn.call(open_bucket(self._conn, self._replicas))
        self._conn.call(self._start_watch())
        self._tasks.append(self._conn.spawn(self._run()))
        return self

    def epoch(self, camera_id: str) -> int | None:
        """The epoch under which this worker may publish for ``camera_id`` now, else None."""
        with self._lock:
            holder = self._mine.get(camera_id)
            if holder is None or time.monotonic() >= self._valid_until:
                return None
            return holder.epoch

    def holder(self, camera_id: str) -> Holder | None:
        """Who holds ``camera_id`` (as this worker last saw the bucket)."""
        with self._lock:
            seen = self._cams.get(camera_id)
            return None if seen is None else seen.holder

    def held(self) -> dict[str, Holder]:
        with self._lock:
            return dict(self._mine)

    def assignments(self) -> list[Holder]:
        with self._lock:
            return sorted((s.holder for s in self._cams.values()), key=lambda h: h.camera_id)

    def live_workers(self) -> list[str]:
        now = self._clock()
        with self._lock:
            return sorted(w for w, b in self._beats.items() if b.expires_at > now)

    def stop(self, *, release: bool = True, timeout_s: float = 30.0) -> None:
        """Stop renewing; with ``release``, stop each camera and hand its lease back at once."""
        if release:
            # Keep renewing (without claiming) while cameras stop: stopping one can take
            # longer than the safety margin, and a lease lapsing mid-release would drop the
            # camera's last events (its track ends) at the fence.
            self._draining = True
            for camera in list(self.held()):
                self._on_release(camera)
                try:
                    self._conn.call(self._delete(camera), timeout_s=timeout_s)
                except Exception as exc:  # the lease then lapses after ttl_s instead
                    log.warning("camera %s: lease not released: %s", camera, exc)
        self._stop = True
        for task in self._tasks:
            task.cancel()
        if release:
            try:
                assert self._kv is not None
                self._conn.call(self._kv.delete(f"wrk.{self.worker_id}"), timeout_s=5)
            except Exception as exc:
                log.debug("heartbeat not deleted: %s", exc)

    # -- loop side ------------------------------------------------------------------------

    async def _start_watch(self) -> None:
        assert self._kv is not None
        watcher: Any = await self._kv.watchall()
        # The initial values arrive first, then a None marker.
        while True:
            entry = await watcher.updates(timeout=10)
            if entry is None:
                break
            self._apply(entry)
        self._tasks.append(asyncio.ensure_future(self._watch(watcher)))

    async def _watch(self, watcher: Any) -> None:
        while not self._stop:
            try:
                entry = await watcher.updates(timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            if entry is not None:
                self._apply(entry)

    def _apply(self, entry: Any) -> None:
        key: str = entry.key
        deleted = entry.operation in (KV_DEL, KV_PURGE)
        if key.startswith("wrk."):
            worker = key[4:]
            with self._lock:
                if deleted:
                    self._beats.pop(worker, None)
                else:
                    d = json.loads(entry.value)
                    self._beats[worker] = Beat(worker, float(d["expires_at"]), d.get("host", ""), int(d["cameras"]))
            return
        if not key.startswith("cam."):
            return
        camera = camera_from_token(key[4:])
        lost: str | None = None
        with self._lock:
            if deleted:
                self._cams.pop(camera, None)
                if camera in self._mine:
                    lost = "its lease was deleted"
            else:
                d = json.loads(entry.value)
                holder = Holder(camera, d["worker"], int(entry.revision), float(d["since"]))
                self._cams[camera] = _Seen(holder, int(entry.revision), time.monotonic())
                mine = self._mine.get(camera)
                if mine is not None and mine.epoch != holder.epoch:
                    lost = f"taken by {holder.worker} (epoch {holder.epoch})"
            if lost is not None:
                self._mine.pop(camera, None)
        if lost is not None:
            self._callback(self._on_lose, camera, lost)

    def _callback(self, fn: Callable[..., None], camera: str, *args: Any) -> None:
        """Run ``fn(camera, *args)`` off the loop; one camera's callbacks run in order.

        A camera that lapses and is claimed again at once gets ``on_lose`` then ``on_gain``:
        run on two free threads, the gain could start the new analysis before the loss
        stopped the old one, and the loss would then stop the new one.
        """
        with self._callbacks_lock:
            queued = self._callbacks.get(camera)
            if queued is not None:  # a thread is already running this camera's callbacks
                queued.append((fn, (camera, *args)))
                return
            self._callbacks[camera] = deque([(fn, (camera, *args))])
        threading.Thread(target=self._run_callbacks, args=(camera,), name=f"lease-{camera}", daemon=True).start()

    def _run_callbacks(self, camera: str) -> None:
        while True:
            with self._callbacks_lock:
                queued = self._callbacks[camera]
                if not queued:
                    del self._callbacks[camera]
                    return
                fn, args = queued.popleft()
            try:
                fn(*args)
            except Exception:  # a failing callback must not stop the camera's next ones
                log.exception("camera %s: lease callback %s failed", camera, getattr(fn, "__name__", fn))

    async def _run(self) -> None:
        while not self._stop:
            started = time.monotonic()
            try:
                await self._tick()
            except Exception as exc:  # the top of the lease loop: log, keep going
                log.warning("lease tick failed: %s", exc)
            await asyncio.sleep(max(0.0, self._renew - (time.monotonic() - started)))

    async def _tick(self) -> None:
        assert self._kv is not None
        sent = time.monotonic()
        expires_at = self._clock() + self._ttl
        beat = {"expires_at": expires_at, "host": socket.gethostname(), "cameras": len(self._mine)}
        try:
            # A renewal that answers late still counts (validity runs from when it was *sent*),
            # so wait for it as long as it could still be of use, not only one tick: on a starved
            # machine or a busy R3 cluster a put can take longer than renew_every_s.
            await asyncio.wait_for(
                self._kv.put(f"wrk.{self.worker_id}", json.dumps(beat).encode()),
                max(self._renew, self._ttl - self._margin),
            )
        except Exception as exc:
            self.renewal_failures += 1
            log.warning("worker %s: heartbeat not renewed: %s", self.worker_id, exc)
        else:
            self.renewals += 1
            with self._lock:
                self._valid_until = sent + self._ttl - self._margin
                self._beats[self.worker_id] = Beat(self.worker_id, expires_at, socket.gethostname(), len(self._mine))
            # Stop at the deadline itself, not at the next tick (a stuck renewal delays ticks).
            if self._lapse_timer is not None:
                self._lapse_timer.cancel()
            loop = asyncio.get_running_loop()
            self._lapse_timer = loop.call_at(loop.time() + (self._valid_until - time.monotonic()), self._lapse_if_due)
        if time.monotonic() >= self._valid_until:
            self._lapse()
            return
        if not self._draining:
            await self._balance()

    def _lapse_if_due(self) -> None:
        if time.monotonic() >= self._valid_until:
            self._lapse()

    def _lapse(self) -> None:
        with self._lock:
            lost = list(self._mine)
            self._mine.clear()
        for camera in lost:
            log.warning("camera %s: stopped, the lease could not be renewed within %.0f s", camera, self._ttl)
            self._callback(self._on_lose, camera, "lease not renewed in time")

    def _claimable(self, camera: str, now: float) -> _Seen | bool | None:
        """False: held by a live worker. None: never claimed. Else the expired entry."""
        seen = self._cams.get(camera)
        if seen is None:
            return None
        if seen.holder.worker == self.worker_id:
            # The key names this worker. Held only if this worker holds it now; otherwise the
            # claim is dead (this worker's lease lapsed, or a claim was granted just as it
            # lapsed, or a release failed) although this worker's heartbeat is current again,
            # which keeps every other worker off it: this worker must claim it again or let go.
            return False if camera in self._mine else seen
        beat = self._beats.get(seen.holder.worker)
        if beat is not None:
            return seen if beat.expires_at < now else False
        # No heartbeat for that worker at all: expired once we have seen the claim for ttl_s.
        return seen if time.monotonic() - seen.first_seen > self._ttl else False

    async def _balance(self) -> None:
        now = self._clock()
        with self._lock:
            live = [w for w, b in self._beats.items() if b.expires_at > now] or [self.worker_id]
            mine = set(self._mine)
        target = min(self._max, math.ceil(len(self._cameras) / len(live)))
        if len(mine) > target:
            # A newcomer: give up one camera per tick, the most recently claimed first.
            camera = max(mine, key=lambda c: self._mine[c].since)
            await asyncio.get_running_loop().run_in_executor(None, self._on_release, camera)
            await self._delete(camera)
            return
        want = target - len(mine)
        order = [c for c in self._cameras if c not in mine]
        random.shuffle(order)  # workers starting together spread over different cameras
        with self._lock:
            lapsed = {c for c, s in self._cams.items() if s.holder.worker == self.worker_id and c not in self._mine}
        order.sort(key=lambda c: c not in lapsed)  # this worker's own lapsed claims first: fewer moves
        for camera in order:
            if want <= 0 or self._stop or self._draining:
                break
            with self._lock:
                state = self._claimable(camera, now)
            if state is False:
                continue
            if await self._claim(camera, state if isinstance(state, _Seen) else None):
                want -= 1
        # Lapsed claims beyond this worker's share: delete them, so others may claim them now.
        with self._lock:
            leftover = [(c, s.revision) for c, s in self._cams.items() if c in lapsed and c not in self._mine]
        for camera, revision in leftover:
            if self._stop or self._draining:
                break
            await self._let_go(camera, revision)

    async def _claim(self, camera: str, expired: _Seen | None) -> bool:
        assert self._kv is not None
        key = f"cam.{camera_token(camera)}"
        if expired is not None and expired.holder.worker != self.worker_id and await self._beat_is_current(expired):
            return False
        since = self._clock()
        value = json.dumps({"worker": self.worker_id, "since": since}).encode()
        try:
            if expired is None:
                revision = await self._kv.create(key, value)
            else:
                revision = await self._kv.update(key, value, last=expired.revision)
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.APIError) as exc:
            log.debug("camera %s: claim lost the race: %s", camera, exc)
            return False
        holder = Holder(camera, self.worker_id, int(revision), since)
        with self._lock:
            if time.monotonic() >= self._valid_until:
                return False  # our own heartbeat lapsed meanwhile: the claim lapses with it
            self._mine[camera] = holder
            self._cams[camera] = _Seen(holder, int(revision), time.monotonic())
        if expired is None:
            what = "claimed"
        elif expired.holder.worker == self.worker_id:
            what = f"claimed again after its lease lapsed (was epoch {expired.revision})"
            self.reclaims += 1
        else:
            what = "took over from " + expired.holder.worker
        log.warning("camera %s: %s (epoch %d)", camera, what, revision)
        self._callback(self._on_gain, camera, int(revision))
        return True

    async def _beat_is_current(self, expired: _Seen) -> bool:
        """Read the holder's heartbeat itself before taking a camera over.

        The watch can be behind (an ordered consumer that missed heartbeats is re-created
        only after a few seconds): taking over on its word alone would move a camera away
        from a live worker.
        """
        assert self._kv is not None
        worker = expired.holder.worker
        try:
            entry = await self._kv.get(f"wrk.{worker}")
        except nats.js.errors.KeyNotFoundError:
            return False
        if not entry.value:
            return False
        d = json.loads(entry.value)
        beat = Beat(worker, float(d["expires_at"]), d.get("host", ""), int(d["cameras"]))
        if beat.expires_at < self._clock():
            return False
        with self._lock:
            self._beats[worker] = beat  # the watch had not delivered it yet
        log.debug("camera %s: %s's heartbeat is current after all; not taken over", expired.holder.camera_id, worker)
        return True

    async def _let_go(self, camera: str, revision: int) -> None:
        """Delete this worker's lapsed claim on ``camera`` (it is not analysing it)."""
        assert self._kv is not None
        try:
            await self._kv.delete(f"cam.{camera_token(camera)}", last=revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            return  # someone took it already
        except Exception as exc:  # retried at the next tick
            log.debug("camera %s: lapsed claim not deleted yet: %s", camera, exc)
            return
        log.warning("camera %s: its lapsed lease released (epoch %d); others may claim it", camera, revision)

    async def _delete(self, camera: str) -> None:
        assert self._kv is not None
        with self._lock:
            holder = self._mine.pop(camera, None)
            seen = self._cams.get(camera)
        if holder is None or seen is None:
            return
        with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):  # someone took it already
            await self._kv.delete(f"cam.{camera_token(camera)}", last=seen.revision)
        log.warning("camera %s: released (epoch %d)", camera, holder.epoch)


class LeaseBench:
    """KV operations per second for lease renewals at scale (``bench/scale_load.py leases``)."""

    def __init__(self, conn: NatsConnection, *, n: int, workers: int) -> None:
        self._conn = conn
        self.n = n
        self.workers = workers

    def run(self, rounds: int = 3) -> dict[str, Any]:
        return self._conn.call(self._run(rounds), timeout_s=3600)

    async def _run(self, rounds: int) -> dict[str, Any]:
        kv = await self._conn.js.create_key_value(api.KeyValueConfig(bucket="VIGIL_LEASE_BENCH", history=1))
        js = self._conn.js
        revisions: dict[str, int] = {}

        async def write_all(update: bool) -> float:
            started = time.perf_counter()
            pending: list[Any] = []
            keys: list[str] = []
            for i in range(self.n):
                key = f"cam.c{i:06d}"
                value = json.dumps({"worker": f"w{i % self.workers}", "since": time.time()}).encode()
                headers = {"Nats-Expected-Last-Subject-Sequence": str(revisions[key])} if update else None
                pending.append(await js.publish_async(f"$KV.VIGIL_LEASE_BENCH.{key}", value, headers=headers))
                keys.append(key)
                if len(pending) >= 2000:
                    for k, ack in zip(keys, await asyncio.gather(*pending), strict=True):
                        revisions[k] = ack.seq
                    pending, keys = [], []
            for k, ack in zip(keys, await asyncio.gather(*pending), strict=True):
                revisions[k] = ack.seq
            return time.perf_counter() - started

        create_s = await write_all(update=False)
        renew_s = [await write_all(update=True) for _ in range(rounds)]
        # What the API and `vigil status` do to show every holder: read the whole bucket.
        read_watch_s, read_keys_s = [], []
        for _ in range(2):
            started = time.perf_counter()
            holders, _beats = await _read_bucket(self._conn, "VIGIL_LEASE_BENCH")
            read_watch_s.append(time.perf_counter() - started)
            assert len(holders) == self.n, len(holders)
            started = time.perf_counter()
            assert await _read_bucket_key_by_key(self._conn, "VIGIL_LEASE_BENCH") == self.n
            read_keys_s.append(time.perf_counter() - started)
        await js.delete_key_value("VIGIL_LEASE_BENCH")
        del kv
        best = min(renew_s)
        return {
            "per_camera_keys": {
                "needed_ops_per_s_at_10s": round(self.n / 10),
                "claim_all_s": round(create_s, 2),
                "renew_all_s": [round(s, 2) for s in renew_s],
                "achieved_cas_updates_per_s": round(self.n / best),
            },
            "read_all_holders_s": {
                "one_watch": [round(s, 2) for s in read_watch_s],
                "keys_then_get_each": [round(s, 2) for s in read_keys_s],
            },
        }
