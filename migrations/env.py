"""Alembic environment: one history for SQLite and PostgreSQL.

The connection comes from `config.attributes["connection"]` when a caller (the CLI, the tests)
already has one, otherwise from the application's settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine
from practice_dashboard.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    settings = Settings(environment="development", secret_key="m" * 40)
    url = config.get_main_option("sqlalchemy.url") or settings.database_url
    engine = create_db_engine(settings.model_copy(update={"database_url": url}))
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run against a database.")
run_migrations_online()
