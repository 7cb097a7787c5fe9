"""Store fixtures: every store test runs against SQLite and PostgreSQL.

PostgreSQL gets one fresh, uniquely named database per test session (dropped at the end) and a
fresh ``public`` schema per test; tests skip with the reason when the server is unreachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from vigil.store import Store

# Override to point the suite at another server (e.g. in CI).
PG_ADMIN_DSN = os.environ.get("VIGIL_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """``postgresql+psycopg://`` URL of a throwaway database for this session."""
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_DSN} ({first_line})")
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield str(make_url(PG_ADMIN_DSN).set(drivername="postgresql+psycopg", database=name))
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _reset_pg_schema(url: str) -> None:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file under tmp_path, or a clean PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'vigil.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    _reset_pg_schema(url)
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each engine."""
    with Store.open(database_url) as opened:
        yield opened
