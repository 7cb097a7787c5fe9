"""Typed, versioned events: the messages between pipeline, bus and store."""

from vigil.events.codec import event_from_dict, parse_event, supported_versions, to_json
from vigil.events.models import (
    EVENT_TYPES,
    AnyEvent,
    BoundingBox,
    CameraHealth,
    CameraState,
    EventBase,
    EventDecodeError,
    TrackEnded,
    TrackEvent,
    TrackStarted,
    TrackUpdated,
)

__all__ = [
    "EVENT_TYPES",
    "AnyEvent",
    "BoundingBox",
    "CameraHealth",
    "CameraState",
    "EventBase",
    "EventDecodeError",
    "TrackEnded",
    "TrackEvent",
    "TrackStarted",
    "TrackUpdated",
    "event_from_dict",
    "parse_event",
    "supported_versions",
    "to_json",
]
