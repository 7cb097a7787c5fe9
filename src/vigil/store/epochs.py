"""The newest lease epoch the indexers have stored for each camera (scale-out).

The indexer's epoch fence (``workers/indexer.py``) refuses a stale holder's events and ends the
tracks a taken-over worker left open. It needs the newest epoch per camera, and that memory must
outlive the process: an indexer restarted after a takeover (or a second indexer that never saw the
old epoch) would otherwise meet the new epoch as the first it knows, and neither end the orphaned
tracks nor refuse the old holder. So the fence starts from this table and raises it after every
batch that brought a newer epoch, once that batch's orphans are ended: a crash in between makes the
next start see the takeover again, and ending orphans is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import BigInteger, Float, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.store.session import _transaction
from vigil.store.tables import Base

EpochSince = tuple[int, float]
"""(epoch, when that lease began: seconds since the epoch, as the worker stamped it)."""


class CameraEpochRow(Base):
    __tablename__ = "camera_epochs"

    camera_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger)
    since: Mapped[float] = mapped_column(Float)


class EpochRepository:
    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def newest(self) -> dict[str, EpochSince]:
        """Every camera's newest stored epoch."""
        with _transaction(self._sessions, "reading lease epochs") as session:
            return {r.camera_id: (r.epoch, r.since) for r in session.scalars(select(CameraEpochRow))}

    def raise_to(self, epochs: Mapping[str, EpochSince]) -> None:
        """Store each camera's epoch unless a newer one is stored already (several indexers)."""
        if not epochs:
            return
        rows = [{"camera_id": c, "epoch": e, "since": s} for c, (e, s) in sorted(epochs.items())]
        with _transaction(self._write_sessions, "storing lease epochs") as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = insert(CameraEpochRow).values(rows)
            stmt = stmt.on_conflict_do_update(
                index_elements=[CameraEpochRow.camera_id],
                set_={"epoch": stmt.excluded.epoch, "since": stmt.excluded.since},
                where=CameraEpochRow.epoch < stmt.excluded.epoch,
            )
            session.execute(stmt)
