"""Engines per dialect, the unit of work, and the `DbSession` type alias.

The request dependency and `session_scope()` share one rule: commit when the work returns,
roll back when it raises. Services only ever `flush()`, so a failed batch writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from practice_dashboard.config import Settings

DbSession = Session
SessionFactory = sessionmaker[Session]


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Make SQLite fit a multi-user server: WAL, foreign keys, busy timeout, BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so our BEGIN below is the only one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Almost every request writes (client reads are audited), so every transaction takes the
        # write lock up front: a writer then waits on busy_timeout instead of failing later with
        # "database is locked" when a deferred transaction tries to upgrade.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=settings.log_sql,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("", "psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(
        url,
        echo=settings.log_sql,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
    )


def create_session_factory(engine: Engine) -> SessionFactory:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def session_scope(factory: SessionFactory) -> Iterator[Session]:
    """One unit of work for the CLI and the demo loader: commit on success, roll back on error."""
    db = factory()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


@contextmanager
def separate_transaction(db: Session) -> Iterator[Session]:
    """A short transaction of its own on `db`'s database, committed when the block ends.

    For the few records that must outlive the request's rollback (failed logins). It must run
    while `db` holds no transaction: on SQLite that transaction would hold the write lock this
    one waits for; in the tests (one connection, savepoints) this one would nest inside it.
    """
    if db.in_transaction():
        raise RuntimeError("separate_transaction() while the unit of work is in a transaction")
    side = Session(
        bind=db.get_bind(),
        expire_on_commit=False,
        autoflush=False,
        # Tests bind the app to one connection: commit then only releases a savepoint.
        join_transaction_mode="create_savepoint",
    )
    try:
        yield side
        side.commit()
    except BaseException:
        side.rollback()
        raise
    finally:
        side.close()
