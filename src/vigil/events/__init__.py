"""Typed, versioned events: the messages between pipeline, bus and store."""

from vigil.core.errors import EventDecodeError
from vigil.events.candidates import CandidateFlag, CandidateKind, CandidateRaised
from vigil.events.clips import ClipRecorded, ClipSubject
from vigil.events.codec import event_from_dict, parse_event, supported_versions, to_json
from vigil.events.models import (
    BoundingBox,
    CameraHealth,
    CameraState,
    EventBase,
    RecordingProgress,
    TrackEnded,
    TrackEvent,
    TrackStarted,
    TrackUpdated,
)
from vigil.events.registry import EVENT_TYPES, AnyEvent

__all__ = [
    "EVENT_TYPES",
    "AnyEvent",
    "BoundingBox",
    "CameraHealth",
    "CameraState",
    "CandidateFlag",
    "CandidateKind",
    "CandidateRaised",
    "ClipRecorded",
    "ClipSubject",
    "EventBase",
    "EventDecodeError",
    "RecordingProgress",
    "TrackEnded",
    "TrackEvent",
    "TrackStarted",
    "TrackUpdated",
    "event_from_dict",
    "parse_event",
    "supported_versions",
    "to_json",
]
