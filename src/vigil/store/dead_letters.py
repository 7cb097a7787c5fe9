"""Alerts that could not be delivered after every retry, kept for an operator to see."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.clock import utcnow
from vigil.store.session import _check_page, _transaction
from vigil.store.tables import Base, UTCDateTime


class DeadLetterRow(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_dead_letters_created_at", "created_at"),)


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    id: int
    channel: str
    target: str
    payload: dict[str, Any]
    error: str
    attempts: int
    created_at: datetime


class DeadLetterRepository:
    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def add(self, *, channel: str, target: str, payload: dict[str, Any], error: str, attempts: int) -> None:
        with _transaction(self._write_sessions, "recording a dead letter") as session:
            session.add(
                DeadLetterRow(
                    channel=channel,
                    target=target,
                    payload=payload,
                    error=error[:2000],
                    attempts=attempts,
                    created_at=utcnow(),
                )
            )

    def list(self, *, limit: int = 100) -> builtins.list[DeadLetterRecord]:
        _check_page(limit, 0)
        with _transaction(self._sessions, "listing dead letters") as session:
            rows = session.scalars(select(DeadLetterRow).order_by(DeadLetterRow.id).limit(limit))
            return [
                DeadLetterRecord(r.id, r.channel, r.target, r.payload, r.error, r.attempts, r.created_at) for r in rows
            ]
