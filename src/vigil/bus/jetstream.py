"""``JetStreamBus``: the :class:`~vigil.bus.base.EventBus` on NATS JetStream (scale-out).

Publishing: ``publish`` encodes the event, sets its id as ``Nats-Msg-Id`` (the server drops a
repeat inside its duplicate window, so a retry after a lost ack stores nothing twice) and hands
it to the loop thread, which publishes asynchronously with a bounded number of acks in flight
(nats-py's synchronous publish waits one round trip per message and tops out near 500/s).
A message whose ack does not come within ``ack_timeout_s``, or that cannot be sent because
NATS is unreachable, goes to the spool and is replayed in order once NATS answers again.

Consuming: one durable pull consumer per stream and subscriber name, so several indexers
sharing a name share the work and a restarted one resumes where the name left off. A batch
is acknowledged only after the handler returns (the indexer: after PostgreSQL committed). A
failing batch is retried message by message, so one bad message cannot hold up the others;
a message that is not a readable event is terminated and counted as a dead letter.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import functools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import api

from vigil.bus.base import BusClosedError, BusError, DeadLetterStats, EventHandler
from vigil.bus.connection import NatsConnection
from vigil.bus.spool import MemorySpool, Spool, SpooledMessage
from vigil.bus.subjects import STREAMS, StreamSpec, subject_for
from vigil.events import AnyEvent, EventDecodeError, parse_event, to_json

log = logging.getLogger(__name__)

HeaderFn = Callable[[AnyEvent], Mapping[str, str] | None]
"""Extra headers for an event (a worker adds its lease epoch)."""


class Delivery:
    """One event as a consumer receives it, with what JetStream knows about it.

    The stream, sequence, time and delivery count are read from the message's reply subject
    only when asked for (the indexer never asks): parsed for every message, with a ``datetime``
    each, they showed as up to a tenth of the consuming loop's samples (much of it the cyclic
    collector, which these allocations set off).
    """

    __slots__ = ("_meta", "_msg", "event", "headers")

    def __init__(
        self,
        event: AnyEvent,
        headers: Mapping[str, str],
        stream: str = "",
        stream_seq: int = 0,
        stored_at: datetime | None = None,
        num_delivered: int = 1,
        *,
        msg: Msg | None = None,
    ) -> None:
        self.event = event
        self.headers = headers
        self._msg = msg
        self._meta: tuple[str, int, datetime, int] | None = (
            None if msg is not None else (stream, stream_seq, stored_at or datetime.now(UTC), num_delivered)
        )

    def _metadata(self) -> tuple[str, int, datetime, int]:
        if self._meta is None:
            assert self._msg is not None
            self._meta = _msg_metadata(self._msg)
        return self._meta

    @property
    def stream(self) -> str:
        return self._metadata()[0]

    @property
    def stream_seq(self) -> int:
        return self._metadata()[1]

    @property
    def stored_at(self) -> datetime:
        """When the stream stored it (the server's clock)."""
        return self._metadata()[2]

    @property
    def num_delivered(self) -> int:
        return self._metadata()[3]


BatchHandler = Callable[[Sequence[Delivery]], None]
"""Handles a batch; returning means all of it is done (acked). Raising: retried one by one."""


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """How streams are created: replicas and whether every write is fsynced first."""

    replicas: int = 1
    duplicate_window_s: float = 120.0
    max_age_scale: float = 1.0
    """Multiplies each stream's ``max_age_s`` (tests shrink it)."""


@dataclass(slots=True)
class PublishStats:
    """Counters of the publishing side (read from any thread)."""

    published: int = 0
    acked: int = 0
    spooled: int = 0
    replayed: int = 0
    dropped: int = 0
    retried: int = 0


@dataclass(slots=True)
class _Out:
    subject: str
    data: bytes
    headers: dict[str, str]
    seq: int = 0

    def spooled(self) -> SpooledMessage:
        return SpooledMessage(self.subject, self.data, self.headers)


@dataclass(slots=True)
class _Sub:
    name: str
    handler: BatchHandler
    batch: int
    max_wait_s: float
    executor: ThreadPoolExecutor
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    handled: int = 0
    dead: DeadLetterStats = field(default_factory=DeadLetterStats)
    stop: bool = False
    backoff: float = 0.2
    """Delay before a message of a failed batch is redelivered (doubles while batches fail)."""
    parallel: int = 1
    """Batches of one stream in the handler at once (``subscribe_batch``)."""


async def ensure_streams(conn: NatsConnection, options: StreamOptions) -> None:
    """Create Vigil's streams, or update them to ``options`` (idempotent)."""
    deadline = time.monotonic() + 30.0
    for spec in STREAMS:
        while True:
            try:
                await _ensure_stream(conn, spec, options)
                break
            except (nats.js.errors.ServiceUnavailableError, nats.errors.TimeoutError, nats.js.errors.APIError) as exc:
                # A cluster that just started has no meta leader yet for a few seconds.
                if time.monotonic() > deadline:
                    raise BusError(f"cannot create stream {spec.name}: {exc}") from exc
                await asyncio.sleep(0.5)


async def _ensure_stream(conn: NatsConnection, spec: StreamSpec, options: StreamOptions) -> None:
    replicas = options.replicas if options.replicas == 1 else max(options.replicas, spec.min_replicas)
    config = api.StreamConfig(
        name=spec.name,
        subjects=spec.subjects,
        retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        max_age=spec.max_age_s * options.max_age_scale,
        duplicate_window=options.duplicate_window_s,
        num_replicas=replicas,
    )
    try:
        await conn.js.stream_info(spec.name)
    except nats.js.errors.NotFoundError:
        await conn.js.add_stream(config)
    else:
        await conn.js.update_stream(config)


class JetStreamBus:
    """Publish/subscribe for events on JetStream; see the module docstring.

    Args:
        conn: an open connection (the bus does not close it).
        spool: where messages wait while NATS cannot take them (default: in memory).
        headers: extra headers per event (lease epoch and worker id, from a worker).
        max_in_flight: publishes awaiting an ack at once.
        ack_timeout_s: after this a publish counts as failed and its message is spooled.
        outbox_size: events ``publish`` may queue before it blocks (back-pressure).
        streams: create/update the streams with these options first (None: assume they exist).
    """

    def __init__(
        self,
        conn: NatsConnection,
        *,
        spool: Spool | None = None,
        headers: HeaderFn | None = None,
        max_in_flight: int = 2048,
        ack_timeout_s: float = 5.0,
        outbox_size: int = 20_000,
        streams: StreamOptions | None = StreamOptions(),
        ack_journal: Path | None = None,
    ) -> None:
        self._conn = conn
        # One event id per line as JetStream acknowledges it (appended with one write each):
        # what the fault tests check against the store after a kill -9.
        self._journal = open(ack_journal, "a", buffering=1) if ack_journal is not None else None  # noqa: SIM115
        self._spool: Spool = spool if spool is not None else MemorySpool()
        self._headers = headers
        self._max_in_flight = max_in_flight
        self._ack_timeout_s = ack_timeout_s
        self._slots = threading.BoundedSemaphore(outbox_size)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._outstanding = 0  # published, not yet acked, spooled-and-replayed or dropped
        self._closed = False
        self.stats = PublishStats()
        self._subs: list[_Sub] = []
        if streams is not None:
            conn.call(ensure_streams(conn, streams))
        self._queue: asyncio.Queue[_Out | None] = conn.call(_make_queue())
        self._inflight: deque[tuple[_Out, asyncio.Future[Any], float]] = deque()
        self._replaying = False
        self._in_flight_n = 0
        self._retry: list[_Out] = []  # failed in flight: replayed before the spool
        self._outstanding += len(self._spool)  # a previous run's spool is ours to deliver
        self._pump_task = conn.spawn(self._pump())
        self._replay_task = conn.spawn(self._replay())
        self._watch_task = conn.spawn(self._watchdog())

    # -- EventBus: publishing ---------------------------------------------------------------

    def publish(self, event: AnyEvent, *, headers: Mapping[str, str] | None = None) -> None:
        """Queue ``event`` for JetStream; blocks only while ``outbox_size`` events are queued.

        ``headers`` travel with the message (a worker's lease epoch), besides the event id.

        Raises:
            BusClosedError: after :meth:`close`.
        """
        extra_headers = headers
        headers = {"Nats-Msg-Id": event.event_id, **(extra_headers or {})}
        if self._headers is not None:
            extra = self._headers(event)
            if extra:
                headers.update(extra)
        out = _Out(subject_for(event.type, event.camera_id), to_json(event), headers)
        self._slots.acquire()
        with self._lock:
            if self._closed:
                self._slots.release()
                raise BusClosedError(f"cannot publish {event.type} {event.event_id}: the bus is closed")
            self._outstanding += 1
            self.stats.published += 1
            out.seq = self.stats.published
        self._conn.loop.call_soon_threadsafe(self._queue.put_nowait, out)

    def flush(self, timeout_s: float) -> bool:
        """Wait until every event published so far is acknowledged by JetStream (or dropped)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._outstanding == 0, timeout=timeout_s)

    @property
    def outstanding(self) -> int:
        """Events published but not yet acknowledged (queued, in flight or spooled)."""
        with self._lock:
            return self._outstanding

    @property
    def spooled_now(self) -> int:
        return len(self._spool)

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop accepting events, wait up to ``timeout_s`` for acks, stop the consumers.

        Whatever is still unacknowledged stays in a file spool for the next run (an in-memory
        spool's content is reported as lost).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if not self.flush(timeout_s):
            log.error(
                "bus closed with %d events not yet acknowledged by NATS (%d in the spool)",
                self.outstanding,
                len(self._spool),
            )
        for sub in self._subs:
            sub.stop = True
        with contextlib.suppress(Exception):
            self._conn.call(self._stop_tasks(), timeout_s=10)
        for sub in self._subs:
            sub.executor.shutdown(wait=True)
        self._spool.close()
        if self._journal is not None:
            self._journal.close()

    # -- EventBus: subscribing --------------------------------------------------------------

    def subscribe(self, handler: EventHandler, *, name: str) -> None:
        """Deliver every event to ``handler`` one at a time (acked after it returns)."""

        def one_by_one(batch: Sequence[Delivery]) -> None:
            for d in batch:
                handler(d.event)

        self.subscribe_batch(one_by_one, name=name, batch=1)

    def subscribe_batch(
        self,
        handler: BatchHandler,
        *,
        name: str,
        batch: int = 500,
        max_wait_s: float = 0.2,
        streams: Sequence[str] | None = None,
        max_ack_pending: int = 20_000,
        parallel: int = 1,
    ) -> None:
        """Deliver batches of up to ``batch`` events from each stream to ``handler``.

        ``name`` is the durable consumer name: processes using the same name share the work.
        ``streams`` limits it to some streams (default: every stream of events).
        ``max_ack_pending`` bounds the unacknowledged events of the durable consumer, shared by
        every process bound to it; a consumer created earlier with another bound is updated.
        ``parallel``: batches of one stream handled at once. Above 1, ``handler`` runs for every
        stream at once (a thread per batch in hand), so it must be thread-safe, and a stream's
        batches may finish out of fetch order (each is acknowledged when its own handler
        returned); by default one thread handles every stream's batches in turn, one at a time.
        """
        with self._lock:
            if self._closed:
                raise BusClosedError(f"cannot subscribe {name!r}: the bus is closed")
            if any(s.name == name for s in self._subs):
                raise ValueError(f"a subscriber named {name!r} already exists")
        wanted = (
            [s for s in STREAMS if s.name in streams] if streams is not None else [s for s in STREAMS if s.holds_events]
        )
        if parallel < 1:
            raise ValueError(f"parallel must be at least 1, not {parallel}")
        threads = len(wanted) * parallel if parallel > 1 else 1
        sub = _Sub(
            name,
            handler,
            batch,
            max_wait_s,
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"bus-{name}"),
            parallel=parallel,
        )
        psubs = self._conn.call(self._bind(name, wanted, max_ack_pending))
        for spec, psub in zip(wanted, psubs, strict=True):
            sub.tasks.append(self._conn.call(_start(self._consume(sub, spec, psub))))
        self._subs.append(sub)

    def dead_letters(self) -> dict[str, DeadLetterStats]:
        """Messages each subscriber terminated because they were not readable events."""
        return {s.name: s.dead for s in self._subs}

    def handled(self, name: str) -> int:
        """Events subscriber ``name`` has acknowledged in this process."""
        for s in self._subs:
            if s.name == name:
                return s.handled
        raise KeyError(f"no subscriber named {name!r}")

    # -- loop side: publishing -------------------------------------------------------------

    def _done(self, n: int = 1, *, acked: int = 0, dropped: int = 0, replayed: int = 0) -> None:
        with self._cond:
            self._outstanding -= n
            self.stats.acked += acked
            self.stats.dropped += dropped
            self.stats.replayed += replayed
            self._cond.notify_all()

    def _to_spool(self, out: _Out) -> None:
        self._slots.release()
        if self._spool.append(out.spooled()):
            self.stats.spooled += 1
        else:
            self._done(dropped=1)

    async def _pump(self) -> None:
        js = self._conn.js
        while True:
            out = await self._queue.get()
            if out is None:
                return
            if self._replaying or self._retry or len(self._spool) or not self._conn.connected:
                self._to_spool(out)
                continue
            while self._in_flight_n >= self._max_in_flight:
                await asyncio.sleep(0.001)
            try:
                future = await js.publish_async(out.subject, out.data, headers=out.headers)
            except Exception as exc:  # disconnected between the check and the send
                log.debug("publish of %s failed: %s", out.headers.get("Nats-Msg-Id"), exc)
                self._to_spool(out)
                continue
            self._in_flight_n += 1
            self._inflight.append((out, future, time.monotonic() + self._ack_timeout_s))
            future.add_done_callback(functools.partial(self._on_ack, out))

    def _on_ack(self, out: _Out, future: asyncio.Future[Any]) -> None:
        self._in_flight_n -= 1
        if future.cancelled() or future.exception() is not None:
            # Ahead of everything spooled since (it was sent before them): the replay sends
            # these first, in publish order, so a stream never sees them out of order.
            self.stats.retried += 1
            self._slots.release()
            bisect.insort(self._retry, out, key=lambda o: o.seq)
            return
        self._slots.release()
        if self._journal is not None:
            self._journal.write(out.headers["Nats-Msg-Id"] + "\n")
        self._done(acked=1)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            while self._inflight and (self._inflight[0][1].done() or self._inflight[0][2] <= now):
                _out, future, _deadline = self._inflight.popleft()
                if not future.done():
                    future.cancel()  # its done-callback spools the message for a retry

    async def _replay(self) -> None:
        js = self._conn.js
        delay = 0.1
        while True:
            if not (self._retry or len(self._spool)) or not self._conn.connected:
                self._replaying = False
                await asyncio.sleep(0.05)
                continue
            self._replaying = True
            # Let what is already in flight land (or fail into the retry list) first.
            while self._in_flight_n:
                await asyncio.sleep(0.01)
            if self._retry:
                await self._resend_retries(js)
                continue
            batch = self._spool.peek(256)
            futures = []
            try:
                for msg in batch:
                    futures.append(await js.publish_async(msg.subject, msg.data, headers=msg.headers))
                results = await asyncio.wait_for(
                    asyncio.gather(*futures, return_exceptions=True), timeout=self._ack_timeout_s
                )
            except Exception as exc:
                for f in futures:
                    f.cancel()
                log.debug("spool replay stalled: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            ok = 0
            for r in results:
                if isinstance(r, BaseException):
                    break
                ok += 1
            if self._journal is not None:
                self._journal.write("".join(m.headers["Nats-Msg-Id"] + "\n" for m in batch[:ok]))
            self._spool.commit(ok)
            self._done(ok, acked=ok, replayed=ok)
            if ok < len(batch):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            else:
                delay = 0.1

    async def _resend_retries(self, js: Any) -> None:
        batch, self._retry = self._retry, []
        futures: list[asyncio.Future[Any]] = []
        try:
            for out in batch:
                futures.append(await js.publish_async(out.subject, out.data, headers=out.headers))
            results = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), self._ack_timeout_s)
        except Exception:
            for f in futures:
                f.cancel()
            self._retry = batch + self._retry
            await asyncio.sleep(0.2)
            return
        failed = [out for out, r in zip(batch, results, strict=True) if isinstance(r, BaseException)]
        ok = len(batch) - len(failed)
        if self._journal is not None:
            done = [o for o, r in zip(batch, results, strict=True) if not isinstance(r, BaseException)]
            self._journal.write("".join(o.headers["Nats-Msg-Id"] + "\n" for o in done))
        self._done(ok, acked=ok, replayed=ok)
        if failed:
            self._retry = failed + self._retry
            await asyncio.sleep(0.2)

    # -- loop side: consuming ----------------------------------------------------------------

    async def _bind(self, name: str, specs: Sequence[StreamSpec], max_ack_pending: int) -> list[Any]:
        out = []
        for spec in specs:
            config = api.ConsumerConfig(
                durable_name=name,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=30.0,
                max_deliver=-1,  # a store outage must never turn events into dead letters
                max_ack_pending=max_ack_pending,
                deliver_policy=api.DeliverPolicy.ALL,
            )
            psub = await self._conn.js.pull_subscribe("", durable=name, stream=spec.name, config=config)
            # pull_subscribe binds to an existing durable as it is: a deployment that grew to more
            # indexers raises the shared bound here (the server updates it in place).
            info = await self._conn.js.consumer_info(spec.name, name)
            if info.config.max_ack_pending != max_ack_pending:
                await self._conn.js.add_consumer(spec.name, info.config.evolve(max_ack_pending=max_ack_pending))
                log.warning(
                    "consumer %s on %s: max_ack_pending %s -> %d",
                    name,
                    spec.name,
                    info.config.max_ack_pending,
                    max_ack_pending,
                )
            out.append(psub)
        return out

    async def _consume(self, sub: _Sub, spec: StreamSpec, psub: Any) -> None:
        # Pipelined: while the handler stores batch N (the indexer: a PostgreSQL transaction),
        # this loop already fetches and decodes batch N + 1. At most ``sub.parallel`` batches
        # per stream are being handled at a time (the indexer: each in its own transaction on
        # its own connection, as several indexers sharing the consumer would), and a batch is
        # acknowledged only after its own handler returned, so "ack after commit" holds as before.
        loop = asyncio.get_running_loop()
        in_hand: collections.deque[asyncio.Future[None]] = collections.deque()
        while not (sub.stop or self._conn.closing):
            deliveries = await self._fetch(sub, spec, psub)
            while in_hand and (in_hand[0].done() or len(in_hand) >= sub.parallel):
                await in_hand.popleft()
            if deliveries:
                future = loop.run_in_executor(sub.executor, sub.handler, [d for _, d in deliveries])
                in_hand.append(asyncio.ensure_future(self._settle(sub, spec, deliveries, future)))
        while in_hand:
            await in_hand.popleft()

    async def _fetch(self, sub: _Sub, spec: StreamSpec, psub: Any) -> list[tuple[Msg, Delivery]]:
        try:
            msgs: list[Msg] = await _pull(psub, sub.batch, sub.max_wait_s)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        except Exception as exc:  # disconnected, or the stream's leader is moving
            log.debug("%s/%s: fetch failed: %s", sub.name, spec.name, exc)
            await asyncio.sleep(0.2)
            return []
        deliveries: list[tuple[Msg, Delivery]] = []
        for msg in msgs:
            try:
                deliveries.append((msg, _delivery(msg)))
            except EventDecodeError as exc:
                sub.dead = DeadLetterStats(sub.dead.count + 1, str(exc), (msg.headers or {}).get("Nats-Msg-Id"))
                log.error("%s/%s: dropped an unreadable message: %s", sub.name, spec.name, exc)
                await msg.term()
        return deliveries

    async def _settle(
        self, sub: _Sub, spec: StreamSpec, deliveries: list[tuple[Msg, Delivery]], future: asyncio.Future[None]
    ) -> None:
        """Acknowledge a handled batch, or retry it message by message if the handler failed."""
        try:
            await future
        except Exception as exc:
            log.warning(
                "%s/%s: a batch of %d failed (%s); retrying one by one", sub.name, spec.name, len(deliveries), exc
            )
            await self._one_by_one(sub, deliveries, sub.backoff)
            sub.backoff = min(sub.backoff * 2, 5.0)
            return
        sub.backoff = 0.2
        await _ack_each([msg for msg, _ in deliveries])
        sub.handled += len(deliveries)

    async def _one_by_one(self, sub: _Sub, deliveries: list[tuple[Msg, Delivery]], delay: float) -> None:
        loop = asyncio.get_running_loop()
        for msg, d in deliveries:
            try:
                await loop.run_in_executor(sub.executor, sub.handler, [d])
            except Exception as exc:
                log.warning(
                    "%s: %s %s not handled (%s); redelivered in %.1f s",
                    sub.name,
                    d.event.type,
                    d.event.event_id,
                    exc,
                    delay,
                )
                await msg.nak(delay=delay)
                continue
            await msg.ack()
            sub.handled += 1

    async def _stop_tasks(self) -> None:
        await self._queue.put(None)
        for task in (self._replay_task, self._watch_task):
            task.cancel()
        for sub in self._subs:
            for t in sub.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(t, timeout=sub.max_wait_s + 2)


_TERMINAL = frozenset({"404", "408", "409"})
"""Pull-request statuses after which no more messages come for it (no messages, expired, …)."""


async def _pull(psub: Any, batch: int, timeout: float) -> list[Msg]:
    """One pull request for up to ``batch`` messages, waiting at most ``timeout`` seconds.

    What ``PullSubscription.fetch`` does, without its per-message cost: nats-py awaits every
    message with a task of its own (named by ``uuid4``) under ``wait_for``, a fifth of the
    indexer's consuming loop. This takes whatever the connection already parsed into the
    subscription's queue without waiting, and waits only when the queue is empty. It reads
    nats-py's subscription queue (``_sub._pending_queue``, as ``fetch`` itself does) and keeps
    its pending-bytes count; another nats-py falls back to ``fetch``.
    """
    sub: Any = getattr(psub, "_sub", None)
    queue = getattr(sub, "_pending_queue", None)
    if queue is None or not hasattr(sub, "_pending_size") or not hasattr(psub, "_nms"):
        fetched: list[Msg] = await psub.fetch(batch, timeout=timeout)
        return fetched
    msgs: list[Msg] = []

    def take(msg: Msg) -> str | None:
        sub._pending_size -= len(msg.data)
        status: str | None = msg.headers.get("Status") if msg.headers else None
        if status is None:
            msgs.append(msg)
        return status

    while not queue.empty() and len(msgs) < batch:
        take(queue.get_nowait())  # left by an earlier request; a status there is stale
    if len(msgs) >= batch:
        return msgs
    request = {"batch": batch - len(msgs), "expires": int(timeout * 1e9)}
    await psub._nc.publish(psub._nms, json.dumps(request).encode(), psub._deliver)
    deadline = time.monotonic() + timeout
    while len(msgs) < batch:
        if queue.empty():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                msg = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                break
        else:
            msg = queue.get_nowait()
        if take(msg) in _TERMINAL:
            break
    if not msgs:
        raise nats.errors.TimeoutError
    return msgs


async def _ack_each(msgs: Sequence[Msg]) -> None:
    """Acknowledge each message on its own reply subject, all of them in one write.

    Exactly ``msg.ack()`` per message (an explicit ack of that message alone, never AckAll,
    which would acknowledge what another indexer sharing the consumer has not committed),
    without nats-py's per-publish work: a subject check, a command, a flush request each.
    It appends the same ``PUB <reply> 0`` commands to nats-py's pending buffer
    (``_send_command``) and asks for one flush; while disconnected, or on another nats-py,
    it acks one by one as before (nats-py buffers or refuses those itself).
    """
    if not msgs:
        return
    nc: Any = msgs[0]._client
    send = getattr(nc, "_send_command", None)
    flush = getattr(nc, "_flush_pending", None)
    if send is None or flush is None or not nc.is_connected or any(m._ackd or not m.reply for m in msgs):
        for msg in msgs:
            await msg.ack()
        return
    await send(b"".join(b"PUB " + m.reply.encode() + b" 0\r\n\r\n" for m in msgs))
    for msg in msgs:
        msg._ackd = True
    await flush()


async def _make_queue() -> asyncio.Queue[_Out | None]:
    return asyncio.Queue()


async def _start(coro: Any) -> asyncio.Task[None]:
    return asyncio.ensure_future(coro)


def _delivery(msg: Msg) -> Delivery:
    return Delivery(parse_event(msg.data), msg.headers or {}, msg=msg)


def _msg_metadata(msg: Msg) -> tuple[str, int, datetime, int]:
    parsed = _ack_metadata(msg.reply)
    if parsed is None:  # not a reply subject this knows: nats-py's own parser decides
        meta = msg.metadata
        stored = meta.timestamp if meta.timestamp is not None else datetime.now(UTC)
        parsed = (meta.stream, meta.sequence.stream, stored, meta.num_delivered)
    stream, stream_seq, stored, num_delivered = parsed
    return stream, stream_seq, stored if stored.tzinfo else stored.replace(tzinfo=UTC), num_delivered


def _ack_metadata(reply: str | None) -> tuple[str, int, datetime, int] | None:
    """(stream, stream sequence, stored at, deliveries) from a JetStream reply subject.

    What ``Msg.metadata`` reads, for the fields a delivery carries: nats-py builds three
    frozen dataclasses per message for it (6 % of the indexer's samples). The subject is
    ``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>``,
    or with ``<domain>.<account hash>`` before the stream (and a token after) on newer
    servers. None: another shape (``msg.metadata`` then decides, or raises).
    """
    if not reply or not reply.startswith("$JS.ACK."):
        return None
    tokens = reply.split(".")
    n = len(tokens)
    at = 2 if n == 9 else 4 if n >= 11 else 0
    if not at:
        return None
    try:
        return (
            tokens[at],
            int(tokens[at + 3]),
            datetime.fromtimestamp(int(tokens[at + 5]) / 1e9, UTC),
            int(tokens[at + 2]),
        )
    except ValueError:
        return None


__all__ = ["BusError", "Delivery", "JetStreamBus", "StreamOptions", "ensure_streams"]
