"""``Store``: one engine and its repositories, opened and migrated together."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from vigil.config import VigilConfig
from vigil.store.audit import AUDIT_SIGNER_INFO
from vigil.store.audit_keys import AuditSigner, audit_key_file, default_key_file
from vigil.store.candidates import CandidateRepository
from vigil.store.clips import ClipRepository
from vigil.store.crowd import CrowdRepository
from vigil.store.engine import open_engine, writer
from vigil.store.epochs import EpochRepository
from vigil.store.explore import ExploreRepository
from vigil.store.faces import FacesRepository
from vigil.store.governance import GovernanceStore
from vigil.store.migrate import migrate as run_migrations
from vigil.store.partitions import PartitionManager
from vigil.store.plates import PlatesRepository
from vigil.store.repositories import EventRepository, HealthRepository, TrackRepository


class Store:
    """The event store. ``Store.open(url)`` in the app; close it (or use ``with``) at shutdown."""

    def __init__(self, engine: Engine, audit_signer: AuditSigner | None = None, *, partition_hours: int = 24) -> None:
        self.engine = engine
        self.audit_signer = audit_signer
        # Every session carries the signer, so every audit record appended through it is
        # signed, whichever repository or service appends it (see store.audit.append_audit).
        info = {AUDIT_SIGNER_INFO: audit_signer} if audit_signer is not None else {}
        sessions = sessionmaker(engine, expire_on_commit=False, info=info)
        write_sessions = sessionmaker(writer(engine), expire_on_commit=False, info=info)
        self.partitions = PartitionManager(engine, partition_hours)
        """Time partitions of the high-volume tables (PostgreSQL; does nothing on SQLite)."""
        self.events = EventRepository(sessions, write_sessions, self.partitions)
        self.tracks = TrackRepository(sessions)
        self.health = HealthRepository(sessions, write_sessions)
        self.candidates = CandidateRepository(sessions, write_sessions)
        self.faces = FacesRepository(sessions, write_sessions)
        self.plates = PlatesRepository(sessions, write_sessions)
        self.crowd = CrowdRepository(sessions, write_sessions)
        self.clips = ClipRepository(sessions)
        self.epochs = EpochRepository(sessions, write_sessions)
        """The newest lease epoch per camera (the scale-out indexer's fence)."""
        self.explore = ExploreRepository(sessions)
        self.governance = GovernanceStore(sessions, write_sessions)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, audit_key: Path | None = None, partition_hours: int = 24) -> Self:
        """Open ``url`` and (by default) upgrade its schema to the newest revision.

        ``audit_key`` is the file of the key that signs audit records (created on first use);
        by default ``VIGIL_AUDIT_KEY_FILE``, else ``keys/audit-signing.key`` beside a SQLite
        file. A PostgreSQL store opened without one appends unsigned records, which
        ``vigil audit verify`` reports. ``partition_hours`` is the size of the time partitions
        this process creates on PostgreSQL (``store.partition_hours``).

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
        key = audit_key if audit_key is not None else default_key_file(url)
        return cls(engine, AuditSigner(key) if key is not None else None, partition_hours=partition_hours)

    @classmethod
    def for_config(cls, cfg: VigilConfig, *, migrate: bool = True) -> Self:
        """:meth:`open` the deployment's store with its audit key (``<data_dir>/keys``, on
        PostgreSQL too)."""
        return cls.open(
            cfg.store_url, migrate=migrate, audit_key=audit_key_file(cfg), partition_hours=cfg.store.partition_hours
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
