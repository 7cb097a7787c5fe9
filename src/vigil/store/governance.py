"""Every governance repository over one engine (``Store.governance``).

Each domain keeps its tables, records and repository in its own module, and callers import from
there: :mod:`vigil.store.audit` (the hash chain), :mod:`vigil.store.users`, :mod:`vigil.store.auth`
(sessions, API tokens), :mod:`vigil.store.logins` (sign-in throttling), :mod:`vigil.store.cases`,
:mod:`vigil.store.policies`, :mod:`vigil.store.dead_letters`, :mod:`vigil.store.retention`,
:mod:`vigil.store.media_index` and :mod:`vigil.store.reports`. This module only gathers them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from vigil.store.audit import AuditRepository
from vigil.store.auth import AuthRepository
from vigil.store.cases import CaseRepository
from vigil.store.dead_letters import DeadLetterRepository
from vigil.store.logins import LoginThrottleRepository
from vigil.store.media_index import MediaIndexRepository
from vigil.store.policies import PolicyRepository
from vigil.store.reports import ReportRepository
from vigil.store.retention import RetentionRepository
from vigil.store.users import UserRepository

__all__ = ["GovernanceStore"]


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
