"""``Store``: one engine and its repositories, opened and migrated together."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from vigil.store.candidates import CandidateRepository
from vigil.store.crowd import CrowdRepository
from vigil.store.engine import open_engine, writer
from vigil.store.faces import FacesRepository
from vigil.store.governance import GovernanceStore
from vigil.store.migrate import migrate as run_migrations
from vigil.store.plates import PlatesRepository
from vigil.store.repositories import EventRepository, HealthRepository, TrackRepository


class Store:
    """The event store. ``Store.open(url)`` in the app; close it (or use ``with``) at shutdown."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        sessions = sessionmaker(engine, expire_on_commit=False)
        write_sessions = sessionmaker(writer(engine), expire_on_commit=False)
        self.events = EventRepository(sessions, write_sessions)
        self.tracks = TrackRepository(sessions)
        self.health = HealthRepository(sessions, write_sessions)
        self.candidates = CandidateRepository(sessions, write_sessions)
        self.faces = FacesRepository(sessions, write_sessions)
        self.plates = PlatesRepository(sessions, write_sessions)
        self.crowd = CrowdRepository(sessions, write_sessions)
        self.governance = GovernanceStore(sessions, write_sessions)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Self:
        """Open ``url`` and (by default) upgrade its schema to the newest revision.

        Raises:
            DataDirError: the SQLite file's directory is not writable.
            StoreError: the database is unreachable or the migration failed.
        """
        engine = open_engine(url)
        try:
            if migrate:
                run_migrations(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
