"""The union of every event type: the one place a new event type is registered."""

from __future__ import annotations

from typing import Annotated, get_args

from pydantic import Field

from vigil.events.candidates import CandidateRaised
from vigil.events.clips import ClipRecorded
from vigil.events.crowd import CROWD_EVENTS
from vigil.events.faces import FACE_EVENTS
from vigil.events.models import CameraHealth, EventBase, RecordingProgress, TrackEnded, TrackStarted, TrackUpdated
from vigil.events.plates import PLATE_EVENTS

AnyEvent = Annotated[
    TrackStarted
    | TrackUpdated
    | TrackEnded
    | CameraHealth
    | RecordingProgress
    | CandidateRaised
    | ClipRecorded
    | FACE_EVENTS
    | PLATE_EVENTS
    | CROWD_EVENTS,
    Field(discriminator="type"),
]
"""Every event Vigil publishes. Feature modules export a union alias (``FACE_EVENTS`` …)."""


def _flatten(tp: object) -> tuple[type[EventBase], ...]:
    args = get_args(tp)
    if not args:
        return (tp,)  # type: ignore[return-value]
    out: tuple[type[EventBase], ...] = ()
    for arg in args:
        out += _flatten(arg)
    return out


def _registry() -> dict[str, type[EventBase]]:
    classes = _flatten(get_args(AnyEvent)[0])
    return {cls.model_fields["type"].default: cls for cls in classes}


EVENT_TYPES: dict[str, type[EventBase]] = _registry()
"""``type`` literal → model class, derived from ``AnyEvent``."""
