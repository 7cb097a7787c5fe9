"""Engine, migrations and data-dir errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from vigil.core.errors import DataDirError, StoreError
from vigil.store import Store, current_revision, head_revision, migrate, open_engine
from vigil.store.schema import metadata as schema_metadata


def test_migrations_create_exactly_the_model_schema(database_url: str) -> None:
    engine = open_engine(database_url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        migrate(engine)  # a second run is a no-op
        assert current_revision(engine) == head_revision()
        # PostgreSQL's time partitions (store/partitions.py) are not model tables.
        with engine.connect() as conn:
            parts = (
                set(conn.execute(text("SELECT relname FROM pg_class WHERE relispartition")).scalars())
                if (engine.dialect.name == "postgresql")
                else set()
            )
        assert set(inspect(engine).get_table_names()) - parts == {"alembic_version", *schema_metadata.tables}
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, kind, _parent: not (kind == "table" and name in parts),
                },
            )
            assert compare_metadata(context, schema_metadata) == []
    finally:
        engine.dispose()


def test_migrate_does_not_need_alembic_ini_in_cwd(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Store.open(database_url) as store:
        assert store.events.count() == 0


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'vigil.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        assert (tmp_path / "a" / "b" / "vigil.db").exists()
    finally:
        engine.dispose()


def test_unwritable_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    # Root ignores permission bits, so use a path below a regular file: that fails for anyone.
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    with pytest.raises(DataDirError, match=r"data directory .*file\.txt/sub is not writable") as info:
        open_engine(f"sqlite:///{blocker / 'sub' / 'vigil.db'}")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://localhost/x", "unsupported database 'mysql'"),
        ("not a url", "invalid database URL"),
    ],
)
def test_bad_urls_raise_store_error(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        open_engine(url)


def test_unreachable_postgres_raises_store_error() -> None:
    with pytest.raises(StoreError, match="migration"):
        Store.open("postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2")
