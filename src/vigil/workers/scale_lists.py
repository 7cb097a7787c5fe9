"""Lists between PostgreSQL and the workers: the publisher (in the indexer) and the worker's view.

The publisher reads what the database holds every second and mirrors it into the lists
bucket (``bus/lists.py``). A worker's stages see the lists through :func:`replica_store`:
the same ``store.faces.gallery()`` / ``store.plates.active_plates()`` /
``store.governance.policies.get()`` calls as in the embedded mode, answered from the worker's
copy, and *live*: every match asks the copy as it is now (so a removal counts at once, not at
the stage's next reload), and matches nothing while the copy is older than
``scale.lists.max_staleness_s``.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from vigil.bus.lists import (
    FaceRef,
    ListsPublisher,
    ListsReplica,
    PolicyValue,
    encode_face,
    encode_policy,
    face_key,
    plate_key,
    policy_key,
    threshold_key,
)
from vigil.core.clock import utcnow
from vigil.core.errors import VigilError
from vigil.plates.hotlist import HotlistPlate
from vigil.recognise import Gallery
from vigil.recognise.gallery import GalleryEntry, GalleryMatch
from vigil.store.facade import Store
from vigil.store.faces import CalibrationRecord, FaceReferenceRow, FacesRepository, FaceSubjectRow
from vigil.store.plates import PlatesRepository
from vigil.store.policies import FACE_THRESHOLD, PLATE_MIN_CONFIDENCE, PolicyRecord, PolicyRepository

MATCHING_POLICIES = frozenset({FACE_THRESHOLD, PLATE_MIN_CONFIDENCE})
"""Policies a worker's stages read: mirrored into the lists bucket with the lists."""

log = logging.getLogger(__name__)


# -- the publisher ---------------------------------------------------------------------------


def desired_lists(store: Store) -> dict[str, bytes]:
    """Every key the lists bucket should hold now, from the database."""
    now = utcnow()
    out: dict[str, bytes] = {}
    stmt = (
        select(FaceReferenceRow, FaceSubjectRow.expires_at)
        .join(FaceSubjectRow, FaceSubjectRow.subject_id == FaceReferenceRow.subject_id)
        .where(FaceSubjectRow.expires_at > now)
    )
    embedders: set[str] = set()
    with store.engine.connect() as conn, conn.begin():
        from sqlalchemy.orm import Session

        session = Session(bind=conn)
        for ref, expires in session.execute(stmt):
            embedders.add(ref.embedder)
            exp = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
            face = FaceRef(ref.subject_id, ref.media_path, ref.embedding, exp.timestamp())
            out[face_key(ref.embedder, ref.reference_id)] = encode_face(face)
        session.close()
    for entry in store.plates.list_entries(now=now):
        out[plate_key(entry.entry_id)] = json.dumps(
            {"id": entry.entry_id, "plate": entry.plate, "x": entry.expires_at.timestamp(), "r": entry.region}
        ).encode()
    for policy in store.governance.policies.list():
        if policy.key in MATCHING_POLICIES:
            out[policy_key(policy.key)] = encode_policy(
                PolicyValue(policy.key, policy.value, policy.updated_by, policy.updated_at.timestamp())
            )
    for cal in store.faces.calibrations():
        if cal.active:
            fields = asdict(cal)
            fields["created_at"] = cal.created_at.isoformat()
            out[threshold_key(cal.embedder)] = json.dumps(
                {"t": cal.threshold, "fmr": cal.measured_fmr, "cal": cal.calibration_id, "record": fields}
            ).encode()
    return out


def run_lists_publisher(
    publisher: ListsPublisher, store: Store, stop: threading.Event, interval_s: float = 1.0
) -> threading.Thread:
    """Mirror the database's lists into the bucket every ``interval_s`` until ``stop``."""

    def loop() -> None:
        while not stop.is_set():
            try:
                changed = publisher.sync(desired_lists(store))
                if changed:
                    log.info("lists: %d changes published", changed)
            except (VigilError, Exception) as exc:  # the top of a loop: keep publishing
                log.warning("lists: not published this round: %s", exc)
            stop.wait(interval_s)

    thread = threading.Thread(target=loop, name="lists-publisher", daemon=True)
    thread.start()
    return thread


# -- the worker's view -------------------------------------------------------------------------


class LiveGallery(Gallery):
    """A :class:`Gallery` that asks the replica at every match (empty while it is stale)."""

    def __init__(self, replica: ListsReplica, embedder: str, dim: int) -> None:
        super().__init__([], dim)
        self._replica = replica
        self._embedder = embedder
        self._version = -1
        self._current = Gallery([], dim)

    def _now(self) -> Gallery:
        if not self._replica.fresh():
            return Gallery([], self.dim)
        if self._replica.version != self._version:
            self._version = self._replica.version
            refs = self._replica.faces(self._embedder)
            entries = [
                GalleryEntry(
                    r.subject_id,
                    r.reference_media,
                    np.frombuffer(r.embedding, dtype="<f4").astype(np.float32),
                    datetime.fromtimestamp(r.expires_at, UTC),
                )
                for r in refs
            ]
            self._current = Gallery(entries, self.dim)
        return self._current

    def __len__(self) -> int:
        return len(self._now())

    @property
    def subject_ids(self) -> frozenset[str]:
        return self._now().subject_ids

    def scores(self, probe: NDArray[np.float32]) -> NDArray[np.float32]:
        return self._now().scores(probe)

    def match(self, probe: NDArray[np.float32], threshold: float, now: datetime) -> GalleryMatch | None:
        return self._now().match(probe, threshold, now)


class LiveHotlist(list[HotlistPlate]):
    """The hotlist as the replica holds it at each iteration (nothing while it is stale)."""

    def __init__(self, replica: ListsReplica) -> None:
        super().__init__()
        self._replica = replica

    def _current(self) -> list[HotlistPlate]:
        if not self._replica.fresh():
            return []
        return [HotlistPlate(p.entry_id, p.plate, p.region) for p in self._replica.plates()]

    def __iter__(self) -> Iterator[HotlistPlate]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def __bool__(self) -> bool:
        return bool(self._current())


class _ReplicaFaces:
    def __init__(self, replica: ListsReplica) -> None:
        self._replica = replica

    def gallery(self, embedder: str, dim: int = 128, now: datetime | None = None) -> Gallery:
        return LiveGallery(self._replica, embedder, dim)

    def active_calibration(self, embedder: str | None = None) -> CalibrationRecord | None:
        th = self._replica.threshold(embedder or "")
        if th is None or not self._replica.fresh():
            return None
        raw = self._replica.threshold_record(embedder or "")
        if raw is None:
            return None
        fields: dict[str, Any] = dict(raw)
        fields["created_at"] = datetime.fromisoformat(fields["created_at"])
        return CalibrationRecord(**fields)


class _ReplicaPolicies:
    """The policies that drive matching, as the replica holds them (none while it is stale)."""

    def __init__(self, replica: ListsReplica) -> None:
        self._replica = replica

    def get(self, key: str) -> PolicyRecord | None:
        found = self._replica.policy(key)
        if found is None or not self._replica.fresh():
            return None
        return PolicyRecord(found.key, found.value, found.updated_by, datetime.fromtimestamp(found.updated_at, UTC))


class _ReplicaPlates:
    def __init__(self, replica: ListsReplica) -> None:
        self._replica = replica

    def live_hotlist(self) -> list[HotlistPlate]:
        return LiveHotlist(self._replica)

    def active_plates(self, now: datetime | None = None) -> list[HotlistPlate]:
        if not self._replica.fresh():
            return []
        return [HotlistPlate(p.entry_id, p.plate, p.region) for p in self._replica.plates()]


def replica_store(store: Store, replica: ListsReplica) -> Store:
    """``store`` with its list reads answered by ``replica`` (for a worker's stages)."""
    proxy = copy.copy(store)
    proxy.faces = cast(FacesRepository, _ReplicaFaces(replica))
    proxy.plates = cast(PlatesRepository, _ReplicaPlates(replica))
    governance = copy.copy(store.governance)
    governance.policies = cast(PolicyRepository, _ReplicaPolicies(replica))
    proxy.governance = governance
    return proxy
