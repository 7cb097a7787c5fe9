"""Every governance repository over one engine (``Store.governance``).

Each domain keeps its tables, records and repository in its own module: :mod:`vigil.store.audit`
(the hash chain), :mod:`vigil.store.users`, :mod:`vigil.store.auth` (sessions, API tokens, login
attempts), :mod:`vigil.store.cases`, :mod:`vigil.store.policies`, :mod:`vigil.store.dead_letters`,
:mod:`vigil.store.retention`, :mod:`vigil.store.media_index` and :mod:`vigil.store.reports`. The
names below are re-exported so older imports keep working; new code imports the domain module.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from vigil.store.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    AuditRepository,
    AuditRow,
    append_audit,
    canonical_content,
    chain_hash,
    record_entry,
)
from vigil.store.auth import ApiTokenRow, AuthRepository, LoginAttemptRow, SessionRecord, SessionRow, TokenRecord
from vigil.store.cases import CaseItemRecord, CaseItemRow, CaseRecord, CaseRepository, CaseRow
from vigil.store.dead_letters import DeadLetterRecord, DeadLetterRepository, DeadLetterRow
from vigil.store.logins import LoginThrottleRepository
from vigil.store.media_index import MediaIndexRepository
from vigil.store.policies import PolicyRecord, PolicyRepository, PolicyRow
from vigil.store.reports import ReportRepository
from vigil.store.retention import PurgeCutoffs, PurgeResult, RetentionRepository
from vigil.store.users import UserRecord, UserRepository, UserRow

__all__ = [
    "GENESIS_HASH",
    "ApiTokenRow",
    "AuditEntry",
    "AuditRecord",
    "AuditRepository",
    "AuditRow",
    "AuthRepository",
    "CaseItemRecord",
    "CaseItemRow",
    "CaseRecord",
    "CaseRepository",
    "CaseRow",
    "DeadLetterRecord",
    "DeadLetterRepository",
    "DeadLetterRow",
    "GovernanceStore",
    "LoginAttemptRow",
    "MediaIndexRepository",
    "PolicyRecord",
    "PolicyRepository",
    "PolicyRow",
    "PurgeCutoffs",
    "PurgeResult",
    "ReportRepository",
    "RetentionRepository",
    "SessionRecord",
    "SessionRow",
    "TokenRecord",
    "UserRecord",
    "UserRepository",
    "UserRow",
    "append_audit",
    "canonical_content",
    "chain_hash",
    "record_entry",
]


class GovernanceStore:
    """Every governance repository over one engine (``Store.governance``)."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self.users = UserRepository(sessions, write_sessions)
        self.auth = AuthRepository(sessions, write_sessions)
        self.logins = LoginThrottleRepository(sessions, write_sessions)
        self.audit = AuditRepository(sessions, write_sessions)
        self.cases = CaseRepository(sessions, write_sessions)
        self.policies = PolicyRepository(sessions, write_sessions)
        self.dead_letters = DeadLetterRepository(sessions, write_sessions)
        self.retention = RetentionRepository(sessions, write_sessions)
        self.media_index = MediaIndexRepository(sessions)
        self.reports = ReportRepository(sessions)
