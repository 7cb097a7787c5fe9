"""The candidate review flow on SQLite and PostgreSQL: a match is never a verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vigil.core.errors import ConflictError, NotFoundError, PolicyError
from vigil.events import CandidateRaised
from vigil.store import Store

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def raised(**overrides: object) -> CandidateRaised:
    fields: dict[str, object] = {
        "camera_id": "gate",
        "occurred_at": T0,
        "kind": "face",
        "list_entry_id": "subject-7",
        "track_id": "gate-abc-1",
        "score": 0.71,
        "threshold": 0.55,
        "false_match_rate": 1e-3,
        "probe_media": "candidates/gate/probe.jpg",
        "reference_media": "watchlist/subject-7/ref.jpg",
    }
    fields.update(overrides)
    return CandidateRaised.model_validate(fields)


def test_a_raised_candidate_is_pending_and_not_actionable(store: Store) -> None:
    event = raised()
    assert store.events.add_many([event, event]) == 1  # redelivery stores it once
    record = store.candidates.get(event.event_id)
    assert record.status == "pending"
    assert not record.actionable
    assert record.false_match_rate == pytest.approx(1e-3)
    assert record.decisions == ()


@pytest.mark.parametrize(
    ("required", "confirmers", "status"),
    [
        (1, ["ana"], "confirmed"),
        (2, ["ana"], "pending"),
        (2, ["ana", "ben"], "confirmed"),
    ],
)
def test_confirmation_needs_enough_different_people(
    store: Store, required: int, confirmers: list[str], status: str
) -> None:
    event = raised()
    store.events.add_many([event])
    record = None
    for who in confirmers:
        record = store.candidates.decide(
            event.event_id, actor=who, decision="confirm", reason=None, required_confirmations=required
        )
    assert record is not None
    assert record.status == status
    assert record.actionable == (status == "confirmed")
    assert [d.actor for d in record.decisions] == confirmers


def test_the_same_person_cannot_confirm_twice(store: Store) -> None:
    event = raised()
    store.events.add_many([event])
    store.candidates.decide(event.event_id, actor="ana", decision="confirm", reason=None, required_confirmations=2)
    with pytest.raises(PolicyError, match="different person"):
        store.candidates.decide(event.event_id, actor="ana", decision="confirm", reason=None, required_confirmations=2)
    assert store.candidates.get(event.event_id).status == "pending"


@pytest.mark.parametrize("reason", [None, "", "  ", "no"])
def test_a_rejection_needs_a_reason(store: Store, reason: str | None) -> None:
    event = raised()
    store.events.add_many([event])
    with pytest.raises(PolicyError, match="reason"):
        store.candidates.decide(event.event_id, actor="ana", decision="reject", reason=reason, required_confirmations=1)
    record = store.candidates.get(event.event_id)
    assert record.status == "pending"
    assert record.decisions == ()  # nothing half-written


def test_a_rejection_is_final(store: Store) -> None:
    event = raised()
    store.events.add_many([event])
    rejected = store.candidates.decide(
        event.event_id,
        actor="ana",
        decision="reject",
        reason="different person: older, glasses",
        required_confirmations=2,
    )
    assert rejected.status == "rejected"
    with pytest.raises(ConflictError, match="already rejected"):
        store.candidates.decide(event.event_id, actor="ben", decision="confirm", reason=None, required_confirmations=2)


def test_unknown_candidate_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.candidates.decide("nope", actor="ana", decision="confirm", reason=None, required_confirmations=1)
    with pytest.raises(NotFoundError):
        store.candidates.get("nope")


def test_queue_filters_and_orders(store: Store) -> None:
    events = [
        raised(occurred_at=T0 + timedelta(minutes=i), list_entry_id=f"s{i % 2}", kind="face" if i < 3 else "plate")
        for i in range(5)
    ]
    store.events.add_many(events)
    store.candidates.decide(events[0].event_id, actor="ana", decision="confirm", reason=None, required_confirmations=1)
    pending = store.candidates.list(status="pending")
    assert [c.candidate_id for c in pending] == [e.event_id for e in reversed(events[1:])]
    assert [c.candidate_id for c in store.candidates.list(kind="plate")] == [events[4].event_id, events[3].event_id]
    timeline = store.candidates.list(list_entry_id="s0", newest_first=False)
    assert [c.occurred_at for c in timeline] == sorted(c.occurred_at for c in timeline)
    assert store.candidates.counts_by_status() == {"pending": 4, "confirmed": 1}
