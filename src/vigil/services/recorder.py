"""The one mechanism by which services record what people do.

A :class:`Recorder` is bound to one authenticated :data:`~vigil.services.actor.Actor`; every
audit record a service writes is built by :meth:`Recorder.entry`, so the actor, the door
(``via``) and the field layout are the same whichever door (API, web UI, CLI) was used.

* A **change** and its record are written in one transaction: the service passes
  :meth:`Recorder.hook` (or :meth:`Recorder.entry`) to the repository method that makes the
  change, and the repository appends the record with :func:`vigil.store.audit.append_audit`
  inside its own transaction (``on_written`` / ``on_decided`` / ``audit=``). So a change is
  never stored without its record, nor a record without its change.
* A **read** of personal data is recorded once it has been made (:meth:`Recorder.read`).
* A **refused attempt** (wrong role, camera out of scope) is recorded before the refusal is
  raised (:meth:`Recorder.allow`), as ``access.denied`` naming the action that was attempted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from vigil.core.errors import AccessDeniedError
from vigil.governance.roles import require
from vigil.services.actor import Actor
from vigil.store.audit import AuditEntry, AuditRecord, append_audit
from vigil.store.facade import Store

R = TypeVar("R")

DENIED = "access.denied"
"""The action of a refused attempt's record; ``detail.attempted`` names what was refused."""


@dataclass(frozen=True, slots=True)
class Recorder:
    """Builds and writes the audit records of one actor."""

    store: Store
    actor: Actor

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
        """The record of ``action`` by this actor (``detail.via`` says which door)."""
        door: dict[str, Any] = {"via": self.actor.via}
        if self.actor.os_user is not None:
            door["os_user"] = self.actor.os_user
        return AuditEntry(
            actor=self.actor.username,
            action=action,
            object_type=object_type,
            object_id=object_id,
            camera_id=camera_id,
            reason=reason,
            detail={**door, **detail},
        )

    def within(self, session: Session, action: str, **kwargs: Any) -> AuditRecord:
        """Append a record inside ``session``'s transaction (the one making the change)."""
        return append_audit(session, self.entry(action, **kwargs))

    def hook(self, describe: Callable[[R], AuditEntry]) -> Callable[[Session, R], None]:
        """An ``on_written`` hook: appends ``describe(record)`` in the change's transaction."""

        def write(session: Session, record: R) -> None:
            append_audit(session, describe(record))

        return write

    def hook_each(self, describe: Callable[[R], AuditEntry]) -> Callable[[Session, Sequence[R]], None]:
        """An ``on_written`` hook for a batch: one record per item, in the change's transaction."""

        def write(session: Session, records: Sequence[R]) -> None:
            for record in records:
                append_audit(session, describe(record))

        return write

    def read(self, action: str, **kwargs: Any) -> AuditRecord:
        """Record a read that has been made (its own transaction)."""
        return self.store.governance.audit.append(self.entry(action, **kwargs))

    record = read
    """The API's older name for :meth:`read`."""

    @property
    def principal(self) -> Actor:
        """The actor (the API's older name for it)."""
        return self.actor

    def allow(
        self,
        action: str,
        *,
        camera_id: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        **detail: Any,
    ) -> None:
        """Check the actor's role (and camera scope); a refusal is recorded, then raised.

        ``detail`` says what was asked (recorded only with a refusal).

        Raises:
            AccessDeniedError: the role may not ``action``, or ``camera_id`` is out of scope.
        """
        try:
            require(self.actor, action, camera_id)
        except AccessDeniedError as exc:
            self.refused(action, exc, camera_id=camera_id, object_type=object_type, object_id=object_id, **detail)
            raise

    def refused(
        self,
        attempted: str,
        error: AccessDeniedError,
        *,
        camera_id: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        **detail: Any,
    ) -> AuditRecord:
        """Record a refused attempt (``access.denied``) in its own transaction."""
        error.recorded = True
        return self.read(
            DENIED,
            object_type=object_type,
            object_id=object_id,
            camera_id=camera_id,
            attempted=attempted,
            code=error.code,
            refusal=str(error),
            **detail,
        )
