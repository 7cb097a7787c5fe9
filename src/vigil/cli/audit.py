"""Audit records for what people do from the command line.

The command line reaches the same personal data as the API (hotlists, plate reads, watchlists,
candidates), so it leaves the same trail in the hash-chained audit log: the same action names,
so the transparency report counts them too, with ``via: cli`` and the operating-system account
beside the person named with ``--by``. A change and its audit record are written in one
transaction (through the stores' ``on_written`` / ``on_decided`` hooks), so neither exists
without the other; a read is recorded once it has been made.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from vigil.core.errors import InputError
from vigil.services.actor import system_actor_name
from vigil.store.audit import AuditEntry, AuditRecord, append_audit
from vigil.store.facade import Store

CLI_VIA = "cli"
ACTOR_PREFIX = "cli:"
"""Actors from the command line are ``cli:<name>``, as the retention job is ``system:retention``:
a name typed at a shell is not an authenticated account, and the record says so."""

MIN_NAME_CHARS = 2
MAX_NAME_CHARS = 100
"""The audit log's actor column holds 128 characters, ``cli:`` included."""


def os_account() -> str:
    """The operating-system account running the command ('unknown' when it has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return "unknown"


def person(by: str | None, option: str = "--by") -> str:
    """The person named with ``--by``, stripped.

    Raises:
        InputError: no name, one shorter than two characters, or one longer than 100.
    """
    name = (by or "").strip()
    if len(name) < MIN_NAME_CHARS:
        raise InputError(f"{option} needs your name (at least {MIN_NAME_CHARS} characters): who does this is recorded")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"{option} is {len(name)} characters long; a name may have at most {MAX_NAME_CHARS}")
    return name


def need_reason(reason: str | None, minimum: int, what: str) -> str:
    """The stripped ``--reason``, as the API asks for the same action (``governance.min_reason_chars``).

    Raises:
        InputError: no reason, or a shorter one.
    """
    text = (reason or "").strip()
    if len(text) < minimum:
        raise InputError(f"{what} needs --reason (at least {minimum} characters): it is recorded in the audit log")
    return text


@dataclass(frozen=True, slots=True)
class CliAuditor:
    """Writes audit records for one command-line user.

    Attributes:
        name: the person (``--by``), or the OS account when the command names nobody.
        os_user: the operating-system account that ran the command.
    """

    name: str
    os_user: str
    prefix: str = ACTOR_PREFIX

    @classmethod
    def job(cls, job: str) -> CliAuditor:
        """A scripted job run from the command line (``vigil demo``): recorded as ``system:<job>``
        beside the OS account that ran it, never under a person's typed name (a typed name is not an
        identity, ACCOUNTABILITY.md)."""
        return cls(job, os_account()[:MAX_NAME_CHARS], prefix=system_actor_name(""))

    @classmethod
    def of(cls, by: str | None = None) -> CliAuditor:
        """The auditor for ``--by`` NAME, or for the OS account when no name was given."""
        account = os_account()[:MAX_NAME_CHARS]
        name = (by or "").strip()
        return cls(person(name) if name else account, account)

    @property
    def actor(self) -> str:
        return self.prefix + self.name

    def entry(
        self,
        action: str,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        camera_id: str | None = None,
        reason: str | None = None,
        **detail: Any,
    ) -> AuditEntry:
        return AuditEntry(
            actor=self.actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            camera_id=camera_id,
            reason=reason,
            detail={"via": CLI_VIA, "os_user": self.os_user, **detail},
        )

    def append(self, session: Session, action: str, **kwargs: Any) -> None:
        """Append a record inside a store's transaction (from an ``on_written`` hook)."""
        append_audit(session, self.entry(action, **kwargs))

    def record(self, store: Store, action: str, **kwargs: Any) -> AuditRecord:
        """Append a record on its own (a read that has been made)."""
        return store.governance.audit.append(self.entry(action, **kwargs))
