"""Event models: validation, versioning and JSON round-trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from vigil.events import (
    EVENT_TYPES,
    BoundingBox,
    CameraHealth,
    EventDecodeError,
    TrackEnded,
    TrackStarted,
    TrackUpdated,
    parse_event,
    supported_versions,
    to_json,
)
from vigil.events.samples import camera_health, track_lifecycle

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BOX = BoundingBox(x1=1.0, y1=2.0, x2=3.0, y2=4.0)


def _started(**overrides: object) -> TrackStarted:
    fields: dict[str, object] = {
        "camera_id": "cam-1",
        "occurred_at": T0,
        "track_id": "cam-1-abc-1",
        "class_name": "person",
        "box": BOX,
        "confidence": 0.9,
        "frame_index": 3,
    }
    fields.update(overrides)
    return TrackStarted.model_validate(fields)


def test_every_type_is_registered_with_version_1() -> None:
    core = {"track.started", "track.updated", "track.ended", "camera.health", "candidate.raised"}
    assert core <= set(EVENT_TYPES)
    # Feature events are named after their feature ("faces.…", "plates.…", "crowd.…").
    families = {"track", "camera", "candidate", "clip", "faces", "plates", "crowd"}
    assert all(t.split(".")[0] in families for t in EVENT_TYPES)
    assert all(supported_versions(t) == (1,) for t in EVENT_TYPES)


def test_defaults_give_unique_time_ordered_ids() -> None:
    a, b = _started(), _started()
    assert a.event_id != b.event_id
    assert a.type == "track.started"
    assert a.schema_version == 1


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        _started(occurred_at=datetime(2026, 3, 1, 12, 0))


def test_other_time_zones_are_normalised_to_utc() -> None:
    event = _started(occurred_at=datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    assert event.occurred_at == T0
    assert event.occurred_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"confidence": 1.5}, "less than or equal to 1"),
        ({"frame_index": -1}, "greater than or equal to 0"),
        ({"camera_id": ""}, "at least 1 character"),
        ({"box": {"x1": 5.0, "y1": 0.0, "x2": 1.0, "y2": 1.0}}, "out of order"),
        ({"box": {"x1": float("nan"), "y1": 0.0, "x2": 1.0, "y2": 1.0}}, "finite"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_fields_are_rejected(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _started(**overrides)


def test_events_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        _started().confidence = 0.1  # type: ignore[misc]


@pytest.mark.parametrize("snapshot", ["/etc/passwd", "../x.jpg", "a/../../x.jpg", "a\\b.jpg", ""])
def test_track_ended_snapshot_must_be_relative(snapshot: str) -> None:
    ended = track_lifecycle(start=T0)[-1]
    with pytest.raises(ValidationError, match="relative media path"):
        TrackEnded.model_validate({**ended.model_dump(), "snapshot": snapshot})


def test_track_ended_last_seen_not_before_first_seen() -> None:
    ended = track_lifecycle(start=T0)[-1]
    with pytest.raises(ValidationError, match="before first_seen"):
        TrackEnded.model_validate({**ended.model_dump(), "last_seen": T0 - timedelta(seconds=1)})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"type": "plate.read", "schema_version": 1}', "unknown event type 'plate.read'; expected one of"),
        (b'{"type": "track.started", "schema_version": 7}', "unsupported schema_version 7"),
        (b'{"schema_version": 1}', "not an event envelope"),
        (b"[]", "not an event envelope"),
        (b"not json", "not an event envelope"),
        (b'{"type": "track.started", "schema_version": 1, "camera_id": "c"}', "invalid 'track.started'"),
    ],
)
def test_parse_event_errors_are_one_clear_line(raw: bytes, message: str) -> None:
    with pytest.raises(EventDecodeError, match=message) as info:
        parse_event(raw)
    assert "\n" not in str(info.value)


def test_parse_event_accepts_str_and_bytes() -> None:
    event = camera_health(occurred_at=T0)
    assert parse_event(to_json(event)) == event
    assert parse_event(to_json(event).decode()) == event
    assert json.loads(to_json(event))["type"] == "camera.health"


# -- property: every event survives JSON unchanged --------------------------------------------

_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
_coords = st.floats(min_value=0, max_value=8192, allow_nan=False)
_boxes = st.tuples(_coords, _coords, _coords, _coords).map(
    lambda c: BoundingBox(x1=min(c[0], c[2]), y1=min(c[1], c[3]), x2=max(c[0], c[2]), y2=max(c[1], c[3]))
)
_text = st.text(min_size=1, max_size=40)
_conf = st.floats(min_value=0, max_value=1)
_track_fields = {
    "camera_id": _text,
    "occurred_at": _times,
    "track_id": _text,
    "class_name": st.text(min_size=1, max_size=64),
    "box": _boxes,
    "confidence": _conf,
    "frame_index": st.integers(min_value=0, max_value=2**53),
}


@st.composite
def _track_ended(draw: st.DrawFn) -> TrackEnded:
    first = draw(_times)
    return TrackEnded(
        **{k: draw(v) for k, v in _track_fields.items()},
        first_seen=first,
        last_seen=first + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=1))),
        n_observations=draw(st.integers(min_value=1, max_value=10**6)),
        best_confidence=draw(_conf),
        snapshot=draw(st.none() | st.from_regex(r"snapshots/[a-z0-9_-]{1,12}/[0-9a-f-]{1,36}\.jpg", fullmatch=True)),
    )


_any_event = st.one_of(
    st.builds(TrackStarted, **_track_fields),
    st.builds(TrackUpdated, **_track_fields),
    _track_ended(),
    st.builds(
        CameraHealth,
        camera_id=_text,
        occurred_at=_times,
        frames_in=st.integers(min_value=0, max_value=2**62),
        frames_analysed=st.integers(min_value=0, max_value=2**62),
        frames_dropped=st.integers(min_value=0, max_value=2**62),
        reconnects=st.integers(min_value=0, max_value=10**6),
        last_error=st.none() | st.text(max_size=200),
        state=st.sampled_from(["starting", "running", "reconnecting", "stalled", "stopped", "failed"]),
        analysed_fps=st.floats(min_value=0, max_value=1000),
    ),
)


@given(_any_event)
def test_json_round_trip(event: TrackStarted | TrackUpdated | TrackEnded | CameraHealth) -> None:
    decoded = parse_event(to_json(event))
    assert decoded == event
    assert type(decoded) is type(event)
