"""JSON encoding of events for the bus and the store.

``parse_event`` reads the envelope (``type``, ``schema_version``) first so that an unknown
type or version gets one clear line instead of a pydantic error per union member.
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from vigil.core.errors import EventDecodeError
from vigil.events.models import EventBase
from vigil.events.registry import EVENT_TYPES, AnyEvent


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    schema_version: int


@cache
def _adapter() -> TypeAdapter[AnyEvent]:
    # Built on first use, not at import (house style: no import-time state).
    return TypeAdapter(AnyEvent)


@cache
def supported_versions(event_type: str) -> tuple[int, ...]:
    """Schema versions this build can read for ``event_type`` (empty if the type is unknown)."""
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        return ()
    annotation = cls.model_fields["schema_version"].annotation
    return tuple(getattr(annotation, "__args__", ()))


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_event(data: bytes | str) -> AnyEvent:
    """Decode one JSON event.

    Raises:
        EventDecodeError: not JSON, unknown ``type``, unsupported ``schema_version`` or an
            invalid field; the message says which and what was expected.
    """
    try:
        # The common case in one pass (the indexer decodes every event on the bus); the
        # envelope is read only to explain a failure in one line.
        return _adapter().validate_json(data)
    except ValidationError:
        pass
    try:
        envelope = _Envelope.model_validate_json(data)
    except ValidationError as exc:
        raise EventDecodeError(f"not an event envelope ({_one_line(exc)})") from exc
    versions = supported_versions(envelope.type)
    if not versions:
        raise EventDecodeError(
            f"unknown event type {envelope.type!r}; expected one of: {', '.join(sorted(EVENT_TYPES))}"
        )
    if envelope.schema_version not in versions:
        raise EventDecodeError(
            f"unsupported schema_version {envelope.schema_version} for {envelope.type!r}; "
            f"this build reads {', '.join(map(str, versions))}"
        )
    try:
        return _adapter().validate_json(data)
    except ValidationError as exc:
        raise EventDecodeError(f"invalid {envelope.type!r} event: {_one_line(exc)}") from exc


def event_from_dict(payload: object) -> AnyEvent:
    """Validate an already-decoded JSON object (e.g. the store's payload column)."""
    try:
        return _adapter().validate_python(payload)
    except ValidationError as exc:
        raise EventDecodeError(f"invalid event: {_one_line(exc)}") from exc


def to_json(event: EventBase) -> bytes:
    """Encode an event as compact UTF-8 JSON (round-trips through :func:`parse_event`)."""
    return event.model_dump_json().encode()
