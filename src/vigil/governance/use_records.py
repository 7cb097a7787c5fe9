"""The audit records of watchlist, hotlist and candidate changes, written alike by every door.

The API and the command line record the same use with the same action, object and detail, so
the transparency report and the audit filters count both; these hooks are that one definition.
Each runs inside the store transaction that makes the change (the stores' ``on_written`` and
``on_decided`` parameters), so a change and its record are written together or not at all.
Who is recorded is the ``auditor``'s business: the signed-in user for the API, ``cli:<name>``
for the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from vigil.store.audit import AuditEntry, append_audit
from vigil.store.candidates import CandidateRecord
from vigil.store.faces import SubjectRecord


class EntryMaker(Protocol):
    """Builds an audit entry for the person acting (the API's ``Auditor``, the CLI's ``CliAuditor``)."""

    def entry(
        self,
        action: str,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        camera_id: str | None = None,
        reason: str | None = None,
        **detail: Any,
    ) -> AuditEntry: ...


@dataclass(frozen=True, slots=True)
class SubjectEnrolled:
    """``watchlist.enrol`` (reason: the legal basis; the references' provenance in the detail)."""

    auditor: EntryMaker

    def __call__(self, session: Session, record: SubjectRecord) -> None:
        append_audit(
            session,
            self.auditor.entry(
                "watchlist.enrol",
                object_type="face_subject",
                object_id=record.subject_id,
                reason=record.legal_basis,
                authorised_by=record.authorised_by,
                expires_at=record.expires_at.isoformat(),
                reference_images=len(record.references),
                provenance=[r.provenance for r in record.references],
            ),
        )


@dataclass(frozen=True, slots=True)
class SubjectRemoved:
    """``watchlist.remove`` or ``watchlist.purge_expired``, one record per subject; ``counted``
    collects each subject's number of reference images for the caller's reply."""

    auditor: EntryMaker
    action: str
    reason: str | None
    counted: list[int] | None = None

    def __call__(self, session: Session, record: SubjectRecord) -> None:
        if self.counted is not None:
            self.counted.append(len(record.references))
        append_audit(
            session,
            self.auditor.entry(
                self.action,
                object_type="face_subject",
                object_id=record.subject_id,
                reason=self.reason,
                reference_images=len(record.references),
                expires_at=record.expires_at.isoformat(),
            ),
        )


@dataclass(frozen=True, slots=True)
class CandidateDecided:
    """``candidate.decide`` with the decision and the candidate's status after it."""

    auditor: EntryMaker
    decision: str
    reason: str | None

    def __call__(self, session: Session, record: CandidateRecord) -> None:
        append_audit(
            session,
            self.auditor.entry(
                "candidate.decide",
                object_type="candidate",
                object_id=record.candidate_id,
                camera_id=record.camera_id,
                reason=self.reason,
                decision=self.decision,
                status=record.status,
            ),
        )
