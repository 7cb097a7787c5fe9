"""Engine factory: SQLite (embedded, under the data dir) or PostgreSQL (scale-out)."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from vigil.core.errors import DataDirError, StoreError

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another one (the indexer and the API share the file)."""


def ensure_writable_dir(path: Path) -> None:
    """Create ``path`` (and parents) and prove it is writable by writing a probe file.

    A probe, not ``os.access``: root passes every permission check, but not a read-only
    mount or a path below a regular file.

    Raises:
        DataDirError: one line naming ``path`` and the reason.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".vigil-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DataDirError(f"data directory {path} is not writable: {exc.strerror or exc}") from exc


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Take transaction control from pysqlite (which delays BEGIN until the first write), so a
    # SQLAlchemy transaction is one real SQLite transaction: reads inside it are consistent.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if cursor.execute("PRAGMA database_list").fetchone()[2]:  # a file, not :memory:
            # WAL: the API reads while the indexer writes.
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


WRITE_OPTIONS = {"vigil_write": True}
"""Execution options for a transaction that will write (see :func:`writer`)."""


def _sqlite_on_begin(conn: Any) -> None:
    # A writer takes the write lock up front (IMMEDIATE): a deferred transaction that reads and
    # then writes gets SQLITE_BUSY at once if another writer committed meanwhile (busy_timeout
    # does not help there). Readers stay deferred so they never wait for the indexer in WAL mode.
    immediate = conn.get_execution_options().get("vigil_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Engine:
    """``engine`` for transactions that write (same pool; SQLite begins them IMMEDIATE)."""
    return engine.execution_options(**WRITE_OPTIONS)


def open_engine(url: str) -> Engine:
    """Create an engine for ``url`` (``sqlite:///path.db`` or ``postgresql+psycopg://...``).

    SQLite: creates the database's parent directory and sets WAL, foreign keys and a busy
    timeout on every connection.

    Raises:
        DataDirError: the SQLite file's directory cannot be created or written.
        StoreError: the URL is malformed or names an unsupported/uninstalled driver.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {url!r}: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"unsupported database {backend!r} in {url!r}; expected sqlite or postgresql")
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        ensure_writable_dir(Path(parsed.database).expanduser().resolve().parent)
    try:
        if backend == "sqlite":
            if parsed.database in (None, "", ":memory:"):
                # One shared connection, or each thread (e.g. a bus dispatcher) would see its
                # own empty in-memory database.
                engine = create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
            else:
                engine = create_engine(parsed)
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"cannot create a database engine for {parsed.render_as_string()}: {exc}") from exc
    return engine
