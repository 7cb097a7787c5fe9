"""How events are laid out on NATS JetStream: streams by kind, subjects ``vigil.<kind>.<camera>``.

Streams are split by what a deployment needs of them, not by event type:

* ``VIGIL_TRACKS`` (track and crowd events) is the volume: most events, least value each.
* ``VIGIL_PLATES`` (plate reads) is kept apart so its retention can follow the plates policy.
* ``VIGIL_CANDIDATES`` (candidates and alerts) is what people act on: few events, R3 always.
* ``VIGIL_HEALTH`` (camera health and per-run summaries) is overwritten by the next snapshot.
* ``VIGIL_ALERTS`` holds alerts, not events: the indexer publishes one per candidate it stored,
  and ``vigil dispatcher`` delivers it (webhooks, MQTT). R3 in a cluster, like candidates.

A camera id may contain characters NATS subjects forbid (``.``, ``*``, ``>``, spaces); they are
escaped as ``~XX`` (hex of each UTF-8 byte) so every camera gets exactly one subject token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SUBJECT_ROOT = "vigil"

EventKind = Literal["track", "crowd", "plates", "candidate", "health"]
StreamKind = EventKind | Literal["alert"]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One JetStream stream: its name, the kinds it holds and how long it keeps messages."""

    name: str
    kinds: tuple[StreamKind, ...]
    max_age_s: float
    """Messages older than this are dropped by the server (the indexer has stored them long before)."""
    min_replicas: int = 1
    """Replicas this stream needs whatever the deployment asks (candidates: 3 in a cluster)."""
    holds_events: bool = True
    """False for a stream of other messages (alerts): event consumers (the indexer) skip it."""

    @property
    def subjects(self) -> list[str]:
        return [f"{SUBJECT_ROOT}.{kind}.>" for kind in self.kinds]


DAY_S = 86_400.0

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("VIGIL_TRACKS", ("track", "crowd"), max_age_s=DAY_S),
    StreamSpec("VIGIL_PLATES", ("plates",), max_age_s=DAY_S),
    StreamSpec("VIGIL_CANDIDATES", ("candidate",), max_age_s=7 * DAY_S, min_replicas=3),
    StreamSpec("VIGIL_HEALTH", ("health",), max_age_s=DAY_S),
    StreamSpec("VIGIL_ALERTS", ("alert",), max_age_s=7 * DAY_S, min_replicas=3, holds_events=False),
)
"""Every stream Vigil publishes to. Backlog kept = ``max_age_s``: an indexer may be down that long."""

_KIND_BY_PREFIX: dict[str, EventKind] = {
    "track": "track",
    "crowd": "crowd",
    "plates": "plates",
    "candidate": "candidate",
    "camera": "health",
    "faces": "health",
}

_SAFE = re.compile(r"[A-Za-z0-9_\-]")


def event_kind(event_type: str) -> EventKind:
    """The stream kind of an event type (``track.started`` → ``track``).

    Raises:
        ValueError: an event type no stream takes (a new feature must add its prefix here).
    """
    prefix = event_type.split(".", 1)[0]
    kind = _KIND_BY_PREFIX.get(prefix)
    if kind is None:
        raise ValueError(f"no stream takes event type {event_type!r}; known prefixes: {', '.join(_KIND_BY_PREFIX)}")
    return kind


def camera_token(camera_id: str) -> str:
    """``camera_id`` as one subject token (unsafe characters escaped as ``~XX``)."""
    return "".join(ch if _SAFE.fullmatch(ch) else "".join(f"~{b:02X}" for b in ch.encode()) for ch in camera_id)


def camera_from_token(token: str) -> str:
    """Inverse of :func:`camera_token`."""
    out = bytearray()
    i = 0
    while i < len(token):
        if token[i] == "~":
            out.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            out.extend(token[i].encode())
            i += 1
    return out.decode()


def subject_for(event_type: str, camera_id: str) -> str:
    """``vigil.<kind>.<camera>`` for one event."""
    return f"{SUBJECT_ROOT}.{event_kind(event_type)}.{camera_token(camera_id)}"


def alert_subject(camera_id: str) -> str:
    """``vigil.alert.<camera>``: where the indexer publishes a stored candidate's alert."""
    return f"{SUBJECT_ROOT}.alert.{camera_token(camera_id)}"


ALERTS_STREAM = "VIGIL_ALERTS"


def stream_for(event_type: str) -> StreamSpec:
    """The stream that stores ``event_type``."""
    kind = event_kind(event_type)
    for spec in STREAMS:
        if kind in spec.kinds:
            return spec
    raise ValueError(f"no stream holds kind {kind!r}")  # pragma: no cover - STREAMS covers every kind
