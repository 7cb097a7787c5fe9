"""Alembic environment for Vigil's store.

Vigil runs migrations programmatically (``vigil.store.migrate.migrate``), passing an open
connection in ``config.attributes["connection"]``. For developers, ``alembic -c
src/vigil/store/migrations/alembic.ini revision --autogenerate`` works with ``-x url=...``.
No ``fileConfig`` here: the application owns logging.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from vigil.store.schema import metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass -x url=sqlite:///path/vigil.db")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run them against a database")
run_migrations_online()
