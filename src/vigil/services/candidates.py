"""Candidates: the review queue and its decisions, with the two-person rule applied once.

* Every decision comes from an authenticated account (an :data:`~vigil.services.actor.Actor`);
  there is no way to decide under a typed name.
* A candidate is ``confirmed`` (actionable) once ``candidates.face_confirmations`` (default 2)
  or ``candidates.plate_confirmations`` (default 1) *different accounts* confirmed it. The
  account is the unit: two tokens of one account, or the same account through two doors (web
  UI and CLI), are one person, and its second confirmation is refused.
* One rejection, with a reason, is final.
* Listing, viewing and deciding are audited (the decision in the same transaction as the
  change); a refused attempt (wrong role, camera out of scope) is recorded as ``access.denied``.

:class:`CandidateView` is the one shape of a candidate for every door (API JSON, CLI ``--json``,
the web review page).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from vigil.config import VigilConfig
from vigil.core.errors import InputError
from vigil.services.actor import Actor
from vigil.services.context import Services
from vigil.services.rules import need_reason, optional_reason, search_camera, time_range
from vigil.store.audit import append_audit
from vigil.store.candidates import CandidateRecord

Status = Literal["pending", "confirmed", "rejected"]
Kind = Literal["face", "plate"]
Decision = Literal["confirm", "reject"]


class DecisionView(BaseModel):
    """One account's decision on a candidate."""

    actor: str = Field(description="The user account that decided.")
    decision: Decision
    reason: str | None
    at: datetime


class CandidateView(BaseModel):
    """A candidate as every door shows it."""

    candidate_id: str
    kind: str
    camera_id: str
    list_entry_id: str
    track_id: str | None
    occurred_at: datetime
    score: float
    threshold: float | None
    false_match_rate: float | None
    observed: str | None
    flags: list[str]
    detail: str | None
    status: Status
    actionable: bool = Field(description="Confirmed by enough different accounts: only then may anyone act on it.")
    probe_media: str | None
    reference_media: str | None
    decisions: list[DecisionView]
    confirmations: int = Field(description="Different accounts that confirmed it so far.")
    required_confirmations: int = Field(description="Different accounts that must confirm it (by kind).")
    listed_plate: str | None = Field(
        default=None,
        description="For a plate candidate, the plate as the hotlist entry lists it (the read is `observed`).",
    )


class CandidatePage(BaseModel):
    items: list[CandidateView]
    limit: int
    offset: int
    next_offset: int | None


def required_confirmations(config: VigilConfig, kind: str) -> int:
    return config.candidates.confirmations_for(kind)


def view(config: VigilConfig, c: CandidateRecord, listed_plate: str | None = None) -> CandidateView:
    decisions = [
        DecisionView(actor=d.actor, decision=d.decision, reason=d.reason, at=d.decided_at) for d in c.decisions
    ]
    return CandidateView(
        candidate_id=c.candidate_id,
        kind=c.kind,
        camera_id=c.camera_id,
        list_entry_id=c.list_entry_id,
        track_id=c.track_id,
        occurred_at=c.occurred_at,
        score=c.score,
        threshold=c.threshold,
        false_match_rate=c.false_match_rate,
        observed=c.observed,
        flags=list(c.flags),
        detail=c.detail,
        status=c.status,
        actionable=c.actionable,
        probe_media=c.probe_media,
        reference_media=c.reference_media,
        decisions=decisions,
        confirmations=len({d.actor for d in c.decisions if d.decision == "confirm"}),
        required_confirmations=required_confirmations(config, c.kind),
        listed_plate=listed_plate,
    )


def _listed_plates(services: Services, records: list[CandidateRecord]) -> dict[str, str]:
    """Hotlist entry id -> listed plate, for the plate candidates among ``records`` (expired
    entries too: a candidate outlives its entry's expiry)."""
    wanted = {c.list_entry_id for c in records if c.kind == "plate"}
    if not wanted:
        return {}
    entries = services.store.plates.list_entries(include_expired=True)
    return {e.entry_id: e.plate for e in entries if e.entry_id in wanted}


def _views(services: Services, records: list[CandidateRecord]) -> list[CandidateView]:
    plates = _listed_plates(services, records)
    return [view(services.config, c, plates.get(c.list_entry_id)) for c in records]


def list_candidates(
    services: Services,
    actor: Actor,
    *,
    status: Status | None = "pending",
    kind: Kind | None = None,
    camera_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> CandidatePage:
    """Candidates (newest first) on cameras in ``actor``'s scope; the listing is audited.

    Raises:
        AccessDeniedError: not a reviewer, or ``camera_id`` out of scope (recorded).
        CameraRequiredError: a camera-scoped actor naming no camera.
        InputError: times without a zone, or ``since`` after ``until``.
    """
    rec = services.recorder(actor)
    search_camera(rec, "candidates.read", camera_id, object_type="candidates")
    time_range(since, until)
    records = services.store.candidates.list(
        status=status, kind=kind, camera_id=camera_id, since=since, until=until, limit=limit, offset=offset
    )
    rec.read("candidates.list", object_type="candidates", camera_id=camera_id, status=status, results=len(records))
    return CandidatePage(
        items=_views(services, records),
        limit=limit,
        offset=offset,
        next_offset=offset + limit if len(records) == limit else None,
    )


def show(services: Services, actor: Actor, candidate_id: str) -> CandidateView:
    """One candidate, everything recorded about it; the view is audited.

    Raises:
        NotFoundError: no such candidate.
        AccessDeniedError: not a reviewer, or its camera is out of scope (recorded).
    """
    record = services.store.candidates.get(candidate_id)
    rec = services.recorder(actor)
    rec.allow("candidates.read", camera_id=record.camera_id, object_type="candidate", object_id=candidate_id)
    rec.read("candidate.view", object_type="candidate", object_id=candidate_id, camera_id=record.camera_id)
    return _views(services, [record])[0]


def decide(
    services: Services, actor: Actor, candidate_id: str, decision: Decision, reason: str | None = None
) -> CandidateView:
    """Record ``actor``'s decision; the decision and its audit record are one transaction.

    Raises:
        NotFoundError: no such candidate.
        AccessDeniedError: not a reviewer, or the camera is out of scope (recorded).
        ReasonRequiredError: a rejection without a reason (``governance.min_reason_chars``).
        PolicyError: this account has confirmed it already (a second confirmation must come
            from a different account).
        ConflictError: the candidate is already confirmed or rejected.
    """
    if decision not in ("confirm", "reject"):
        raise InputError(f"a decision is 'confirm' or 'reject', got {decision!r}")
    current = services.store.candidates.get(candidate_id)
    rec = services.recorder(actor)
    rec.allow(
        "candidates.decide",
        camera_id=current.camera_id,
        object_type="candidate",
        object_id=candidate_id,
        decision=decision,
    )
    why = need_reason(services.config, reason, "a rejection") if decision == "reject" else optional_reason(reason)
    required = required_confirmations(services.config, current.kind)

    def audit(session: Session, record: CandidateRecord) -> None:
        append_audit(
            session,
            rec.entry(
                "candidate.decide",
                object_type="candidate",
                object_id=record.candidate_id,
                camera_id=record.camera_id,
                reason=why,
                decision=decision,
                status=record.status,
                confirmations=len({d.actor for d in record.decisions if d.decision == "confirm"}),
                required=required,
            ),
        )

    record = services.store.candidates.decide(
        candidate_id,
        actor=actor.username,
        decision=decision,
        reason=why,
        required_confirmations=required,
        on_decided=audit,
    )
    return _views(services, [record])[0]


def confirm(services: Services, actor: Actor, candidate_id: str, reason: str | None = None) -> CandidateView:
    return decide(services, actor, candidate_id, "confirm", reason)


def reject(services: Services, actor: Actor, candidate_id: str, reason: str | None) -> CandidateView:
    return decide(services, actor, candidate_id, "reject", reason)
