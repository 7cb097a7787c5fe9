"""Watchlists, hotlists and thresholds on the bus: a JetStream KV bucket every worker mirrors.

Workers never poll the database for lists. One publisher (inside ``vigil indexer``) mirrors
what PostgreSQL holds into the ``VIGIL_LISTS`` bucket: one key per face reference (its
embedding only, never the image), one per hotlist entry, the active face threshold, and a
``meta.clock`` key it rewrites every second. Each worker watches the bucket, so an
enrolment, a removal, an expiry or a threshold change (a calibration, or the
``faces.threshold`` policy: ``policy.<key>``) reaches it within the publisher's interval plus the
propagation (well under 5 s), and expiry is checked again at every match.

Staleness. The clock key proves the copy is current: the publisher writes it after every
sync, and the stream delivers it after the changes it follows. A worker that has not seen
the clock for ``max_staleness_s`` (partitioned, or the publisher is down) stops matching and
says so, so an entry removed during a partition never produces a candidate afterwards.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
import numpy as np
from nats.js import api
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from vigil.bus.connection import NatsConnection
from vigil.bus.subjects import camera_from_token, camera_token

log = logging.getLogger(__name__)

BUCKET = "VIGIL_LISTS"
CLOCK_KEY = "meta.clock"


@dataclass(frozen=True, slots=True)
class FaceRef:
    subject_id: str
    reference_media: str
    embedding: bytes
    """float32 little-endian."""
    expires_at: float


@dataclass(frozen=True, slots=True)
class PlateEntry:
    entry_id: str
    plate: str
    expires_at: float
    region: str | None = None


@dataclass(frozen=True, slots=True)
class FaceThreshold:
    threshold: float
    false_match_rate: float | None
    calibration_id: str | None


def face_key(embedder: str, reference_id: str) -> str:
    return f"face.{camera_token(embedder)}.{camera_token(reference_id)}"


def plate_key(entry_id: str) -> str:
    return f"plate.{camera_token(entry_id)}"


def threshold_key(embedder: str) -> str:
    return f"threshold.{camera_token(embedder)}"


def policy_key(key: str) -> str:
    return f"policy.{camera_token(key)}"


@dataclass(frozen=True, slots=True)
class PolicyValue:
    """A policy that drives matching (``faces.threshold``), as the publisher read it."""

    key: str
    value: Any
    updated_by: str
    updated_at: float
    """Unix seconds: the stage compares it with the active calibration's time."""


def encode_policy(policy: PolicyValue) -> bytes:
    return json.dumps({"k": policy.key, "v": policy.value, "by": policy.updated_by, "at": policy.updated_at}).encode()


def encode_face(ref: FaceRef) -> bytes:
    return json.dumps(
        {
            "s": ref.subject_id,
            "m": ref.reference_media,
            "e": base64.b64encode(ref.embedding).decode(),
            "x": ref.expires_at,
        }
    ).encode()


async def open_bucket(conn: NatsConnection, replicas: int = 1) -> KeyValue:
    try:
        return await conn.js.key_value(BUCKET)
    except nats.js.errors.BucketNotFoundError:
        pass
    try:
        return await conn.js.create_key_value(api.KeyValueConfig(bucket=BUCKET, history=1, replicas=replicas))
    except nats.js.errors.BadRequestError:
        return await conn.js.key_value(BUCKET)


class ListsPublisher:
    """Makes the bucket equal to ``desired`` (key → value bytes), then stamps the clock."""

    def __init__(self, conn: NatsConnection, replicas: int = 1) -> None:
        self._conn = conn
        self._kv: KeyValue = conn.call(open_bucket(conn, replicas))
        self._published: dict[str, bytes] | None = None
        self.changes = 0

    def sync(self, desired: Mapping[str, bytes]) -> int:
        """Write what changed, delete what is gone, then the clock; returns the number of changes."""
        return self._conn.call(self._sync(dict(desired)), timeout_s=60)

    async def _sync(self, desired: dict[str, bytes]) -> int:
        if self._published is None:
            self._published = {}
            try:
                keys = await self._kv.keys()
            except nats.js.errors.NoKeysError:
                keys = []
            for key in keys:
                if key != CLOCK_KEY:
                    self._published[key] = (await self._kv.get(key)).value or b""
        changed = 0
        for key, value in desired.items():
            if self._published.get(key) != value:
                await self._kv.put(key, value)
                self._published[key] = value
                changed += 1
        for key in [k for k in self._published if k not in desired]:
            await self._kv.delete(key)
            del self._published[key]
            changed += 1
        await self._kv.put(CLOCK_KEY, json.dumps({"at": time.time()}).encode())
        self.changes += changed
        return changed


class ListsReplica:
    """A worker's copy of the lists, kept current by watching the bucket."""

    def __init__(self, conn: NatsConnection, *, max_staleness_s: float = 5.0, replicas: int = 1) -> None:
        self._conn = conn
        self._max_staleness_s = max_staleness_s
        self._lock = threading.Lock()
        self._faces: dict[str, dict[str, FaceRef]] = {}
        self._plates: dict[str, PlateEntry] = {}
        self._thresholds: dict[str, FaceThreshold] = {}
        self._threshold_records: dict[str, dict[str, Any]] = {}
        self._policies: dict[str, PolicyValue] = {}
        self._confirmed_at = -float("inf")  # monotonic
        self.version = 0
        self._stale_reported = False
        self._kv: KeyValue = conn.call(open_bucket(conn, replicas))
        self._stop = False
        self._task = conn.spawn(self._watch())

    def close(self) -> None:
        self._stop = True
        self._task.cancel()

    # -- reading --------------------------------------------------------------------------

    def fresh(self) -> bool:
        """True while the copy was confirmed current within ``max_staleness_s``."""
        with self._lock:
            age = time.monotonic() - self._confirmed_at
        ok = age <= self._max_staleness_s
        if not ok and not self._stale_reported:
            log.warning(
                "lists: copy not confirmed for %.1f s (bound %.1f s): not matching faces or plates until it is",
                age,
                self._max_staleness_s,
            )
        elif ok and self._stale_reported:
            log.warning("lists: copy current again; matching resumes")
        self._stale_reported = not ok
        return ok

    def faces(self, embedder: str) -> list[FaceRef]:
        with self._lock:
            return list(self._faces.get(embedder, {}).values())

    def plates(self, now: float | None = None) -> list[PlateEntry]:
        t = time.time() if now is None else now
        with self._lock:
            return [p for p in self._plates.values() if p.expires_at > t]

    def threshold(self, embedder: str) -> FaceThreshold | None:
        with self._lock:
            return self._thresholds.get(embedder)

    def threshold_record(self, embedder: str) -> dict[str, Any] | None:
        """The full calibration record behind the threshold, as published."""
        with self._lock:
            record = self._threshold_records.get(embedder)
            return dict(record) if record is not None else None

    def policy(self, key: str) -> PolicyValue | None:
        with self._lock:
            return self._policies.get(key)

    def wait_fresh(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.fresh():
                return True
            time.sleep(0.05)
        return False

    # -- watching -------------------------------------------------------------------------

    async def _watch(self) -> None:
        while not self._stop:
            try:
                watcher: Any = await self._kv.watchall()
                while not self._stop:
                    try:
                        entry = await watcher.updates(timeout=1.0)
                    except (TimeoutError, nats.errors.TimeoutError):
                        continue
                    if entry is not None:
                        self._apply(entry)
            except Exception as exc:  # reconnecting: start a fresh watch (it replays current values)
                log.debug("lists watch restarted: %s", exc)
                await _sleep(0.5)

    def _apply(self, entry: Any) -> None:
        key: str = entry.key
        deleted = entry.operation in (KV_DEL, KV_PURGE)
        with self._lock:
            self.version += 1
            if key == CLOCK_KEY:
                if not deleted:
                    self._confirmed_at = time.monotonic()
                return
            kind, _, rest = key.partition(".")
            if kind == "face":
                emb_token, _, ref_token = rest.partition(".")
                embedder, ref = camera_from_token(emb_token), camera_from_token(ref_token)
                if deleted:
                    self._faces.get(embedder, {}).pop(ref, None)
                else:
                    d = json.loads(entry.value)
                    self._faces.setdefault(embedder, {})[ref] = FaceRef(
                        d["s"], d["m"], base64.b64decode(d["e"]), float(d["x"])
                    )
            elif kind == "plate":
                entry_id = camera_from_token(rest)
                if deleted:
                    self._plates.pop(entry_id, None)
                else:
                    d = json.loads(entry.value)
                    self._plates[entry_id] = PlateEntry(d["id"], d["plate"], float(d["x"]), d.get("r"))
            elif kind == "policy":
                key = camera_from_token(rest)
                if deleted:
                    self._policies.pop(key, None)
                else:
                    d = json.loads(entry.value)
                    self._policies[key] = PolicyValue(d["k"], d["v"], d["by"], float(d["at"]))
            elif kind == "threshold":
                embedder = camera_from_token(rest)
                if deleted:
                    self._thresholds.pop(embedder, None)
                    self._threshold_records.pop(embedder, None)
                else:
                    d = json.loads(entry.value)
                    self._thresholds[embedder] = FaceThreshold(float(d["t"]), d.get("fmr"), d.get("cal"))
                    self._threshold_records[embedder] = dict(d.get("record") or {})


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def embedding_bytes(vector: Any) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()
