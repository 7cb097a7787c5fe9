"""``vigil indexer``: consumes the bus and writes PostgreSQL, exactly once per event id.

Several indexers may run with the same consumer name: JetStream shares the messages between
them, and a redelivered message (an indexer killed between its commit and its ack) is skipped
by the ``ON CONFLICT DO NOTHING`` on the event id. A batch is acknowledged only after its
transaction committed, so an acknowledged event is never lost to an indexer crash.

Alerts: for every candidate of a committed batch the indexer publishes its alert to
``VIGIL_ALERTS`` (built from the stored record, as the embedded mode's poller builds it) and
waits for JetStream's ack before acknowledging the batch. A candidate the indexer refused
(removed entry, stale epoch) never becomes an alert; one redelivered after a crash is
published again and dropped by the server's duplicate window or the dispatchers' ledger.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from vigil.bus.alerts import publish_alerts
from vigil.bus.connection import NatsConnection
from vigil.bus.jetstream import Delivery, JetStreamBus, StreamOptions
from vigil.bus.leases import EPOCH_HEADER, PUBLISHED_HEADER, SINCE_HEADER
from vigil.bus.lists import ListsPublisher
from vigil.config import VigilConfig
from vigil.core.errors import NotFoundError
from vigil.events import AnyEvent, CandidateRaised
from vigil.governance.alerts import Alert, candidate_alert
from vigil.store.facade import Store
from vigil.workers.recovery import orphan_ended
from vigil.workers.scale_lists import run_lists_publisher
from vigil.workers.scale_wiring import masked, nats_settings, open_store_with_backoff, store_url

log = logging.getLogger(__name__)

ORPHANS_PAGE = 1000
"""Open tracks of a camera ended with a stored reason per takeover (more: closed without one)."""
PARTITIONS_EVERY_S = 3600.0
"""How often an indexer makes sure the coming week's day partitions exist (PostgreSQL)."""
CONSUMER = "indexer"
"""Durable consumer name every indexer shares."""


@dataclass(slots=True)
class IndexerStats:
    batches: int = 0
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    fenced: int = 0
    orphans_ended: int = 0
    candidates_refused: int = 0
    alerts_published: int = 0


AlertSink = Callable[[Sequence[Alert]], None]
"""Publishes alerts and returns once they are durable (raises otherwise: the batch is retried)."""


class EpochFence:
    """The indexer's side of lease fencing: a stale epoch's events after a takeover are refused.

    Workers stamp every event with their lease epoch, the time the lease began and the time
    they published it. Once this indexer has seen epoch ``e2`` (granted at ``t2``) for a
    camera, an event of an older epoch published at or after ``t2`` came from a worker that no
    longer owned the camera (it was paused or partitioned past its lease) and is dropped.
    Older-epoch events published before ``t2`` are the previous owner's legitimate backlog
    (also when they arrive late, from its spool) and are stored.
    """

    def __init__(self, newest: dict[str, tuple[int, float]] | None = None) -> None:
        self._newest: dict[str, tuple[int, float]] = dict(newest or {})
        self.takeovers: list[tuple[str, float]] = []
        """(camera, since) of every newer epoch seen after an older one: tracks to end."""
        self.raised: dict[str, tuple[int, float]] = {}
        """Cameras whose newest epoch rose since the last :meth:`Indexer` persist (to store)."""

    def admit(self, d: Delivery) -> bool:
        raw_epoch = d.headers.get(EPOCH_HEADER)
        if raw_epoch is None:
            return True  # not from a leased worker (embedded tools, replays)
        epoch = int(raw_epoch)
        since = float(d.headers.get(SINCE_HEADER) or 0.0)
        camera = d.event.camera_id
        newest = self._newest.get(camera)
        if newest is None or epoch > newest[0]:
            self._newest[camera] = self.raised[camera] = (epoch, since)
            if newest is not None:
                self.takeovers.append((camera, since))
            return True
        if epoch == newest[0]:
            return True
        # When the worker acted (published), not when the frame was taken: a recording's frame
        # times are video times, and a spooled backlog is published late but legitimately.
        published = d.headers.get(PUBLISHED_HEADER)
        acted_at = float(published) if published else d.event.occurred_at.timestamp()
        return acted_at < newest[1]


class Indexer:
    """The batch handler: one transaction per batch (raises StoreError: the bus retries)."""

    def __init__(self, store: Store, alerts: AlertSink | None = None) -> None:
        self._store = store
        self._alerts = alerts
        self.stats = IndexerStats()
        self._lock = threading.Lock()
        # From the stored epochs, so a takeover that happened while this indexer was down (or
        # that another indexer saw first) is still recognised (store/epochs.py).
        self._fence = EpochFence(store.epochs.newest())

    def handle(self, batch: Sequence[Delivery]) -> None:
        with self._lock:
            admitted = [d for d in sorted(batch, key=_epoch_order) if self._fence.admit(d)]
        fenced = len(batch) - len(admitted)
        expiry: dict[tuple[str, str], datetime | None] = {}  # one lookup per list entry per batch
        admitted = [d for d in admitted if self._entry_still_listed(d.event, expiry)]
        if fenced:
            log.warning("indexer: refused %d events from a worker whose camera lease had moved on", fenced)
        new = self._store.events.add_batch(d.event for d in admitted)
        self._end_orphans()
        self._persist_epochs()
        self._publish_alerts([d.event for d in admitted if isinstance(d.event, CandidateRaised)])
        with self._lock:
            self.stats.batches += 1
            self.stats.received += len(batch)
            self.stats.stored += len(new)
            self.stats.duplicates += len(admitted) - len(new)
            self.stats.fenced += fenced

    def _publish_alerts(self, candidates: Sequence[CandidateRaised]) -> None:
        # Also for candidates stored by an earlier delivery of this batch (the indexer died
        # between its commit and the alert's ack): the alert must not be lost with it.
        if self._alerts is None or not candidates:
            return
        alerts = [candidate_alert(c) for c in self._store.candidates.get_many([c.event_id for c in candidates])]
        self._alerts(alerts)
        with self._lock:
            self.stats.alerts_published += len(alerts)

    def _entry_still_listed(self, event: AnyEvent, expiry: dict[tuple[str, str], datetime | None]) -> bool:
        """A candidate whose list entry was removed, or had expired when it was seen, is refused.

        A worker matches against its copy of the lists, which may lag a removal by up to the
        staleness bound (longer for a partitioned worker replaying its spool). The database
        is the authority: the entry must still exist and have been unexpired at the sighting.
        """
        if not isinstance(event, CandidateRaised):
            return True
        key = (event.kind, event.list_entry_id)
        if key not in expiry:
            try:
                if event.kind == "face":
                    expiry[key] = self._store.faces.get(event.list_entry_id).expires_at
                else:
                    expiry[key] = self._store.plates.get_entry(event.list_entry_id).expires_at
            except NotFoundError:
                expiry[key] = None
        expires_at = expiry[key]
        if expires_at is not None and expires_at > event.occurred_at:
            return True
        with self._lock:
            self.stats.candidates_refused += 1
        log.warning(
            "indexer: refused candidate %s: %s entry %s is no longer listed (removed or expired)",
            event.event_id,
            event.kind,
            event.list_entry_id,
        )
        return False

    def _persist_epochs(self) -> None:
        # After the orphans are ended: a crash before this makes the next start see the
        # takeover again (ending orphans is idempotent); one after it has nothing left to do.
        with self._lock:
            raised, self._fence.raised = self._fence.raised, {}
        try:
            self._store.epochs.raise_to(raised)
        except BaseException:
            with self._lock:
                self._fence.raised = {**raised, **self._fence.raised}
            raise

    def _end_orphans(self) -> None:
        with self._lock:
            takeovers, self._fence.takeovers = self._fence.takeovers, []
        for i, (camera, since) in enumerate(takeovers):
            try:
                self._end_orphans_of(camera, since)
            except BaseException:
                # The batch is redelivered (the store failed); the fence has already moved on,
                # so keep what is left to end for the next batch rather than forget it.
                with self._lock:
                    self._fence.takeovers = takeovers[i:] + self._fence.takeovers
                raise

    def _end_orphans_of(self, camera: str, since: float) -> None:
        # The previous holder's open tracks will never see their track.ended: the worker
        # died or lost the camera. End those last seen before the new lease began, with a
        # stored track.ended saying why (as the embedded mode does for a killed process).
        before = datetime.fromtimestamp(since, UTC)
        reason = (
            f"orphaned: the worker holding camera {camera} lost its lease (taken over at "
            f"{before.isoformat(timespec='seconds')}) without ending this track; ended by the indexer"
        )
        open_tracks = self._store.tracks.list(camera_id=camera, ended=False, limit=ORPHANS_PAGE)
        ends = [
            # A fixed id per track: several indexers that each see the takeover store one.
            orphan_ended(self._store, t, before, reason, event_id=_orphan_id(t.track_id))
            for t in open_tracks
            if t.last_seen < before
        ]
        self._store.events.add_batch(ends)
        # Beyond the page (or folded meanwhile): closed without an event, counted the same.
        ended = [t.track_id for t in ends] + self._store.tracks.end_orphans(camera, before=before)
        if ended:
            with self._lock:  # batches of several streams are handled at once (indexer_parallel)
                self.stats.orphans_ended += len(ended)
            log.warning(
                "camera %s: ended %d tracks orphaned by the previous lease holder (reason: lease moved)",
                camera,
                len(ended),
            )


def _orphan_id(track_id: str) -> str:
    return "orphan-end-" + hashlib.sha256(track_id.encode()).hexdigest()[:32]


def _create_partitions_ahead(store: Store) -> None:
    # Ahead of the batches, so the create's brief lock on each parent never waits behind one;
    # a batch for a day without a partition (a replayed spool) still creates its own.
    try:
        store.partitions.create_ahead(datetime.now(UTC))
    except Exception as exc:  # the database is away: the batches retry, and so does this
        log.warning("indexer: could not create the coming days' partitions: %s", str(exc).splitlines()[0])


def _wire(alert: Alert) -> tuple[str, str, bytes]:
    key = alert.key or ""
    return alert.camera_id, key, json.dumps(alert.to_json(), sort_keys=True).encode()


def _epoch_order(d: Delivery) -> int:
    # Newer epochs first inside a batch, so a stale event in the same batch meets the new epoch.
    return -int(d.headers.get(EPOCH_HEADER) or 0)


GC_THRESHOLDS = (50_000, 20, 100)
"""The indexer's collector thresholds (Python's default: 700, 10, 10)."""


def _tune_gc() -> None:
    """Keep the cyclic collector from rescanning the batches in flight over and over.

    Every event of a batch (a pydantic model, its nested models, its ``Delivery``) lives until
    the batch is committed, so at the default thresholds the young collections scan tens of
    thousands of survivors again and again, and each one promoted counts towards a full
    collection: in a loop that decodes and dumps batches, a third of its CPU (measured with
    ``bench/scale_load.py``'s event mix after importing what ``vigil indexer`` imports: 35 us
    per event at the defaults, 26 with these settings, 24 with the collector off). What was
    built at start (modules, models, the engine) is frozen out of every collection; cycles are
    still collected, less often.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_indexer(cfg: VigilConfig, stop: threading.Event, *, report_every_s: float = 10.0) -> IndexerStats:
    """Index until ``stop`` is set; returns the counters.

    Raises:
        BusAuthError, StoreError: wrong credentials or a failed migration (not retried).
    """
    url = store_url(cfg)
    conn = NatsConnection.connect_with_backoff(nats_settings(cfg, "vigil-indexer"), stop=stop)
    try:
        store = open_store_with_backoff(url, stop, partition_hours=cfg.store.partition_hours)
        try:
            bus = JetStreamBus(conn, streams=StreamOptions(replicas=cfg.scale.nats.replicas))
            indexer = Indexer(store, alerts=lambda alerts: publish_alerts(conn, [_wire(a) for a in alerts]))
            bus.subscribe_batch(
                indexer.handle,
                name=CONSUMER,
                batch=cfg.scale.indexer_batch,
                max_ack_pending=cfg.scale.indexer_max_ack_pending,
                parallel=cfg.scale.indexer_parallel,
            )
            lists_stop = threading.Event()
            publisher = ListsPublisher(conn, cfg.scale.nats.replicas)
            lists_thread = run_lists_publisher(publisher, store, lists_stop)
            _tune_gc()
            log.warning("indexer: consuming %s into %s", ", ".join(cfg.scale.nats.servers), masked(url))
            last = time.monotonic()
            next_partitions = 0.0
            while not stop.wait(1.0):
                if time.monotonic() >= next_partitions:
                    next_partitions = time.monotonic() + PARTITIONS_EVERY_S
                    _create_partitions_ahead(store)
                if time.monotonic() - last >= report_every_s:
                    last = time.monotonic()
                    s = indexer.stats
                    log.info("indexer: %d batches, %d stored, %d duplicates", s.batches, s.stored, s.duplicates)
            lists_stop.set()
            lists_thread.join(timeout=10)
            bus.close(timeout_s=10)
            return indexer.stats
        finally:
            store.close()
    finally:
        conn.close()
